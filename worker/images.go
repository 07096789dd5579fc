package worker

import (
	"fmt"
	"math/rand/v2"

	"github.com/levy-ml/levy/engine"
	"github.com/levy-ml/levy/imagedata"
	"github.com/levy-ml/levy/job"
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

// openSource opens the job's training set; data_n limits it to its first
// data_n examples (0: all of an image set).
func openSource(spec job.Spec) (source, error) {
	if !spec.IsImage() {
		d, err := engine.Points(spec)
		if err != nil {
			return nil, err
		}
		return pointSource(d), nil
	}
	ds, err := engine.OpenImages(spec, true)
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
