package metrics

import (
	"math"
	"math/rand/v2"
)

// gridWeights are the row-major mixture weights of the ALGORITHMS.md §6.2
// imbalanced 9-Gaussian grid (means {0,1,2}², (i,j) row-major).
var gridWeights = []float64{0.01, 0.10, 0.30, 0.20, 0.02, 0.15, 0.02, 0.15, 0.05}

// sampleGrid draws n points of the 3×3 Gaussian grid with the given weights
// (normalised here) and per-coordinate std s.
func sampleGrid(rng *rand.Rand, n int, weights []float64, s float64) []float64 {
	cum := make([]float64, len(weights))
	tot := 0.0
	for i, w := range weights {
		tot += w
		cum[i] = tot
	}
	x := make([]float64, 2*n)
	for i := range n {
		u := rng.Float64() * tot
		c := 0
		for c < len(cum)-1 && u >= cum[c] {
			c++
		}
		x[2*i] = float64(c/3) + s*rng.NormFloat64()
		x[2*i+1] = float64(c%3) + s*rng.NormFloat64()
	}
	return x
}

func equalWeights() []float64 {
	w := make([]float64, 9)
	for i := range w {
		w[i] = 1.0 / 9
	}
	return w
}

// gaussian draws n standard normal points of dimension d shifted by shift
// along coordinate 0.
func gaussian(rng *rand.Rand, n, d int, shift float64) []float64 {
	x := make([]float64, n*d)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	for i := range n {
		x[i*d] += shift
	}
	return x
}

// symPareto draws n×d iid symmetric Pareto-tailed values: ±U^{−1/α}.
func symPareto(rng *rand.Rand, n, d int, alpha float64) []float64 {
	x := make([]float64, n*d)
	for i := range x {
		v := math.Pow(1-rng.Float64(), -1/alpha)
		if rng.IntN(2) == 0 {
			v = -v
		}
		x[i] = v
	}
	return x
}
