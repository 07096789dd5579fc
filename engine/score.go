package engine

import (
	"errors"
	"sync"

	"github.com/levy-ml/levy/job"
	"github.com/levy-ml/levy/quality"
	"github.com/levy-ml/levy/toy2d"
)

// Scores are the metrics of 2-D samples (toy2d.Scores); Metric chooses
// them.
type (
	Scores = toy2d.Scores
	Metric = toy2d.Metric
)

// The metric sets of ScorePoints.
const (
	TableMetric = toy2d.TableMetric // the paper's: PRD F1 for grid9, MSLE for sas2d
	AllMetrics  = toy2d.AllMetrics  // also k-NN precision/recall and MMD
)

// PointClip is the clamp of generated 2-D points of the reference code
// (toy2d.DefaultClip).
const PointClip = toy2d.DefaultClip

// RealPoints draws n points of a 2-D model's training set without
// replacement, with seed (toy2d.RealSubset): what its samples are scored
// against.
func (m *Model) RealPoints(n int, seed uint64) ([]float32, error) {
	if job.IsImageDataset(m.Dataset) {
		return nil, errors.New("engine: RealPoints: an image model; score images with Scorers")
	}
	if m.points == nil {
		var err error
		if m.points, err = Points(*m.Spec); err != nil {
			return nil, err
		}
	}
	return toy2d.RealSubset(m.points, n, seed), nil
}

// ScorePoints scores the points gen of a 2-D model against real (from
// RealPoints) with toy2d.Evaluate on the model's dataset.
func (m *Model) ScorePoints(real, gen []float32, seed uint64, which Metric) (Scores, error) {
	return toy2d.Evaluate(m.Dataset, real, gen, seed, which)
}

// ErrNoFeatures is returned by Scorers.Images for a job that names no
// feature network (sample.features).
var ErrNoFeatures = errors.New("engine: the job sets no sample.features network")

// Scorers scores generated images, keeping one quality.Scorer per
// (feature network, dataset, data directory, number of images): the
// real images' features are computed once. The zero value is ready;
// it is safe for concurrent use.
type Scorers struct {
	mu sync.Mutex
	m  map[scorerKey]*quality.Scorer
}

type scorerKey struct {
	features, dataset, dir string
	n                      int
}

// Images scores n generated images against the first n images of the
// job's test split (its only split for CelebA) with the feature network
// of sample.features (a levy classifier, or Inception-v3 weights for the
// standard FID): FD and k-NN precision/recall.
func (s *Scorers) Images(spec job.Spec, gen []float32, n int) (map[string]float64, error) {
	if spec.Sample.Features == "" {
		return nil, ErrNoFeatures
	}
	sc, err := s.scorer(spec, n)
	if err != nil {
		return nil, err
	}
	return sc.Score(gen, n)
}

func (s *Scorers) scorer(spec job.Spec, n int) (*quality.Scorer, error) {
	key := scorerKey{spec.Sample.Features, spec.Dataset, spec.DataDir, n}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc, ok := s.m[key]; ok {
		return sc, nil
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
	if s.m == nil {
		s.m = map[scorerKey]*quality.Scorer{}
	}
	s.m[key] = sc
	return sc, nil
}
