package metrics

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
)

// Frechet is the Fréchet distance between Gaussians fitted to two point
// sets (n points of dimension d each, row-major): with means μ and
// covariances Σ (unbiased, as numpy.cov),
//
//	FD = ‖μ_r − μ_g‖² + tr(Σ_r + Σ_g − 2 (Σ_r Σ_g)^½).
//
// On Inception-v3 pool features this is FID (Heusel et al. 2017); on any
// other network's features it is a distance of the same form whose values
// are not comparable to FID.
func Frechet(real, gen []float64, d int) (float64, error) {
	if _, err := checkSet("real", real, d); err != nil {
		return 0, err
	}
	if _, err := checkSet("generated", gen, d); err != nil {
		return 0, err
	}
	if len(real)/d < 2 || len(gen)/d < 2 {
		return 0, fmt.Errorf("metrics: Frechet: each set needs at least 2 points (got %d real, %d generated)", len(real)/d, len(gen)/d)
	}
	mr, cr := moments(real, d)
	mg, cg := moments(gen, d)
	return FrechetGaussians(mr, cr, mg, cg)
}

// moments returns the mean and the unbiased covariance of a point set.
func moments(x []float64, d int) ([]float64, *mat.SymDense) {
	n := len(x) / d
	m := mat.NewDense(n, d, x)
	mean := make([]float64, d)
	for j := range d {
		mean[j] = stat.Mean(mat.Col(nil, j, m), nil)
	}
	cov := mat.NewSymDense(d, nil)
	stat.CovarianceMatrix(cov, m, nil)
	return mean, cov
}

// FrechetGaussians is the Fréchet (2-Wasserstein) distance squared between
// N(m1, c1) and N(m2, c2). The trace of (c1 c2)^½ is computed as the trace
// of the square root of the symmetric matrix c1^½ c2 c1^½, which has the
// same eigenvalues, so only symmetric eigendecompositions are needed;
// eigenvalues that rounding pushed below zero count as zero.
func FrechetGaussians(m1 []float64, c1 *mat.SymDense, m2 []float64, c2 *mat.SymDense) (float64, error) {
	d := len(m1)
	if len(m2) != d || c1.SymmetricDim() != d || c2.SymmetricDim() != d {
		return 0, fmt.Errorf("metrics: FrechetGaussians: dimensions %d, %d, %d, %d differ", d, len(m2), c1.SymmetricDim(), c2.SymmetricDim())
	}
	var dm float64
	for i := range m1 {
		dm += (m1[i] - m2[i]) * (m1[i] - m2[i])
	}
	s1, err := sqrtSym(c1)
	if err != nil {
		return 0, err
	}
	var t mat.Dense
	t.Mul(s1, c2)
	t.Mul(&t, s1)
	inner := mat.NewSymDense(d, nil)
	for i := range d {
		for j := i; j < d; j++ {
			inner.SetSym(i, j, (t.At(i, j)+t.At(j, i))/2)
		}
	}
	var es mat.EigenSym
	if !es.Factorize(inner, false) {
		return 0, fmt.Errorf("metrics: FrechetGaussians: eigendecomposition did not converge")
	}
	var trSqrt float64
	for _, v := range es.Values(nil) {
		if v > 0 {
			trSqrt += math.Sqrt(v)
		}
	}
	fd := dm + mat.Trace(c1) + mat.Trace(c2) - 2*trSqrt
	if math.IsNaN(fd) {
		return 0, fmt.Errorf("metrics: FrechetGaussians: not finite (a covariance holds NaN)")
	}
	return max(fd, 0), nil
}

// sqrtSym is the symmetric square root of a positive semi-definite matrix.
func sqrtSym(c *mat.SymDense) (*mat.Dense, error) {
	var es mat.EigenSym
	if !es.Factorize(c, true) {
		return nil, fmt.Errorf("metrics: eigendecomposition did not converge")
	}
	vals := es.Values(nil)
	var v mat.Dense
	es.VectorsTo(&v)
	d := len(vals)
	scaled := mat.NewDense(d, d, nil)
	for j, l := range vals {
		s := math.Sqrt(max(l, 0))
		for i := range d {
			scaled.Set(i, j, v.At(i, j)*s)
		}
	}
	var out mat.Dense
	out.Mul(scaled, v.T())
	return &out, nil
}
