package unet

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/levy-ml/levy/losses"
	"github.com/levy-ml/levy/nn"
)

// Optim is the optimiser: PyTorch's AdamW, gradient-norm clipping and a
// step learning-rate schedule (docs/algorithms.md §8.1).
type Optim struct {
	AdamW nn.AdamW
	// ClipNorm scales the gradients down to this global L2 norm when they
	// exceed it (0: no clipping).
	ClipNorm float64
	// LR is multiplied by LRDecay every LRDecayEvery steps (PyTorch's
	// StepLR stepped once per optimiser step; LRDecay 0 or 1: constant).
	LRDecay      float64
	LRDecayEvery int
}

// Validate reports the first bad field.
func (o Optim) Validate() error {
	if err := o.AdamW.Validate(); err != nil {
		return err
	}
	switch {
	case !(o.ClipNorm >= 0) || math.IsInf(o.ClipNorm, 0):
		return fmt.Errorf("unet: Optim.ClipNorm = %v, want ≥ 0", o.ClipNorm)
	case !(o.LRDecay >= 0 && o.LRDecay <= 1):
		return fmt.Errorf("unet: Optim.LRDecay = %v, want [0, 1]", o.LRDecay)
	case o.LRDecay > 0 && o.LRDecay < 1 && o.LRDecayEvery < 1:
		return fmt.Errorf("unet: Optim.LRDecayEvery = %d, want ≥ 1", o.LRDecayEvery)
	}
	return nil
}

// LRAt is the learning rate of the step-th update (from 1).
func (o Optim) LRAt(step int64) float64 {
	if o.LRDecay <= 0 || o.LRDecay >= 1 {
		return o.AdamW.LR
	}
	return o.AdamW.LR * math.Pow(o.LRDecay, float64((step-1)/int64(o.LRDecayEvery)))
}

// Trainer trains a Model: Gradients accumulates the gradient of a batch,
// Apply takes an optimiser step; between the two, Grads may be averaged
// in place (data-parallel all-reduce).
type Trainer struct {
	m      *Model
	loss   losses.Kind
	opt    Optim
	graphs map[int]*graph[float32]
	state  *nn.Optimizer
	// Dropout draws the dropout masks (nil: a fixed stream; set it per
	// step from (seed, rank, step) for reproducible runs).
	Dropout *rand.Rand
	// LastNorm is the global gradient norm seen by the last Apply (before
	// clipping).
	LastNorm float64
}

// NewTrainer returns a trainer of m with the loss kind and optimiser.
func NewTrainer(m *Model, loss losses.Kind, opt Optim) (*Trainer, error) {
	if _, err := losses.ParseKind(string(loss)); err != nil {
		return nil, err
	}
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	return &Trainer{m: m, loss: loss, opt: opt, graphs: map[int]*graph[float32]{},
		state: nn.NewOptimizer(m.flat, m.params), Dropout: rand.New(rand.NewPCG(1, 2))}, nil
}

// graph is the network (and, for training, loss and backward) for one
// batch size.
type graph[F float] struct {
	g      *G.ExprGraph
	in     inputs
	out    *G.Node
	target *G.Node
	loss   *G.Node
	grads  G.Nodes
	masks  []*G.Node
	vm     G.VM
}

// buildGraph builds the graph for batch n over m's weights: in float32
// the parameter nodes alias them, in float64 they hold copies. With loss
// empty it builds the forward pass only.
func buildGraph[F float](m *Model, n int, loss losses.Kind) (*graph[F], error) {
	b := &builder[F]{g: nn.NewGraph(), cfg: m.cfg, B: n, train: loss != ""}
	for _, p := range m.params {
		var v *tensor.Dense
		switch any(F(0)).(type) {
		case float32:
			v = tensor.New(tensor.WithShape(p.Shape...), tensor.WithBacking(p.Data))
		default:
			d := make([]float64, len(p.Data))
			for i, w := range p.Data {
				d[i] = float64(w)
			}
			v = tensor.New(tensor.WithShape(p.Shape...), tensor.WithBacking(d))
		}
		b.values = append(b.values, v)
	}
	in, out := b.net()
	if b.err != nil {
		return nil, b.err
	}
	gr := &graph[F]{g: b.g, in: in, out: out, masks: b.masks}
	if loss != "" {
		s := out.Shape()
		d := s[1] * s[2] * s[3]
		dt := nn.Dtype[F]()
		gr.target = G.NewMatrix(b.g, dt, G.WithShape(n, d), G.WithName("target"),
			G.WithValue(tensor.New(tensor.Of(dt), tensor.WithShape(n, d))))
		flat, err := G.Reshape(out, tensor.Shape{n, d})
		if err != nil {
			return nil, fmt.Errorf("unet: %w", err)
		}
		if gr.loss, err = losses.Graph(loss, flat, gr.target); err != nil {
			return nil, err
		}
		if gr.grads, err = G.Grad(gr.loss, b.params...); err != nil {
			return nil, fmt.Errorf("unet: differentiating the loss: %w", err)
		}
	}
	gr.vm = G.NewTapeMachine(b.g)
	return gr, nil
}

// load copies a batch into the graph's data nodes.
func (gr *graph[F]) load(m *Model, x, tau, target []float32, drop *rand.Rand, p float64) error {
	n := len(tau)
	c, s, mc := m.cfg.InChannels, m.cfg.ImageSize, m.cfg.ModelChannels
	if len(x) != n*c*s*s || (target != nil && len(target) != len(x)) {
		return fmt.Errorf("unet: batch of %d: len(x) = %d, len(target) = %d, want %d each", n, len(x), len(target), n*c*s*s)
	}
	put := func(node *G.Node, src []float32) {
		switch d := node.Value().Data().(type) {
		case []float32:
			copy(d, src)
		case []float64:
			for i, v := range src {
				d[i] = float64(v)
			}
		}
	}
	put(gr.in.x, x)
	temb := make([]float32, n*mc)
	TimeFeatures(temb, tau, mc)
	put(gr.in.temb, temb)
	if target != nil {
		put(gr.target, target)
	}
	for _, mk := range gr.masks {
		scale := 1 / (1 - p)
		switch d := mk.Value().Data().(type) {
		case []float32:
			for i := range d {
				d[i] = 0
				if drop.Float64() >= p {
					d[i] = float32(scale)
				}
			}
		case []float64:
			for i := range d {
				d[i] = 0
				if drop.Float64() >= p {
					d[i] = scale
				}
			}
		}
	}
	return nil
}

func (gr *graph[F]) run() error {
	gr.vm.Reset()
	if err := gr.vm.RunAll(); err != nil {
		return fmt.Errorf("unet: running the graph: %w", err)
	}
	return nil
}

// Gradients runs forward and backward on a batch of n = len(tau) images
// (x and target [n, C, H, W] flat, tau [n]) and adds the gradient of the
// loss to Grads. A non-finite loss or gradient returns an error wrapping
// nn.ErrNonFinite and leaves Grads untouched.
func (t *Trainer) Gradients(x, tau, target []float32) (float64, error) {
	n := len(tau)
	if n == 0 {
		return 0, errors.New("unet: Gradients: empty batch")
	}
	gr, ok := t.graphs[n]
	if !ok {
		var err error
		if gr, err = buildGraph[float32](t.m, n, t.loss); err != nil {
			return 0, err
		}
		t.graphs[n] = gr
	}
	if err := gr.load(t.m, x, tau, target, t.Dropout, t.m.cfg.Dropout); err != nil {
		return 0, err
	}
	if err := gr.run(); err != nil {
		return 0, err
	}
	loss := float64(gr.loss.Value().Data().(float32))
	return loss, t.state.Accumulate(loss, gr.grads)
}

// Grads returns the accumulated gradients in Params order; Data aliases
// the buffers Apply reads.
func (t *Trainer) Grads() []nn.Param { return t.state.Grads() }

// Apply clips the gradients to Optim.ClipNorm, takes one AdamW step at
// the scheduled learning rate and zeroes the gradients.
func (t *Trainer) Apply() error {
	grad := t.state.Gradient()
	var s float64
	for _, g := range grad {
		s += float64(g) * float64(g)
	}
	t.LastNorm = math.Sqrt(s)
	if c := t.opt.ClipNorm; c > 0 && t.LastNorm > c {
		f := float32(c / (t.LastNorm + 1e-6)) // PyTorch's clip_grad_norm_
		for i := range grad {
			grad[i] *= f
		}
	}
	o := t.opt.AdamW
	o.LR = t.opt.LRAt(t.state.Steps() + 1)
	t.state.Apply(o)
	return nil
}

// Step is Gradients then Apply.
func (t *Trainer) Step(x, tau, target []float32) (float64, error) {
	loss, err := t.Gradients(x, tau, target)
	if err != nil {
		return loss, err
	}
	return loss, t.Apply()
}

// State returns a copy of the optimiser state.
func (t *Trainer) State() nn.OptimState { return t.state.State() }

// SetState restores a state taken by State; on error nothing changes.
func (t *Trainer) SetState(s nn.OptimState) error { return t.state.SetState(s) }

// Close releases the graphs.
func (t *Trainer) Close() {
	for n, gr := range t.graphs {
		gr.vm.Close()
		delete(t.graphs, n)
	}
}

// Denoiser evaluates a Model (forward only) for sampling. It reads the
// weights at each call, so it follows a model that is being trained.
type Denoiser struct {
	m      *Model
	graphs map[int]*graph[float32]
}

// NewDenoiser returns a forward evaluator of m.
func NewDenoiser(m *Model) *Denoiser { return &Denoiser{m: m, graphs: map[int]*graph[float32]{}} }

// DenoiseChunk is the largest batch the Denoiser evaluates at once;
// larger batches go through in chunks (bounding the memory of the
// activations).
const DenoiseChunk = 32

// Denoise writes the network's output for x [n,C,H,W] at times tau [n]
// into out.
func (d *Denoiser) Denoise(out, x, tau []float32) error {
	n := len(tau)
	if n == 0 || len(x)%n != 0 || len(out) != len(x) {
		return fmt.Errorf("unet: Denoise: len(out) = %d, len(x) = %d, len(tau) = %d", len(out), len(x), n)
	}
	dim := len(x) / n
	for lo := 0; lo < n; lo += DenoiseChunk {
		hi := min(n, lo+DenoiseChunk)
		if err := d.denoise(out[lo*dim:hi*dim], x[lo*dim:hi*dim], tau[lo:hi]); err != nil {
			return err
		}
	}
	return nil
}

func (d *Denoiser) denoise(out, x, tau []float32) error {
	n := len(tau)
	gr, ok := d.graphs[n]
	if !ok {
		var err error
		if gr, err = buildGraph[float32](d.m, n, ""); err != nil {
			return err
		}
		d.graphs[n] = gr
	}
	if err := gr.load(d.m, x, tau, nil, nil, 0); err != nil {
		return err
	}
	if err := gr.run(); err != nil {
		return err
	}
	copy(out, gr.out.Value().Data().([]float32))
	return nil
}

// Close releases the graphs.
func (d *Denoiser) Close() {
	for n, gr := range d.graphs {
		gr.vm.Close()
		delete(d.graphs, n)
	}
}
