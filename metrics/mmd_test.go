package metrics

import (
	"math"
	"math/rand/v2"
	"testing"
)

// mmdGaussianShift is the population MMD² between N(0, I_d) and N(δe_1, I_d)
// for the kernel exp(−‖x−y‖²/(2h²)): with z = x − y ~ N(·, 2I),
// E k = (h²/(h²+2))^{d/2} exp(−‖μ_z‖²/(2(h²+2))).
func mmdGaussianShift(d int, delta, h float64) float64 {
	c := math.Pow(h*h/(h*h+2), float64(d)/2)
	return 2 * c * (1 - math.Exp(-delta*delta/(2*(h*h+2))))
}

func TestMMD(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	const n = 2000
	x := gaussian(rng, n, 2, 0)
	y := gaussian(rng, n, 2, 0)
	z := gaussian(rng, n, 2, 1)

	// Same distribution: the unbiased estimate is centred at 0 with a
	// standard deviation O(1/n) (kernel bounded by 1); allow 10/n.
	same, err := MMD(x, y, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(same) > 10.0/n {
		t.Errorf("MMD² same distribution = %g, want |.| < %g", same, 10.0/n)
	}
	// Shift by 1 along x: population value 0.10235 for h = 1. The estimator
	// fluctuates by O(1/√n): over 12 seeds at n = 2000 its sd was 0.0066, so
	// allow 0.025 (≈ 4 sd).
	shift, err := MMD(x, z, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := mmdGaussianShift(2, 1, 1)
	t.Logf("MMD² h=1: same %.5f, shifted %.5f (population %.5f)", same, shift, want)
	if math.Abs(shift-want) > 0.025 {
		t.Errorf("MMD² shifted = %g, want ≈ %g", shift, want)
	}

	// Median heuristic: pooled 2-D standard normals, distance ~ √2·Rayleigh,
	// median = √2·√(2 ln 2) ≈ 1.665.
	h := MedianDistance(x, y, 2, MMDMedianPoints)
	if math.Abs(h-2*math.Sqrt(math.Ln2)) > 0.1 {
		t.Errorf("median distance %g, want ≈ %g", h, 2*math.Sqrt(math.Ln2))
	}
	sameM, err := MMD(x, y, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	shiftM, err := MMD(x, z, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("MMD² median heuristic: same %.5f, shifted %.5f", sameM, shiftM)
	if math.Abs(sameM) > 10.0/n || shiftM < 0.05 {
		t.Errorf("median-heuristic MMD²: same %g, shifted %g", sameM, shiftM)
	}

	// Subsampling uses the first points only.
	a, _ := MMDSubsample(x, z, 2, 1, 300)
	b, _ := MMDSubsample(x[:600], z[:600], 2, 1, 0)
	if a != b {
		t.Errorf("MMDSubsample(300) = %g, first-300 full = %g", a, b)
	}
	if _, err := MMD(x[:2], y, 2, 1); err == nil {
		t.Error("expected an error for a single-point set")
	}
}

// TestMMDHand evaluates the unbiased estimator by hand on two 1-D sets of
// two points, x = {0, 1} and y = {0, 3}, with h = 1 (k(u, v) =
// exp(−(u−v)²/2)): each set has one pair, so its within-set mean is that
// pair's kernel (the n(n−1) denominator, no diagonal terms), and the cross
// mean is over all four pairs.
func TestMMDHand(t *testing.T) {
	k := func(u, v float64) float64 { return math.Exp(-(u - v) * (u - v) / 2) }
	want := k(0, 1) + k(0, 3) - 2*(k(0, 0)+k(0, 3)+k(1, 0)+k(1, 3))/4
	got, err := MMD([]float64{0, 1}, []float64{0, 3}, 1, 1)
	if err != nil || math.Abs(got-want) > 1e-15 {
		t.Errorf("MMD² = %.17g, %v; want %.17g", got, err, want)
	}
}
