package engine

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/levy-ml/levy/checkpoint"
	"github.com/levy-ml/levy/job"
	"github.com/levy-ml/levy/nn"
	"github.com/levy-ml/levy/nn/mlp"
	"github.com/levy-ml/levy/nn/unet"
	"github.com/levy-ml/levy/samplers"
	"github.com/levy-ml/levy/toy2d"
)

// Model is a trained network loaded for sampling: its weights (raw or
// EMA) and what it was trained with. It is a samplers.Denoiser. Close
// releases it.
type Model struct {
	Method           string  // the training method (samplers.Methods)
	Alpha            float64 // the diffusion's tail index
	ClampA, ClampEps float64 // the truncations it was trained with
	Dataset          string  // the training set's name
	Dim              int     // the dimension of one example
	Seed             uint64  // the job's seed (the 2-D training set's)
	Step             int64   // the checkpoint's step; the steps trained, for a model directory
	// Spec is the job of a checkpoint; nil for a model directory.
	Spec *job.Spec

	net    samplers.Denoiser
	close  func()
	points []float32 // a 2-D model's training set (nil until needed)
}

// Load reads a model from dir: a checkpoint directory (its EMA weights
// if ema) or a model directory written by levyctl train (which holds
// one set of weights; ema is not looked at).
func Load(dir string, ema bool) (*Model, error) {
	if _, err := os.Stat(filepath.Join(dir, checkpoint.ManifestFile)); err == nil {
		c, err := checkpoint.Load(dir)
		if err != nil {
			return nil, err
		}
		return FromCheckpoint(c, ema)
	}
	t, err := toy2d.Load(dir) // toy2d.ErrNoModel if dir holds no model either
	if err != nil {
		return nil, err
	}
	c := t.Config
	return &Model{Method: c.Method, Alpha: c.Alpha, ClampA: c.ClampA, Dataset: c.Data.Name, Dim: c.Model.Dim,
		Seed: c.Seed, Step: int64(t.Steps), net: t.Model, close: func() {}, points: t.Data}, nil
}

// FromCheckpoint makes the model of a loaded checkpoint (its EMA
// weights if ema).
func FromCheckpoint(c *checkpoint.Checkpoint, ema bool) (*Model, error) {
	spec, err := job.FromJSON(c.Manifest.Job)
	if err != nil {
		return nil, fmt.Errorf("engine: %s: %w", c.Dir, err)
	}
	m := &Model{Method: spec.Method, Alpha: spec.Alpha, ClampA: spec.ClampA, ClampEps: spec.ClampEps,
		Dataset: spec.Dataset, Dim: spec.Dim(), Seed: spec.Seed, Step: c.Manifest.Step, Spec: &spec}
	var params []nn.Param
	if spec.IsImage() {
		u, err := unet.New(UNetConfig(spec), 0)
		if err != nil {
			return nil, err
		}
		den := unet.NewDenoiser(u)
		params, m.net, m.close = u.Params(), den, den.Close
	} else {
		p, err := mlp.New(MLPConfig(spec), 0)
		if err != nil {
			return nil, err
		}
		params, m.net, m.close = p.Params(), p, func() {}
	}
	lay := layoutOf(params)
	ts, err := ReadWeights(lay, c, ema)
	if err != nil {
		m.close()
		return nil, err
	}
	for i, p := range params {
		copy(p.Data, ts[i].Data)
	}
	return m, nil
}

// layoutOf lays out params with one bucket and no reserve.
func layoutOf(params []nn.Param) Layout {
	var l Layout
	for _, p := range params {
		l.Params = append(l.Params, Param{Name: p.Name, Shape: p.Shape, Offset: l.Size, Len: len(p.Data)})
		l.Size += len(p.Data)
	}
	l.Buckets = []Range{{0, l.Size}}
	return l
}

// Denoise writes the network's output for x [n, Dim] at times tau [n]
// into out.
func (m *Model) Denoise(out, x, tau []float32) error { return m.net.Denoise(out, x, tau) }

// Sample draws n examples [n, Dim] with the sampler cfg, from rng.
// cfg.Method must fit the model's method (samplers.Fits); cfg's Alpha,
// ClampA and ClampEps are set to the model's.
func (m *Model) Sample(cfg samplers.Config, n int, rng *rand.Rand) ([]float32, error) {
	if !samplers.Fits(m.Method, cfg.Method) {
		return nil, fmt.Errorf("engine: sampler %q does not fit a model trained with %q (use one of %v)", cfg.Method, m.Method, samplers.Compatible(m.Method))
	}
	if n <= 0 {
		return nil, fmt.Errorf("engine: sampling n = %d examples, want > 0", n)
	}
	cfg.Alpha, cfg.ClampA, cfg.ClampEps = m.Alpha, m.ClampA, m.ClampEps
	return samplers.Sample(m.net, cfg, n, m.Dim, rng)
}

// Close releases the model's graphs.
func (m *Model) Close() { m.close() }
