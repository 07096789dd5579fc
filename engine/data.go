package engine

import (
	"fmt"

	"github.com/levy-ml/levy/imagedata"
	"github.com/levy-ml/levy/job"
	"github.com/levy-ml/levy/noise"
	"github.com/levy-ml/levy/toy2d/data"
)

// Points regenerates a 2-D job's training set from the stream (seed,
// TagData).
func Points(spec job.Spec) ([]float32, error) {
	dc, err := spec.Data()
	if err != nil {
		return nil, err
	}
	return data2d.Generate(dc, noise.Stream(spec.Seed, noise.TagData))
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
	return nil, fmt.Errorf("engine: %q is not an image dataset", spec.Dataset)
}
