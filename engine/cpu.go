package engine

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/levy-ml/levy/job"
	"github.com/levy-ml/levy/losses"
	"github.com/levy-ml/levy/nn"
	"github.com/levy-ml/levy/nn/mlp"
	"github.com/levy-ml/levy/nn/unet"
	"github.com/levy-ml/levy/noise"
)

// trainer is what the CPU engine drives: mlp.Trainer and unet.Trainer.
type trainer interface {
	Gradients(x, tau, target []float32) (float64, error)
	Grads() []nn.Param
	Apply() error
	State() nn.OptimState
	SetState(nn.OptimState) error
	Close()
}

// cpu is the engine of the CPU networks: gorgonia graphs with levy's
// kernels. Its one bucket is the whole flat gradient (and the caller's
// reserve); the trainer's own gradient buffer is zero between calls.
type cpu struct {
	tr     trainer
	params []nn.Param // the live weights
	grads  []nn.Param // the trainer's gradient
	bucket []float32  // the gradient, then Reserve floats
	ema    []float32  // flat, in Layout order
	decay  float32
	lay    Layout
	// beginStep, if not nil, prepares the draws of a step (the U-Net's
	// dropout).
	beginStep func(Step)
}

// NewCPU returns the CPU engine of cfg's job: NewUNet for an image job,
// NewMLP otherwise (cfg.Device is not looked at).
func NewCPU(cfg Config) (Engine, error) {
	if cfg.Spec.IsImage() {
		return NewUNet(cfg)
	}
	return NewMLP(cfg)
}

// NewMLP returns the CPU engine of a 2-D job: the MLP of package mlp
// with AdamW.
func NewMLP(cfg Config) (Engine, error) {
	spec := cfg.Spec
	m, err := mlp.New(MLPConfig(spec), InitSeed(spec.Seed))
	if err != nil {
		return nil, err
	}
	nz, err := losses.NewNoiser(NoiseConfig(spec))
	if err != nil {
		return nil, err
	}
	kind := nz.Loss()
	tr, err := mlp.NewTrainer(m, func(out, target *G.Node) (*G.Node, error) {
		return losses.Graph(kind, out, target)
	}, AdamW(spec))
	if err != nil {
		return nil, err
	}
	return newCPU(tr, m.Params(), spec, cfg.Reserve), nil
}

// NewUNet returns the CPU engine of an image job: the U-Net of package
// unet with AdamW, clipping and the learning-rate decay; the dropout
// masks of step s on rank r come from the stream (seed, TagDrop, s, r).
func NewUNet(cfg Config) (Engine, error) {
	spec := cfg.Spec
	m, err := unet.New(UNetConfig(spec), InitSeed(spec.Seed))
	if err != nil {
		return nil, err
	}
	nz, err := losses.NewNoiser(NoiseConfig(spec))
	if err != nil {
		return nil, err
	}
	tr, err := unet.NewTrainer(m, nz.Loss(), UNetOptim(spec))
	if err != nil {
		return nil, err
	}
	e := newCPU(tr, m.Params(), spec, cfg.Reserve)
	e.beginStep = func(s Step) {
		tr.Dropout = noise.Stream(spec.Seed, noise.TagDrop, uint64(s.Index), uint64(s.Rank))
	}
	return e, nil
}

func newCPU(tr trainer, params []nn.Param, spec job.Spec, reserve int) *cpu {
	e := &cpu{tr: tr, params: params, decay: float32(spec.EMA), lay: layoutOf(params)}
	e.lay.Reserve = reserve
	e.grads = tr.Grads()
	e.bucket = make([]float32, e.lay.Size+reserve)
	e.ema = make([]float32, 0, e.lay.Size)
	for _, p := range params {
		e.ema = append(e.ema, p.Data...)
	}
	return e
}

func (e *cpu) Layout() Layout       { return e.lay }
func (e *cpu) Buckets() [][]float32 { return [][]float32{e.bucket} }
func (e *cpu) ZeroGrad()            { clear(e.bucket[:e.lay.Size]) }

func (e *cpu) Backward(step Step, b Batch, ready func(int)) (float64, error) {
	if e.beginStep != nil {
		e.beginStep(step)
	}
	loss, err := e.tr.Gradients(b.X, b.Tau, b.Target)
	if err != nil {
		return loss, err // the trainer's gradient is still zero
	}
	for i, p := range e.lay.Params {
		g := e.bucket[p.Offset : p.Offset+p.Len]
		for j, v := range e.grads[i].Data {
			g[j] += v
		}
		clear(e.grads[i].Data)
	}
	if ready != nil {
		ready(0)
	}
	return loss, nil
}

func (e *cpu) Apply() error {
	for i, p := range e.lay.Params {
		copy(e.grads[i].Data, e.bucket[p.Offset:p.Offset+p.Len])
	}
	if err := e.tr.Apply(); err != nil { // zeroes e.grads
		return err
	}
	clear(e.bucket[:e.lay.Size])
	d := e.decay
	for i, p := range e.lay.Params {
		ema := e.ema[p.Offset : p.Offset+p.Len]
		for j, w := range e.params[i].Data {
			ema[j] = d*ema[j] + (1-d)*w
		}
	}
	return nil
}

func (e *cpu) Snapshot(dst *State) error {
	s := e.tr.State()
	dst.OptimStep = s.Step
	dst.Params = e.tensors(dst.Params, func(i int) []float32 { return e.params[i].Data })
	dst.EMA = e.tensors(dst.EMA, func(i int) []float32 { return e.ema[e.lay.Params[i].Offset:][:e.lay.Params[i].Len] })
	dst.M = e.tensors(dst.M, func(i int) []float32 { return s.M[i] })
	dst.V = e.tensors(dst.V, func(i int) []float32 { return s.V[i] })
	return nil
}

// tensors copies src(i) for each parameter i into dst (reusing its
// buffers where they fit).
func (e *cpu) tensors(dst []Tensor, src func(i int) []float32) []Tensor {
	if len(dst) != len(e.lay.Params) {
		dst = make([]Tensor, len(e.lay.Params))
	}
	for i, p := range e.lay.Params {
		d := dst[i].Data
		if len(d) != p.Len {
			d = make([]float32, p.Len)
		}
		copy(d, src(i))
		dst[i] = Tensor{Name: p.Name, Shape: p.Shape, Data: d}
	}
	return dst
}

func (e *cpu) Restore(s State) error {
	if err := e.check(s); err != nil {
		return err
	}
	st := nn.OptimState{Step: s.OptimStep}
	for i := range e.lay.Params {
		st.M, st.V = append(st.M, s.M[i].Data), append(st.V, s.V[i].Data)
	}
	if err := e.tr.SetState(st); err != nil {
		return err
	}
	for i, p := range e.lay.Params {
		copy(e.params[i].Data, s.Params[i].Data)
		copy(e.ema[p.Offset:p.Offset+p.Len], s.EMA[i].Data)
	}
	return nil
}

// check reports the first tensor of s that does not fit the layout.
func (e *cpu) check(s State) error {
	if s.OptimStep < 0 {
		return fmt.Errorf("engine: Restore: optimiser step %d, want ≥ 0", s.OptimStep)
	}
	for _, part := range []struct {
		what string
		ts   []Tensor
	}{{"parameters", s.Params}, {"EMA", s.EMA}, {"first moments", s.M}, {"second moments", s.V}} {
		if len(part.ts) != len(e.lay.Params) {
			return fmt.Errorf("engine: Restore: %d tensors of %s, want %d", len(part.ts), part.what, len(e.lay.Params))
		}
		for i, p := range e.lay.Params {
			if t := part.ts[i]; t.Name != p.Name || len(t.Data) != p.Len {
				return fmt.Errorf("engine: Restore: %s tensor %d is %q of %d values, want %q of %d", part.what, i, t.Name, len(t.Data), p.Name, p.Len)
			}
		}
	}
	return nil
}

func (e *cpu) Close() error {
	e.tr.Close()
	return nil
}
