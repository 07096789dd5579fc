package mlp

import (
	"errors"
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ErrNonFinite is returned (wrapped) when a batch gives a NaN or
// infinite loss or gradient; the weights and gradients are then untouched.
var ErrNonFinite = errors.New("mlp: non-finite loss or gradient")

// LossFunc builds the scalar loss from the network output [B,Dim] and the
// target [B,Dim]. Only out needs to be differentiable.
type LossFunc func(out, target *G.Node) (*G.Node, error)

// Trainer trains a Model with AdamW on gorgonia tape machines, one graph
// per batch size. It is not safe for concurrent use.
type Trainer struct {
	m      *Model
	loss   LossFunc
	opt    AdamW
	graphs map[int]*stepGraph
	grad   []float32 // accumulated gradients, flat like the weights
	grads  []Param
	m1, m2 []float32
	step   int64
}

// stepGraph is the training graph for one batch size.
type stepGraph struct {
	g              *G.ExprGraph
	vm             G.VM
	x, tau, target []float32  // backing of the data nodes (float32 graphs)
	nodes          [3]*G.Node // x, tau, target
	params         G.Nodes
	out, loss      *G.Node
	grads          G.Nodes
}

// NewTrainer returns a trainer for m with the loss built by loss.
func NewTrainer(m *Model, loss LossFunc, opt AdamW) (*Trainer, error) {
	if m == nil || loss == nil {
		return nil, errors.New("mlp: NewTrainer: nil model or loss")
	}
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	n := len(m.flat)
	t := &Trainer{m: m, loss: loss, opt: opt, graphs: map[int]*stepGraph{},
		grad: make([]float32, n), m1: make([]float32, n), m2: make([]float32, n)}
	s, _ := specs(m.cfg)
	t.grads = paramsOver(s, t.grad)
	return t, nil
}

// graph returns the training graph for batch size n, building it once.
func (t *Trainer) graph(n int) (*stepGraph, error) {
	if sg, ok := t.graphs[n]; ok {
		return sg, nil
	}
	sg, err := buildStepGraph(t.m, t.loss, n, tensor.Float32)
	if err != nil {
		return nil, err
	}
	t.graphs[n] = sg
	return sg, nil
}

// buildStepGraph builds forward, loss and backward for batch n. In
// float32 the parameter nodes alias the model's weights; in float64
// (gradient checks) they hold copies.
func buildStepGraph(m *Model, loss LossFunc, n int, dt tensor.Dtype) (*stepGraph, error) {
	g := NewGraph()
	sg := &stepGraph{g: g}
	d := m.cfg.Dim
	data := func(name string, cols int) (*G.Node, []float32) {
		back := make([]float32, n*cols)
		var v *tensor.Dense
		if dt == tensor.Float32 {
			v = tensor.New(tensor.WithShape(n, cols), tensor.WithBacking(back))
		} else {
			v = tensor.New(tensor.Of(dt), tensor.WithShape(n, cols))
		}
		return G.NewMatrix(g, dt, G.WithShape(n, cols), G.WithName(name), G.WithValue(v)), back
	}
	var x, tau, target *G.Node
	x, sg.x = data("x", d)
	tau, sg.tau = data("tau", 1)
	target, sg.target = data("target", d)
	ps := make([]*G.Node, len(m.params))
	for i, p := range m.params {
		var v *tensor.Dense
		if dt == tensor.Float32 {
			v = tensor.New(tensor.WithShape(p.Shape...), tensor.WithBacking(p.Data))
		} else {
			b := make([]float64, len(p.Data))
			for j, w := range p.Data {
				b[j] = float64(w)
			}
			v = tensor.New(tensor.WithShape(p.Shape...), tensor.WithBacking(b))
		}
		ps[i] = G.NewTensor(g, dt, len(p.Shape), G.WithShape(p.Shape...), G.WithName(p.Name), G.WithValue(v))
	}
	out, err := netGraph(m.lay, ps, x, tau)
	if err != nil {
		return nil, fmt.Errorf("mlp: building the network: %w", err)
	}
	l, err := loss(out, target)
	if err != nil {
		return nil, fmt.Errorf("mlp: building the loss: %w", err)
	}
	if !l.IsScalar() {
		return nil, fmt.Errorf("mlp: the loss has shape %v, want a scalar", l.Shape())
	}
	if sg.grads, err = G.Grad(l, ps...); err != nil {
		return nil, fmt.Errorf("mlp: differentiating the loss: %w", err)
	}
	sg.out, sg.loss, sg.nodes, sg.params = out, l, [3]*G.Node{x, tau, target}, ps
	sg.vm = G.NewTapeMachine(g)
	return sg, nil
}

// run loads a batch into sg and runs forward and backward. The node
// values stay readable until the next run.
func (sg *stepGraph) run(x, tau, target []float32) (float64, error) {
	copy(sg.x, x)
	copy(sg.tau, tau)
	copy(sg.target, target)
	sg.vm.Reset()
	if err := sg.vm.RunAll(); err != nil {
		return 0, fmt.Errorf("mlp: running the training graph: %w", err)
	}
	switch v := sg.loss.Value().Data().(type) {
	case float32:
		return float64(v), nil
	case float64:
		return v, nil
	}
	return 0, fmt.Errorf("mlp: loss of type %T", sg.loss.Value().Data())
}

// Gradients runs forward and backward on a batch of n = len(tau) points
// (x and target [n,Dim]) and adds the gradient of the loss to Grads.
// A NaN or infinite loss or gradient returns an error wrapping
// ErrNonFinite and leaves Grads and the weights untouched.
func (t *Trainer) Gradients(x, tau, target []float32) (float64, error) {
	n, d := len(tau), t.m.cfg.Dim
	if n == 0 || len(x) != n*d || len(target) != n*d {
		return 0, fmt.Errorf("mlp: Gradients: len(x) = %d, len(tau) = %d, len(target) = %d: want %d·n, n > 0, %d·n",
			len(x), len(tau), len(target), d, d)
	}
	sg, err := t.graph(n)
	if err != nil {
		return 0, err
	}
	loss, err := sg.run(x, tau, target)
	if err != nil {
		return 0, err
	}
	return loss, AccumulateGrads(loss, sg.grads, t.grads)
}

// AccumulateGrads adds the float32 gradients held by nodes to grads
// (same order and sizes), unless the loss or any gradient is NaN or
// infinite: then it returns ErrNonFinite, naming the tensor, and leaves
// grads untouched.
func AccumulateGrads(loss float64, nodes G.Nodes, grads []Param) error {
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return fmt.Errorf("%w: loss = %v", ErrNonFinite, loss)
	}
	for i, gn := range nodes {
		for _, v := range gn.Value().Data().([]float32) {
			if v-v != 0 {
				return fmt.Errorf("%w: gradient of %s", ErrNonFinite, grads[i].Name)
			}
		}
	}
	for i, gn := range nodes {
		dst := grads[i].Data
		for j, v := range gn.Value().Data().([]float32) {
			dst[j] += v
		}
	}
	return nil
}

// Grads returns the accumulated gradients, in Params order and with its
// names and shapes. Data aliases the buffers Apply reads, so a caller
// may average them in place (all-reduce) between Gradients and Apply.
func (t *Trainer) Grads() []Param { return append([]Param(nil), t.grads...) }

// Apply takes one AdamW step with Grads and then zeroes them.
func (t *Trainer) Apply() error {
	t.step++
	t.opt.step(t.step, t.m.flat, t.grad, t.m1, t.m2)
	clear(t.grad)
	return nil
}

// Step is Gradients followed by Apply; on error nothing is applied.
func (t *Trainer) Step(x, tau, target []float32) (float64, error) {
	loss, err := t.Gradients(x, tau, target)
	if err != nil {
		return loss, err
	}
	return loss, t.Apply()
}

// State returns a copy of the optimiser state.
func (t *Trainer) State() OptimState {
	s := OptimState{Step: t.step}
	lo := 0
	for _, p := range t.grads {
		hi := lo + len(p.Data)
		s.M = append(s.M, append([]float32(nil), t.m1[lo:hi]...))
		s.V = append(s.V, append([]float32(nil), t.m2[lo:hi]...))
		lo = hi
	}
	return s
}

// SetState restores an optimiser state taken by State (for a model of
// the same configuration).
func (t *Trainer) SetState(s OptimState) error {
	if s.Step < 0 {
		return fmt.Errorf("mlp: SetState: Step = %d, want ≥ 0", s.Step)
	}
	if len(s.M) != len(t.grads) || len(s.V) != len(t.grads) {
		return fmt.Errorf("mlp: SetState: %d/%d moment tensors, want %d", len(s.M), len(s.V), len(t.grads))
	}
	for i, p := range t.grads {
		if len(s.M[i]) != len(p.Data) || len(s.V[i]) != len(p.Data) {
			return fmt.Errorf("mlp: SetState: moments of %s have %d/%d values, want %d",
				p.Name, len(s.M[i]), len(s.V[i]), len(p.Data))
		}
	}
	lo := 0
	for i, p := range t.grads {
		copy(t.m1[lo:], s.M[i])
		copy(t.m2[lo:], s.V[i])
		lo += len(p.Data)
	}
	t.step = s.Step
	return nil
}

// Close releases the graphs. The trainer must not be used afterwards.
func (t *Trainer) Close() {
	for n, sg := range t.graphs {
		sg.vm.Close()
		delete(t.graphs, n)
	}
}
