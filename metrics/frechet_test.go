package metrics

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// For commuting (here diagonal) covariances the distance has the closed
// form ‖Δμ‖² + Σ (σ1ᵢ − σ2ᵢ)².
func TestFrechetGaussiansDiagonal(t *testing.T) {
	m1 := []float64{0, 1, 2}
	m2 := []float64{1, 1, 0}
	v1 := []float64{1, 4, 9}
	v2 := []float64{4, 1, 0.25}
	c1, c2 := mat.NewSymDense(3, nil), mat.NewSymDense(3, nil)
	want := 1.0 + 0 + 4
	for i := range 3 {
		c1.SetSym(i, i, v1[i])
		c2.SetSym(i, i, v2[i])
		want += math.Pow(math.Sqrt(v1[i])-math.Sqrt(v2[i]), 2)
	}
	got, err := FrechetGaussians(m1, c1, m2, c2)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got-want) > 1e-12*want {
		t.Fatalf("FD = %.15g, want %.15g", got, want)
	}
}

// A rotated pair: FD is invariant under a common rotation, so rotating
// both diagonal Gaussians keeps the closed form, while the covariances no
// longer look diagonal.
func TestFrechetGaussiansRotationInvariant(t *testing.T) {
	th := 0.7
	r := mat.NewDense(2, 2, []float64{math.Cos(th), -math.Sin(th), math.Sin(th), math.Cos(th)})
	rot := func(v []float64) *mat.SymDense {
		var a mat.Dense
		a.Mul(r, mat.NewDiagDense(2, v))
		a.Mul(&a, r.T())
		s := mat.NewSymDense(2, nil)
		for i := range 2 {
			for j := range 2 {
				s.SetSym(i, j, a.At(i, j))
			}
		}
		return s
	}
	got, err := FrechetGaussians([]float64{0, 0}, rot([]float64{1, 9}), []float64{0, 0}, rot([]float64{4, 1}))
	if err != nil {
		t.Fatal(err)
	}
	want := 1.0 + 4.0 // (1−2)² + (3−1)²
	if math.Abs(got-want) > 1e-10 {
		t.Fatalf("FD = %.15g, want %g", got, want)
	}
}

// From samples: two sets from the same Gaussian have FD near 0, with the
// bias of the plug-in estimate: E‖Δμ̂‖² = 2 tr Σ / n dominates, so the
// bound is a few times 2d/n; a shift of 1 in one coordinate adds 1.
func TestFrechetSamples(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 3))
	const n, d = 4000, 8
	a := gaussian(rng, n, d, 0)
	b := gaussian(rng, n, d, 0)
	c := gaussian(rng, n, d, 1)
	same, err := Frechet(a, b, d)
	if err != nil {
		t.Fatal(err)
	}
	shifted, err := Frechet(a, c, d)
	if err != nil {
		t.Fatal(err)
	}
	bias := 2.0 * d / n
	if same > 5*bias {
		t.Errorf("FD of two samples of one Gaussian = %.4g, want < %.4g", same, 5*bias)
	}
	if math.Abs(shifted-1) > 5*bias+0.1 {
		t.Errorf("FD after a unit shift = %.4g, want 1 ± %.3g", shifted, 5*bias+0.1)
	}
	if _, err := Frechet(a[:d], b, d); err == nil {
		t.Error("one real point: no error")
	}
}

// TestFrechetHandUnbiased checks the fitted moments on two-point sets:
// {0, 2} has mean 1 and unbiased variance 2, {0, 4} mean 2 and variance 8,
// so FD = (1 − 2)² + (√2 − √8)² = 1 + 2 = 3 (with the biased n
// denominator it would be 1 + (1 − 2)² = 2). In 2-D the same sets on both
// coordinates double it.
func TestFrechetHandUnbiased(t *testing.T) {
	got, err := Frechet([]float64{0, 2}, []float64{0, 4}, 1)
	if err != nil || math.Abs(got-3) > 1e-12 {
		t.Errorf("FD 1-D = %.15g, %v; want 3", got, err)
	}
	got, err = Frechet([]float64{0, 0, 2, 2}, []float64{0, 0, 4, 4}, 2)
	if err != nil || math.Abs(got-6) > 1e-12 {
		t.Errorf("FD 2-D = %.15g, %v; want 6", got, err)
	}
}
