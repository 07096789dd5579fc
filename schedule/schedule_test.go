package schedule

import (
	"math"
	"testing"
)

func near(t *testing.T, name string, got, want, rel float64) {
	t.Helper()
	if math.Abs(got-want) > rel*math.Abs(want) {
		t.Errorf("%s = %.9g, want %.9g (rel tol %g)", name, got, want, rel)
	}
}

// Test vectors of docs/algorithms.md §3.1 (float64, checked against the reference code).
func TestDLPMVectors(t *testing.T) {
	s, err := NewDLPM(100, 1.8)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "T=100 α=1.8 γ_1", s.Gamma[1], 0.99964924, 1e-7)
	near(t, "T=100 α=1.8 σ_1", s.Sigma[1], 0.01668577, 1e-6)
	near(t, "T=100 α=1.8 γ̄_50", s.BarGamma[50], 0.675728, 1e-6)
	near(t, "T=100 α=1.8 σ̄_50", s.BarSigma[50], 0.685037, 1e-6)
	near(t, "T=100 α=1.8 γ_99", s.Gamma[99], 0.463000, 1e-6)
	near(t, "T=100 α=1.8 γ̄_99", s.BarGamma[99], 9.814e-3, 1e-4)
	near(t, "T=100 α=1.8 σ̄_99", s.BarSigma[99], 0.99986507, 1e-8)

	s, _ = NewDLPM(1000, 1.8)
	near(t, "T=1000 α=1.8 σ_1", s.Sigma[1], 0.00366711, 2e-6) // 6 printed digits
	near(t, "T=1000 α=1.8 γ̄_999", s.BarGamma[999], 7.599e-4, 1e-4)

	s, _ = NewDLPM(100, 1.5)
	near(t, "T=100 α=1.5 σ_1", s.Sigma[1], 0.00735894, 1e-6)
	near(t, "T=100 α=1.5 γ̄_99", s.BarGamma[99], 3.893e-3, 1e-3)

	s, _ = NewDLPM(1000, 2)
	near(t, "T=1000 α=2 γ_999", s.Gamma[999], 0.500001, 1e-6)
}

func TestDLPMIdentities(t *testing.T) {
	for _, alpha := range []float64{1.5, 1.7, 2} {
		s, _ := NewDLPM(100, alpha)
		if s.Gamma[0] != 1 || s.BarGamma[0] != 1 || s.Sigma[0] != 0 || s.BarSigma[0] != 0 {
			t.Errorf("α=%v: k=0 is not the identity step: %v %v %v %v", alpha, s.Gamma[0], s.BarGamma[0], s.Sigma[0], s.BarSigma[0])
		}
		prod := 1.0
		for k := 1; k < s.T; k++ {
			prod *= s.Gamma[k]
			near(t, "Π γ_j vs γ̄_k", prod, s.BarGamma[k], 1e-12)
			// Scale preserving: γ̄^α + σ̄^α = 1, and σ̄_k^α = γ_k^α σ̄_{k−1}^α + σ_k^α.
			near(t, "γ̄^α+σ̄^α", math.Pow(s.BarGamma[k], alpha)+math.Pow(s.BarSigma[k], alpha), 1, 1e-12)
			rec := math.Pow(s.Gamma[k], alpha)*math.Pow(s.BarSigma[k-1], alpha) + math.Pow(s.Sigma[k], alpha)
			near(t, "σ̄ recursion", rec, math.Pow(s.BarSigma[k], alpha), 1e-10)
		}
	}
}

func TestSigmasAndPosterior(t *testing.T) {
	s, _ := NewDLPM(50, 1.7)
	a := make([]float64, s.T)
	for k := range a {
		a[k] = 0.5 + float64(k%7)
	}
	sig := make([]float64, s.T)
	s.Sigmas(sig, a)
	if sig[0] != 0 {
		t.Fatalf("Σ_0 = %v, want 0", sig[0])
	}
	near(t, "Γ_1", s.Posterior(1, a[1], sig[1]), 1, 1e-12)
	for k := 2; k < s.T; k++ {
		g := s.Posterior(k, a[k], sig[k])
		near(t, "Γ_k two forms", g, 1-s.Gamma[k]*s.Gamma[k]*sig[k-1]/sig[k], 1e-9)
		if !(g > 0 && g <= 1) {
			t.Errorf("Γ_%d = %v outside (0, 1]", k, g)
		}
	}
	// With a ≡ 2 at α = 2 the chain is DDPM on N(0, 2I): Σ_k = 2σ̄_k².
	s2, _ := NewDLPM(50, 2)
	for k := range a {
		a[k] = 2
	}
	s2.Sigmas(sig, a)
	for k := 1; k < s2.T; k++ {
		near(t, "Σ_k at α=2", sig[k], 2*s2.BarSigma[k]*s2.BarSigma[k], 1e-10)
		// Γ_k equals the DDPM coefficient β_k/(1−ᾱ_k).
		beta := 1 - s2.Gamma[k]*s2.Gamma[k]
		near(t, "Γ_k at α=2", s2.Posterior(k, 2, sig[k]), beta/(s2.BarSigma[k]*s2.BarSigma[k]), 1e-9)
	}
}

// Test vectors of docs/algorithms.md §5.1.
func TestLIMVectors(t *testing.T) {
	l, _ := NewLIM(1.8)
	near(t, "a(0.5)", l.A(0.5), 0.7027401, 1e-6)
	near(t, "a(0.9946)", l.A(0.9946), 8.415535e-3, 1e-6)
	near(t, "a(1e-5)", l.A(1e-5), 0.9999998, 1e-7)
	near(t, "α=1.8 b(0.5)", l.B(0.5), 0.65744674, 1e-7)
	near(t, "α=1.8 b(0.9946)", l.B(0.9946), 0.99989770, 1e-8)
	near(t, "α=1.8 b(1e-5)", l.B(1e-5), 2.5901e-4, 1e-4)
	near(t, "α=1.8 β(0.5)", l.Beta(0.5), 2.840182, 1e-6)
	l, _ = NewLIM(1.5)
	near(t, "α=1.5 b(0.5)", l.B(0.5), 0.55269795, 1e-7)
	near(t, "α=1.5 b(1e-5)", l.B(1e-5), 4.397e-5, 1e-3)
	// β(t) = −α d/dt log a(t), by central differences.
	for _, tt := range []float64{0.1, 0.5, 0.9} {
		h := 1e-6
		fd := -l.Alpha * (math.Log(l.A(tt+h)) - math.Log(l.A(tt-h))) / (2 * h)
		near(t, "β vs −α dlog a/dt", l.Beta(tt), fd, 1e-6)
	}
	// DLPM's γ̄_k = a(k/T)^{2/α}: the schedules differ for α < 2 (docs/algorithms.md §5.1).
	s, _ := NewDLPM(100, 1.8)
	near(t, "γ̄_50 = a(0.5)^{2/α}", s.BarGamma[50], math.Pow(l.A(0.5), 2/1.8), 1e-9)
}

func TestTimeGrid(t *testing.T) {
	for _, kind := range []string{GridLinear, GridQuadratic} {
		ts, err := TimeGrid(kind, 10, LIMTMin, LIMTEnd)
		if err != nil {
			t.Fatal(err)
		}
		if len(ts) != 11 || math.Abs(ts[0]-LIMTEnd) > 1e-15 || math.Abs(ts[10]-LIMTMin) > 1e-15 {
			t.Errorf("%s grid: %v", kind, ts)
		}
		for i := 1; i < len(ts); i++ {
			if ts[i] >= ts[i-1] {
				t.Errorf("%s grid not decreasing at %d: %v", kind, i, ts)
			}
		}
	}
	if _, err := TimeGrid("cubic", 10, 0, 1); err == nil {
		t.Error("TimeGrid(cubic) = nil error")
	}
	if _, err := NewDLPM(1, 1.5); err == nil {
		t.Error("NewDLPM(T=1) = nil error")
	}
	if _, err := NewDLPM(10, 2.5); err == nil {
		t.Error("NewDLPM(α=2.5) = nil error")
	}
}

// TestTimeGridQuadratic checks the quadratic LIM grid of docs/algorithms.md §5.4,
// t_i = (√T_end + (i/N)(√t_min − √T_end))², against hand values and the
// closed form, and that it differs from the linear grid.
func TestTimeGridQuadratic(t *testing.T) {
	// √1 = 1 and √0.04 = 0.2, so the roots are 1, 0.8, 0.6, 0.4, 0.2 and
	// the times their squares; the linear grid would be 1, 0.76, 0.52,
	// 0.28, 0.04.
	ts, err := TimeGrid(GridQuadratic, 4, 0.04, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{1, 0.64, 0.36, 0.16, 0.04} {
		if math.Abs(ts[i]-want) > 1e-15 {
			t.Errorf("quadratic grid (N=4, 0.04…1)[%d] = %.17g, want %g", i, ts[i], want)
		}
	}
	for _, n := range []int{1, 7, 500} {
		ts, err := TimeGrid(GridQuadratic, n, LIMTMin, LIMTEnd)
		if err != nil {
			t.Fatal(err)
		}
		// Squaring the roots costs a few ulps; at t_min the cancellation in
		// √T_end + (√t_min − √T_end) leaves a relative error ~ε·√(T_end/t_min).
		if len(ts) != n+1 || math.Abs(ts[0]-LIMTEnd) > 1e-15 || math.Abs(ts[n]-LIMTMin) > 1e-12*LIMTMin {
			t.Errorf("N=%d: len %d, endpoints %.17g, %.17g; want %d, %g, %g", n, len(ts), ts[0], ts[n], n+1, LIMTEnd, LIMTMin)
			continue
		}
		for i, got := range ts {
			r := math.Sqrt(LIMTEnd) + float64(i)/float64(n)*(math.Sqrt(LIMTMin)-math.Sqrt(LIMTEnd))
			if want := r * r; math.Abs(got-want) > 1e-15 {
				t.Errorf("N=%d: t_%d = %.17g, want %.17g", n, i, got, want)
			}
			if i == 0 {
				continue
			}
			// Decreasing, with steps that shrink towards t_min (t is
			// convex in i): t_{i−1} − t_i = (2/N)(√T_end − √t_min)·√t_mid
			// where √t_mid is the mean of the two roots.
			if got >= ts[i-1] {
				t.Errorf("N=%d: not decreasing at %d", n, i)
			}
			if i >= 2 && ts[i-1]-got >= ts[i-2]-ts[i-1] {
				t.Errorf("N=%d: step %d (%g) not smaller than step %d (%g)", n, i, ts[i-1]-got, i-1, ts[i-2]-ts[i-1])
			}
		}
	}
}
