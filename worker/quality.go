package worker

import (
	"errors"
	"sync"

	"github.com/levy-ml/levy/job"
	"github.com/levy-ml/levy/quality"
)

// scorers caches one quality.Scorer per (feature network, dataset, number
// of real images): the real images' features are computed once a process.
var scorers sync.Map

type scorerKey struct {
	features, dataset, dir string
	n                      int
}

// errNoFeatures: the job names no feature network.
var errNoFeatures = errors.New("worker: the job sets no sample.features network")

// ImageQuality scores n generated images against the first n images of
// the job's test split (its only split for CelebA) with the feature
// network of sample.features (a levy classifier, or Inception-v3 weights
// for the standard FID): FD and k-NN precision/recall.
func ImageQuality(spec job.Spec, gen []float32, n int) (map[string]float64, error) {
	if spec.Sample.Features == "" {
		return nil, errNoFeatures
	}
	key := scorerKey{spec.Sample.Features, spec.Dataset, spec.DataDir, n}
	if sc, ok := scorers.Load(key); ok {
		return sc.(*quality.Scorer).Score(gen, n)
	}
	ch, size := job.ImageShape(spec.Dataset)
	net, err := quality.LoadFeatureNet(spec.Sample.Features, ch, size)
	if err != nil {
		return nil, err
	}
	ds, err := OpenImages(spec, false)
	if err != nil {
		return nil, err
	}
	defer ds.Close()
	real, err := quality.Images(ds, min(n, ds.Len()))
	if err != nil {
		return nil, err
	}
	sc, err := quality.NewScorer(net, real, min(n, ds.Len()))
	if err != nil {
		return nil, err
	}
	scorers.Store(key, sc)
	return sc.Score(gen, n)
}
