package metrics

import (
	"fmt"
	"math"
	"slices"
)

// MMDMaxPoints is the number of points per set that MMD uses: larger sets are
// subsampled deterministically to their first MMDMaxPoints points, which
// keeps the O(n²) kernel sums at about 3·4000² evaluations.
const MMDMaxPoints = 4000

// MMDMedianPoints is the number of points per set (the first ones) pooled
// for the median-distance bandwidth heuristic.
const MMDMedianPoints = 500

// MMD returns the unbiased estimate of the squared maximum mean discrepancy
// between real and gen with the RBF kernel exp(−‖x−y‖²/(2h²)), using at most
// the first MMDMaxPoints points of each set (see MMDSubsample). If
// bandwidth <= 0, h is the median heuristic: the median Euclidean distance
// over all distinct pairs of the pooled first MMDMedianPoints points of each
// set. The estimate can be slightly negative when the distributions agree.
func MMD(real, gen []float64, d int, bandwidth float64) (float64, error) {
	return MMDSubsample(real, gen, d, bandwidth, MMDMaxPoints)
}

// MMDSubsample is MMD using the first maxPoints points of each set
// (maxPoints <= 0 means all points).
func MMDSubsample(real, gen []float64, d int, bandwidth float64, maxPoints int) (float64, error) {
	nr, err := checkSet("real", real, d)
	if err != nil {
		return 0, err
	}
	ng, err := checkSet("generated", gen, d)
	if err != nil {
		return 0, err
	}
	if maxPoints > 0 {
		nr, ng = min(nr, maxPoints), min(ng, maxPoints)
	}
	if nr < 2 || ng < 2 {
		return 0, fmt.Errorf("metrics: MMD needs at least 2 points per set (got %d, %d)", nr, ng)
	}
	x, y := real[:nr*d], gen[:ng*d]
	h := bandwidth
	if h <= 0 {
		h = MedianDistance(x, y, d, MMDMedianPoints)
		if !(h > 0) {
			return 0, fmt.Errorf("metrics: MMD: median heuristic gave bandwidth %g (degenerate data)", h)
		}
	}
	g := 1 / (2 * h * h)
	kxx := 2 * kernelSumSym(x, d, g) / float64(nr*(nr-1))
	kyy := 2 * kernelSumSym(y, d, g) / float64(ng*(ng-1))
	kxy := 0.0
	for i := range nr {
		p := x[i*d : (i+1)*d]
		for j := range ng {
			kxy += math.Exp(-g * sqDist(p, y[j*d:(j+1)*d]))
		}
	}
	kxy /= float64(nr * ng)
	return kxx + kyy - 2*kxy, nil
}

// kernelSumSym returns Σ_{i<j} exp(−g‖x_i−x_j‖²).
func kernelSumSym(x []float64, d int, g float64) float64 {
	n := len(x) / d
	s := 0.0
	for i := range n {
		p := x[i*d : (i+1)*d]
		for j := i + 1; j < n; j++ {
			s += math.Exp(-g * sqDist(p, x[j*d:(j+1)*d]))
		}
	}
	return s
}

// MedianDistance returns the median Euclidean distance over all distinct
// pairs of the pooled set made of the first m points of a and of b.
func MedianDistance(a, b []float64, d, m int) float64 {
	pool := append(slices.Clone(a[:min(len(a)/d, m)*d]), b[:min(len(b)/d, m)*d]...)
	n := len(pool) / d
	if n < 2 {
		return math.NaN()
	}
	ds := make([]float64, 0, n*(n-1)/2)
	for i := range n {
		for j := i + 1; j < n; j++ {
			ds = append(ds, math.Sqrt(sqDist(pool[i*d:(i+1)*d], pool[j*d:(j+1)*d])))
		}
	}
	slices.Sort(ds)
	return Quantile(ds, 0.5)
}
