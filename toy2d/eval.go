package toy2d

import (
	"fmt"

	"github.com/levy-ml/levy/metrics"
	"github.com/levy-ml/levy/noise"
	"github.com/levy-ml/levy/toy2d/data"
)

// Scores are the metrics of a generated set against real points.
type Scores struct {
	N    int     `json:"n"`
	F1   float64 `json:"prd_f1,omitempty"` // PRD F1 (Table 2)
	F8   float64 `json:"prd_f8,omitempty"`
	F18  float64 `json:"prd_f1_8,omitempty"`
	MSLE float64 `json:"msle,omitempty"` // MSLE at ξ = 0.95 (Table 1)
	// k-NN precision/recall (k = 5) and MMD are reported but not in the tables.
	KNNPrecision float64 `json:"knn_precision,omitempty"`
	KNNRecall    float64 `json:"knn_recall,omitempty"`
	MMD          float64 `json:"mmd,omitempty"`
}

// Metric selects what Evaluate computes.
type Metric int

// The metric sets.
const (
	TableMetric Metric = iota // PRD F1 for grid9, MSLE for sas2d
	AllMetrics                // also k-NN precision/recall and MMD
)

// RealSubset returns n points drawn without replacement from the training
// set (the reference compares against training points).
func RealSubset(data []float32, n int, seed uint64) []float32 {
	total := len(data) / 2
	n = min(n, total)
	perm := noise.Stream(seed, noise.TagEval, 1).Perm(total)
	out := make([]float32, 0, 2*n)
	for _, i := range perm[:n] {
		out = append(out, data[2*i], data[2*i+1])
	}
	return out
}

// Evaluate scores gen against real (equal sizes for PRD).
func Evaluate(dataset string, real, gen []float32, seed uint64, which Metric) (Scores, error) {
	r, g := to64(real), to64(gen)
	s := Scores{N: len(gen) / 2}
	if dataset == data2d.NameGrid9 || which == AllMetrics {
		if len(r) != len(g) {
			return s, fmt.Errorf("toy: PRD needs equal sets: %d real vs %d generated points", len(r)/2, len(g)/2)
		}
		res, err := metrics.PRD(r, g, 2, noise.Stream(seed, noise.TagEval, 2), metrics.DefaultPRDOptions(len(g)/2))
		if err != nil {
			return s, err
		}
		s.F1, s.F8, s.F18 = res.F1, res.F8, res.F1_8
	}
	if dataset == data2d.NameSAS2D || which == AllMetrics {
		m, err := metrics.MSLE(r, g, 2, 0.95)
		if err != nil && dataset == data2d.NameSAS2D {
			return s, err
		}
		s.MSLE = m
	}
	if which == AllMetrics {
		p, rc, err := metrics.KNNPrecisionRecall(r, g, 2, 5)
		if err != nil {
			return s, err
		}
		s.KNNPrecision, s.KNNRecall = p, rc
		if s.MMD, err = metrics.MMD(r, g, 2, 0); err != nil {
			return s, err
		}
	}
	return s, nil
}

func to64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}
