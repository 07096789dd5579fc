package worker

import (
	"errors"
	"fmt"
	"strconv"

	G "gorgonia.org/gorgonia"

	"github.com/levy-ml/levy/job"
	"github.com/levy-ml/levy/losses"
	"github.com/levy-ml/levy/mlp"
	"github.com/levy-ml/levy/nn"
	"github.com/levy-ml/levy/safetensors"
)

// Tensor is a named host tensor.
type Tensor = safetensors.Tensor

// ErrNoGPU is returned for a GPU request on a build without GPU support.
var ErrNoGPU = errors.New("worker: no GPU support")

// Engine computes the network's gradients and applies the optimiser for
// one worker. Params and Grads alias the engine's host buffers (in the
// same order, names and shapes), so the caller can all-reduce the
// gradients in place between Gradients and Apply.
type Engine interface {
	// Gradients runs forward and backward on a batch (x and target are
	// [n, d], tau is [n]) and adds the gradient of the mean loss to Grads.
	// A non-finite loss or gradient returns an error wrapping
	// nn.ErrNonFinite and leaves Grads untouched.
	Gradients(x, tau, target []float32) (float64, error)
	Params() []Tensor
	Grads() []Tensor
	// Apply takes one optimiser step with Grads and zeroes them.
	Apply() error
	// OptimState returns the optimiser's step count and moments (tensors
	// named "m.<param>" and "v.<param>"); SetOptimState restores them.
	OptimState() (int64, []Tensor)
	SetOptimState(step int64, ts []Tensor) error
	Close()
}

// NewEngine returns the engine for gpu (−1: the CPU) with the job's
// network, initialised from the job's seed.
func NewEngine(gpu int, spec job.Spec, seed uint64) (Engine, error) {
	if gpu >= 0 {
		return newGPUEngine(gpu, spec, seed)
	}
	if gpu != -1 {
		return nil, fmt.Errorf("worker: --gpu %d: want a device number ≥ 0, or −1 for the CPU", gpu)
	}
	if spec.IsImage() {
		return newUNetEngine(spec, seed)
	}
	return newCPUEngine(spec, seed)
}

// cpuEngine is the gorgonia MLP with levy's fused kernels and AdamW.
type cpuEngine struct {
	m  *mlp.Model
	tr *mlp.Trainer
}

func newCPUEngine(spec job.Spec, seed uint64) (*cpuEngine, error) {
	m, err := mlp.New(ModelConfig(spec), seed)
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
	}, Optimizer(spec))
	if err != nil {
		return nil, err
	}
	return &cpuEngine{m: m, tr: tr}, nil
}

func tensors(ps []nn.Param) []Tensor {
	out := make([]Tensor, len(ps))
	for i, p := range ps {
		out[i] = Tensor{Name: p.Name, Shape: p.Shape, Data: p.Data}
	}
	return out
}

func (e *cpuEngine) Gradients(x, tau, target []float32) (float64, error) {
	return e.tr.Gradients(x, tau, target)
}
func (e *cpuEngine) Params() []Tensor { return tensors(e.m.Params()) }
func (e *cpuEngine) Grads() []Tensor  { return tensors(e.tr.Grads()) }
func (e *cpuEngine) Apply() error     { return e.tr.Apply() }
func (e *cpuEngine) Close()           { e.tr.Close() }

func (e *cpuEngine) OptimState() (int64, []Tensor) {
	s := e.tr.State()
	ps := e.m.Params()
	var ts []Tensor
	for i, p := range ps {
		ts = append(ts, Tensor{Name: "m." + p.Name, Shape: p.Shape, Data: s.M[i]})
	}
	for i, p := range ps {
		ts = append(ts, Tensor{Name: "v." + p.Name, Shape: p.Shape, Data: s.V[i]})
	}
	return s.Step, ts
}

func (e *cpuEngine) SetOptimState(step int64, ts []Tensor) error {
	by := map[string][]float32{}
	for _, t := range ts {
		by[t.Name] = t.Data
	}
	s := nn.OptimState{Step: step}
	for _, p := range e.m.Params() {
		m, okm := by["m."+p.Name]
		v, okv := by["v."+p.Name]
		if !okm || !okv {
			return fmt.Errorf("worker: optimiser state lacks the moments of %s", p.Name)
		}
		s.M, s.V = append(s.M, m), append(s.V, v)
	}
	return e.tr.SetState(s)
}

// optimMeta and parseOptimMeta carry the optimiser's step count in the
// safetensors metadata of optim.safetensors.
func optimMeta(step int64) map[string]string {
	return map[string]string{"format": "levy-adamw", "step": strconv.FormatInt(step, 10)}
}

func parseOptimMeta(meta map[string]string) (int64, error) {
	s, err := strconv.ParseInt(meta["step"], 10, 64)
	if err != nil || s < 0 {
		return 0, fmt.Errorf("worker: optimiser metadata step %q: want an integer ≥ 0", meta["step"])
	}
	return s, nil
}

// ModelConfig is the job's network.
func ModelConfig(s job.Spec) mlp.Config {
	return mlp.Config{Dim: 2, Hidden: s.Model.Hidden, Blocks: s.Model.Blocks, TimeEmbed: s.Model.TimeEmbed}
}

// Optimizer is the job's AdamW (PyTorch's betas and eps).
func Optimizer(s job.Spec) nn.AdamW {
	o := nn.DefaultAdamW()
	o.LR, o.WeightDecay = s.LR, s.WeightDecay
	return o
}

// NoiseConfig is the job's training-noise configuration.
func NoiseConfig(s job.Spec) losses.Config {
	return losses.Config{Method: s.Method, Alpha: s.Alpha, T: s.T, ClampA: s.ClampA, ClampEps: s.ClampEps}
}
