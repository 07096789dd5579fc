package worker

import (
	"fmt"
	"math/rand/v2"

	"github.com/levy-ml/levy/imagedata"
	"github.com/levy-ml/levy/job"
	"github.com/levy-ml/levy/losses"
	"github.com/levy-ml/levy/nn"
	"github.com/levy-ml/levy/noise"
	"github.com/levy-ml/levy/unet"
)

// source is a job's training set: Len examples of dimension Dim.
type source interface {
	Len() int
	Dim() int
	// Example writes example i into dst, augmented with draws from aug
	// (which only image sets with flips use).
	Example(i int, dst []float32, aug *rand.Rand) error
	Close() error
}

// pointSource is a 2-D set in memory.
type pointSource []float32

func (p pointSource) Len() int     { return len(p) / 2 }
func (p pointSource) Dim() int     { return 2 }
func (p pointSource) Close() error { return nil }
func (p pointSource) Example(i int, dst []float32, _ *rand.Rand) error {
	copy(dst, p[2*i:2*i+2])
	return nil
}

// imageSource reads an image set from its files; with flips, each
// example is mirrored with probability ½.
type imageSource struct {
	ds imagedata.Dataset
	n  int
	c  int
	h  int
	w  int
}

func (s *imageSource) Len() int     { return s.n }
func (s *imageSource) Dim() int     { return s.c * s.h * s.w }
func (s *imageSource) Close() error { return s.ds.Close() }
func (s *imageSource) Example(i int, dst []float32, aug *rand.Rand) error {
	if _, err := s.ds.Image(i, dst); err != nil {
		return err
	}
	if s.ds.Flip() && aug != nil && aug.Uint64()&1 == 1 {
		imagedata.HFlip(dst, s.c, s.h, s.w)
	}
	return nil
}

// OpenImages opens an image job's training set (train selects the
// training split; the test split of datasets that have one otherwise).
func OpenImages(spec job.Spec, train bool) (imagedata.Dataset, error) {
	switch spec.Dataset {
	case job.FashionMNIST, job.MNIST:
		return imagedata.OpenFashionMNIST(spec.DataDir, train)
	case job.CIFAR10:
		return imagedata.OpenCIFAR10(spec.DataDir, train)
	case job.CIFAR10LT:
		if !train {
			return imagedata.OpenCIFAR10(spec.DataDir, false)
		}
		return imagedata.OpenCIFAR10LT(spec.DataDir)
	case job.CelebA:
		return imagedata.OpenCelebA(spec.DataDir)
	}
	return nil, fmt.Errorf("worker: %q is not an image dataset", spec.Dataset)
}

// openSource opens the job's training set; data_n limits it to its first
// data_n examples (0: all of an image set).
func openSource(spec job.Spec) (source, error) {
	if !spec.IsImage() {
		d, err := Dataset(spec)
		if err != nil {
			return nil, err
		}
		return pointSource(d), nil
	}
	ds, err := OpenImages(spec, true)
	if err != nil {
		return nil, err
	}
	c, h, w := ds.Shape()
	if wc, ws := job.ImageShape(spec.Dataset); c != wc || h != ws || w != ws {
		ds.Close()
		return nil, fmt.Errorf("worker: %s: images of %d×%d×%d, want %d×%d×%d", spec.DataDir, c, h, w, wc, ws, ws)
	}
	n := ds.Len()
	if spec.DataN > 0 {
		if spec.DataN > n {
			ds.Close()
			return nil, fmt.Errorf("worker: job %s: data_n = %d but %s holds %d training images", spec.Name, spec.DataN, spec.DataDir, n)
		}
		n = spec.DataN
	}
	if n < spec.GlobalBatch {
		ds.Close()
		return nil, fmt.Errorf("worker: job %s: %d training images in %s, fewer than the global batch of %d", spec.Name, n, spec.DataDir, spec.GlobalBatch)
	}
	return &imageSource{ds: ds, n: n, c: c, h: h, w: w}, nil
}

// UNetConfig is an image job's network.
func UNetConfig(s job.Spec) unet.Config {
	c, size := job.ImageShape(s.Dataset)
	u := s.UNet
	if u == nil {
		u = job.DefaultImage(s.Dataset).UNet
	}
	return unet.Config{ImageSize: size, InChannels: c, ModelChannels: u.ModelChannels,
		ChannelMult: append([]int(nil), u.ChannelMult...), NumResBlocks: u.NumResBlocks,
		AttentionDS: append([]int(nil), u.AttentionDS...), NumHeads: u.NumHeads, Dropout: u.Dropout, NormGroups: u.NormGroups}
}

// UNetOptim is an image job's optimiser.
func UNetOptim(s job.Spec) unet.Optim {
	return unet.Optim{AdamW: Optimizer(s), ClipNorm: s.ClipNorm, LRDecay: s.LRDecay, LRDecayEvery: s.LRDecayEvery}
}

// unetEngine is the gorgonia U-Net with levy's kernels.
type unetEngine struct {
	m    *unet.Model
	tr   *unet.Trainer
	seed uint64
}

func newUNetEngine(spec job.Spec, seed uint64) (*unetEngine, error) {
	m, err := unet.New(UNetConfig(spec), seed)
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
	return &unetEngine{m: m, tr: tr, seed: spec.Seed}, nil
}

func (e *unetEngine) Gradients(x, tau, target []float32) (float64, error) {
	return e.tr.Gradients(x, tau, target)
}
func (e *unetEngine) Params() []Tensor { return tensors(e.m.Params()) }
func (e *unetEngine) Grads() []Tensor  { return tensors(e.tr.Grads()) }
func (e *unetEngine) Apply() error     { return e.tr.Apply() }
func (e *unetEngine) Close()           { e.tr.Close() }

// BeginStep draws the step's dropout masks from (seed, step, rank).
func (e *unetEngine) BeginStep(step, rank int) {
	e.tr.Dropout = noise.Stream(e.seed, noise.TagDrop, uint64(step), uint64(rank))
}

func (e *unetEngine) OptimState() (int64, []Tensor) {
	return optimTensors(e.tr.State(), e.Params())
}

func (e *unetEngine) SetOptimState(step int64, ts []Tensor) error {
	s, err := optimFromTensors(step, ts, e.Params())
	if err != nil {
		return err
	}
	return e.tr.SetState(s)
}

// optimTensors names the moments "m.<param>" and "v.<param>".
func optimTensors(s nn.OptimState, ps []Tensor) (int64, []Tensor) {
	var ts []Tensor
	for i, p := range ps {
		ts = append(ts, Tensor{Name: "m." + p.Name, Shape: p.Shape, Data: s.M[i]})
	}
	for i, p := range ps {
		ts = append(ts, Tensor{Name: "v." + p.Name, Shape: p.Shape, Data: s.V[i]})
	}
	return s.Step, ts
}

func optimFromTensors(step int64, ts []Tensor, ps []Tensor) (nn.OptimState, error) {
	by := map[string][]float32{}
	for _, t := range ts {
		by[t.Name] = t.Data
	}
	s := nn.OptimState{Step: step}
	for _, p := range ps {
		m, okm := by["m."+p.Name]
		v, okv := by["v."+p.Name]
		if !okm || !okv {
			return s, fmt.Errorf("worker: optimiser state lacks the moments of %s", p.Name)
		}
		s.M, s.V = append(s.M, m), append(s.V, v)
	}
	return s, nil
}
