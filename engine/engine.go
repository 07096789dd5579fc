package engine

import (
	"errors"
	"fmt"

	"github.com/levy-ml/levy/job"
	"github.com/levy-ml/levy/nn"
	"github.com/levy-ml/levy/safetensors"
)

// Tensor is a named host tensor (the unit of checkpoints).
type Tensor = safetensors.Tensor

// ErrNonFinite is wrapped by Backward's error when the loss or a
// gradient is NaN or infinite (it is nn.ErrNonFinite, so callers need
// not import the networks' package).
var ErrNonFinite = nn.ErrNonFinite

// ErrNoGPU is wrapped by New's error for a GPU that this process cannot
// use.
var ErrNoGPU = errors.New("engine: no GPU engine")

// Engine is one job's network on one device: it computes gradients,
// holds the parameters, their EMA and the optimiser state, and hands
// them to the host only for checkpoints and sampling. Package doc
// "Writing an engine" states the contract; package enginetest checks it.
// An Engine is used by one goroutine at a time.
type Engine interface {
	// Layout is the parameters' names and shapes, in the fixed order of
	// the flat gradient, and the buckets that cut it.
	Layout() Layout
	// Buckets are the host-visible gradient buffers, owned by the
	// engine, one per Layout().Buckets entry: bucket i holds the
	// gradient range Layout().Buckets[i]; the last one has
	// Layout().Reserve more floats at its end, which belong to the
	// caller. The slices stay valid until Close.
	Buckets() [][]float32
	// Backward runs forward and backward on the batch and adds the
	// gradient of its mean loss into the buckets, calling ready(i) (if
	// ready is not nil) once for each bucket, in increasing i, as soon
	// as bucket i holds its final sum; the last call comes before
	// Backward returns. A NaN or infinite loss or gradient returns an
	// error wrapping ErrNonFinite; no bucket that was not yet readied
	// has changed (a non-finite loss is seen before any bucket changes).
	Backward(step Step, b Batch, ready func(bucket int)) (loss float64, err error)
	// ZeroGrad zeroes the gradient in the buckets (a skipped step).
	ZeroGrad()
	// Apply takes one optimiser step with the buckets' contents (by
	// then usually averaged over the ring), updates the EMA of the
	// parameters and zeroes the gradient in the buckets.
	Apply() error
	// Snapshot copies the parameters, the EMA and the optimiser state
	// into dst, reusing dst's buffers where their sizes fit.
	Snapshot(dst *State) error
	// Restore sets the parameters, the EMA and the optimiser state; on
	// error nothing changes.
	Restore(s State) error
	// Close releases the engine's memory; it must not be used after.
	Close() error
}

// Layout describes an engine's parameters and its gradient buckets.
type Layout struct {
	// Params are the parameter tensors, in the order of the flat
	// gradient (Param.Offset increasing, no gaps).
	Params []Param
	// Size is the number of parameters (the flat gradient's length).
	Size int
	// Buckets cut [0, Size) into consecutive ranges.
	Buckets []Range
	// Reserve is the number of caller's floats after the last bucket's
	// gradient (Config.Reserve).
	Reserve int
}

// Param is a parameter tensor's place in the flat gradient.
type Param struct {
	Name   string
	Shape  []int
	Offset int
	Len    int
}

// Range is [Lo, Hi) of the flat gradient.
type Range struct{ Lo, Hi int }

// Step says which step of which rank a Backward call serves: the
// draws inside the network (the U-Net's dropout masks) come from the
// stream (job seed, step, rank), so that a resumed run repeats them.
type Step struct {
	Index int64
	Rank  int
}

// Batch is one rank's share of a step: n examples of dimension d.
type Batch struct {
	X      []float32 // noised inputs, [n, d]
	Tau    []float32 // times, [n]
	Target []float32 // what the network must output, [n, d]
}

// State is an engine's state on the host: the parameters and their EMA
// (tensors in Layout order), the optimiser's step count and its AdamW
// moments (named like the parameters).
type State struct {
	Params, EMA []Tensor
	OptimStep   int64
	M, V        []Tensor
}

// Config says which engine New makes.
type Config struct {
	// Spec is the job: the network, the method, the optimiser, the EMA
	// decay and the seed (the initial weights come from the stream
	// (seed, TagInit), as every rank's must).
	Spec job.Spec
	// Device is −1 for the CPU, or the number of a GPU.
	Device int
	// Reserve is the number of floats the caller keeps after the last
	// bucket's gradient (to all-reduce control words with it).
	Reserve int
}

// Validate reports the first bad field.
func (c Config) Validate() error {
	switch {
	case c.Device < -1:
		return fmt.Errorf("engine: Config.Device = %d: want −1 (the CPU) or a GPU number ≥ 0", c.Device)
	case c.Reserve < 0:
		return fmt.Errorf("engine: Config.Reserve = %d: want ≥ 0", c.Reserve)
	}
	return c.Spec.Validate()
}

// New returns the engine of cfg: a CPU engine (NewCPU) for Device −1,
// otherwise the GPU engine, if the probe finds one.
func New(cfg Config) (Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Device >= 0 {
		return gpuProbe(cfg)
	}
	return NewCPU(cfg)
}

// CheckDevice reports whether this process can train on device (−1:
// the CPU), without making an engine for a job.
func CheckDevice(device int) error {
	if device < -1 {
		return fmt.Errorf("engine: device %d: want −1 (the CPU) or a GPU number ≥ 0", device)
	}
	if device < 0 {
		return nil
	}
	e, err := gpuProbe(Config{Spec: job.Default(), Device: device})
	if err != nil {
		return err
	}
	return e.Close()
}
