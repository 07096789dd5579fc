package noise

import (
	"math"
	"testing"
)

func TestNonIsotropicMarginals(t *testing.T) {
	// Non-isotropic noise (docs/algorithms.md §2.3): ε_j = √A_j·G_j, i.i.d. 1-D SαS(1)
	// coordinates. Each has CF exp(−|u|^α) and the 0.99 quantile of the
	// docs/algorithms.md §2.6 table; independence makes the CF of ε₁ + ε₂ the product
	// exp(−2|u|^α), where isotropic noise gives exp(−2^{α/2}|u|^α).
	// E cos(uX) over n draws has standard error sqrt(Var/n) with
	// Var = (1 + φ(2u))/2 − φ(u)² ≤ 1; the bounds are 5 of those. √2·G_j
	// (N(0, 2) coordinates) has the same CF at u = 1 but misses by 0.08 at
	// u = 0.5 and 0.04 at u = 2 (se ≤ 0.0022 at n = 1e5) and has
	// P(|ε_j| > q₀.₉₉) ≈ 4e-8 instead of 0.02.
	const n, d, alpha = 100_000, 2, 1.5
	buf := make([]float32, n*d)
	a := make([]float64, n)
	for i := range a {
		a[i] = -1
	}
	Generator{Alpha: alpha, NonIsotropic: true}.Fill(newRNG(31), buf, d, a)
	for i, v := range a {
		if v != -1 {
			t.Errorf("non-isotropic Fill wrote a[%d] = %v; it must leave a alone", i, v)
			break
		}
	}
	check := func(name string, u float64, x func(i int) float64, phi func(float64) float64) {
		t.Helper()
		var c float64
		for i := range n {
			c += math.Cos(u * x(i))
		}
		got, want := c/n, phi(u)
		se := math.Sqrt(((1+phi(2*u))/2 - want*want) / n)
		if math.Abs(got-want) > 5*se {
			t.Errorf("α=%v non-isotropic %s: E cos(%v·X) = %.4f, want %.4f ± %.4f", alpha, name, u, got, want, 5*se)
		}
	}
	unit := func(u float64) float64 { return math.Exp(-math.Pow(math.Abs(u), alpha)) }
	sum := func(u float64) float64 { return math.Exp(-2 * math.Pow(math.Abs(u), alpha)) }
	for _, u := range []float64{0.5, 1, 2} {
		check("ε₁", u, func(i int) float64 { return float64(buf[i*d]) }, unit)
		check("ε₂", u, func(i int) float64 { return float64(buf[i*d+1]) }, unit)
		check("ε₁+ε₂", u, func(i int) float64 { return float64(buf[i*d]) + float64(buf[i*d+1]) }, sum)
	}
	// Two-sided tail of each coordinate: P(|ε_j| > q₀.₉₉) = 0.02, se
	// sqrt(0.02·0.98/n) = 4.4e-4 per coordinate.
	q := quantileTable[alpha][3]
	for j := range d {
		var out int
		for i := range n {
			if math.Abs(float64(buf[i*d+j])) > q {
				out++
			}
		}
		got := float64(out) / n
		if tol := 5 * math.Sqrt(0.02*0.98/n); math.Abs(got-0.02) > tol {
			t.Errorf("α=%v non-isotropic: P(|ε%d| > %v) = %.5f, want 0.02 ± %.5f", alpha, j+1, q, got, tol)
		}
	}
}
