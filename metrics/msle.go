package metrics

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// MSLELevels is the fixed quantile level set L of docs/algorithms.md §7.1.
var MSLELevels = []float64{0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1,
	0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999}

// Quantile returns the empirical p-quantile of an ascending sorted sample with
// numpy's default "linear" interpolation: h = (n−1)p, result
// x[⌊h⌋] + (h−⌊h⌋)(x[⌊h⌋+1] − x[⌊h⌋]). p is clamped to [0,1]. It returns NaN
// for an empty sample.
func Quantile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 || math.IsNaN(p) {
		return math.NaN()
	}
	if p <= 0 {
		return sorted[0]
	}
	if p >= 1 {
		return sorted[n-1]
	}
	h := float64(n-1) * p
	lo := int(math.Floor(h))
	if lo >= n-1 {
		return sorted[n-1]
	}
	frac := h - float64(lo)
	return sorted[lo] + frac*(sorted[lo+1]-sorted[lo])
}

// checkSet validates a flat point set and returns its number of points.
func checkSet(name string, x []float64, d int) (int, error) {
	if d <= 0 {
		return 0, fmt.Errorf("metrics: dimension d = %d must be positive", d)
	}
	if len(x) == 0 {
		return 0, fmt.Errorf("metrics: %s set is empty", name)
	}
	if len(x)%d != 0 {
		return 0, fmt.Errorf("metrics: %s set length %d is not a multiple of d = %d", name, len(x), d)
	}
	return len(x) / d, nil
}

// sortedColumn returns coordinate j of the n×d point set x, sorted ascending.
func sortedColumn(x []float64, d, j int) []float64 {
	n := len(x) / d
	col := make([]float64, n)
	for i := range n {
		col[i] = x[i*d+j]
	}
	slices.Sort(col)
	return col
}

// MSLE computes the discrete mean squared log error of the upper tail
// (docs/algorithms.md §7.1) between real and generated point sets of dimension d,
// using the levels of MSLELevels strictly above xi (the published value uses
// xi = 0.95, i.e. levels {0.99, 0.995, 0.999, 0.9995, 0.9999}). The natural log
// of the signed per-coordinate quantiles is used, so the data must be centred:
// if any quantile used is ≤ 0 (or not finite) an error naming the set, the
// coordinate and the level is returned.
func MSLE(real, gen []float64, d int, xi float64) (float64, error) {
	if _, err := checkSet("real", real, d); err != nil {
		return 0, err
	}
	if _, err := checkSet("generated", gen, d); err != nil {
		return 0, err
	}
	var levels []float64
	for _, p := range MSLELevels {
		if p > xi {
			levels = append(levels, p)
		}
	}
	if len(levels) == 0 {
		return 0, fmt.Errorf("metrics: MSLE: no quantile level above xi = %g", xi)
	}
	total := 0.0
	for j := range d {
		rs := sortedColumn(real, d, j)
		gs := sortedColumn(gen, d, j)
		m := 0.0
		for _, p := range levels {
			qr := Quantile(rs, p)
			qg := Quantile(gs, p)
			if !(qr > 0) || math.IsInf(qr, 1) {
				return 0, fmt.Errorf("metrics: MSLE: real quantile at level %g of coordinate %d is %g; log undefined (data must be centred so upper quantiles are > 0)", p, j, qr)
			}
			if !(qg > 0) || math.IsInf(qg, 1) {
				return 0, fmt.Errorf("metrics: MSLE: generated quantile at level %g of coordinate %d is %g; log undefined (data must be centred so upper quantiles are > 0)", p, j, qg)
			}
			diff := math.Log(qg) - math.Log(qr)
			m += diff * diff
		}
		total += m / float64(len(levels))
	}
	return total / float64(d), nil
}

var errLength = errors.New("metrics: real and generated sets must have the same number of points")
