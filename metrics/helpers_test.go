package metrics

import (
	"math"
	"math/rand/v2"

	"github.com/levy-ml/levy/toy2d/data"
)

var gridWeights = data2d.GridWeights[:]

// sampleGrid draws n points of the 3×3 Gaussian grid of data2d with the
// given weights and per-coordinate std s, as float64.
func sampleGrid(rng *rand.Rand, n int, weights []float64, s float64) []float64 {
	x := data2d.GridMixture(rng, n, weights, s)
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
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
