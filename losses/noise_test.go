package losses

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/levy-ml/levy/schedule"
)

// The laws of the training noise (docs/algorithms.md §2.3, §3.4, §5.2–§5.3, §10.11).
// Each coordinate of ε, and its projection ⟨e, ε⟩ on a unit vector e, is
// symmetric with characteristic function φ(u) = exp(−s|u|^α):
//
//	DLPM α < 2   unit isotropic SαS, one A per sample: s = 1
//	DLPM α = 2   A ≡ 2, ε ~ N(0, 2):                  s = 1, α = 2
//	DDPM         ε ~ N(0, 1):                         s = ½, α = 2
//	LIM α < 2    unit isotropic SαS, target −ε/α
//	LIM α = 2    ε ~ N(0, 1), target −ε
//
// The empirical E cos(uX) over n draws has standard error
// sqrt(Var cos(uX)/n), Var cos(uX) = (1 + φ(2u))/2 − φ(u)², which the
// tests below use exactly (5 standard errors).

// stableCF is exp(−s|u|^α).
func stableCF(s, alpha float64) func(float64) float64 {
	return func(u float64) float64 { return math.Exp(-s * math.Pow(math.Abs(u), alpha)) }
}

// checkCF compares the empirical CF of x at u ∈ {0.5, 1, 2} with phi.
func checkCF(t *testing.T, name string, x []float64, phi func(float64) float64) {
	t.Helper()
	n := float64(len(x))
	for _, u := range []float64{0.5, 1, 2} {
		var c float64
		for _, v := range x {
			c += math.Cos(u * v)
		}
		got, want := c/n, phi(u)
		se := math.Sqrt(((1+phi(2*u))/2 - want*want) / n)
		if math.Abs(got-want) > 5*se {
			t.Errorf("%s: E cos(%v·X) = %.4f, want %.4f ± %.4f (5 se)", name, u, got, want, 5*se)
		}
	}
}

// q99 is the 0.99 quantile of 1-D SαS(1) at α = 1.7 (docs/algorithms.md §2.6).
const q99Alpha17 = 5.1519

// prepareEps runs Prepare on n clean points x₀ = 0 of dimension d and
// returns ε recovered from x_t = σ̄ε (x_t = b(t)ε for LIM), target and tau.
func prepareEps(t *testing.T, cfg Config, n, d int, seed uint64) (eps, target []float64, tau []float32) {
	t.Helper()
	p, err := NewNoiser(cfg)
	if err != nil {
		t.Fatal(err)
	}
	x0, xt, tgt := make([]float32, n*d), make([]float32, n*d), make([]float32, n*d)
	tau = make([]float32, n)
	p.Prepare(rand.New(rand.NewPCG(seed, seed+1)), x0, d, xt, tau, tgt)
	var sched *schedule.DLPM
	var lim schedule.LIM
	if cfg.Method == LIM {
		lim, err = schedule.NewLIM(cfg.Alpha)
	} else {
		alpha := cfg.Alpha
		if cfg.Method == DDPM {
			alpha = 2
		}
		sched, err = schedule.NewDLPM(cfg.T, alpha)
	}
	if err != nil {
		t.Fatal(err)
	}
	eps, target = make([]float64, n*d), make([]float64, n*d)
	for i := range n {
		var scale float64
		if cfg.Method == LIM {
			scale = lim.B(float64(tau[i]))
		} else {
			scale = sched.BarSigma[int(math.Round(float64(tau[i])*float64(cfg.T)))]
		}
		for j := range d {
			eps[i*d+j] = float64(xt[i*d+j]) / scale
			target[i*d+j] = float64(tgt[i*d+j])
		}
	}
	return eps, target, tau
}

func TestPrepareNoiseLaw(t *testing.T) {
	// n = 1e5 rows of d = 2 for α < 2, 2e4 for the Gaussian cases: the CF
	// standard errors are ≤ 1/√n, 0.0032 and 0.0071. N(0, 1) and N(0, 2)
	// differ by 0.10 in E cos(X/2) and 0.24 in E cos(X).
	const d = 2
	for ci, c := range []struct {
		name  string
		cfg   Config
		phi   func(float64) float64
		ratio float64 // target / ε
		heavy bool    // α < 2: coordinates share A
	}{
		{"DLPM α=1.7", Config{Method: DLPM, Alpha: 1.7, T: 100}, stableCF(1, 1.7), 1, true},
		{"DLPM α=2", Config{Method: DLPM, Alpha: 2, T: 100}, stableCF(1, 2), 1, false},
		{"DDPM", Config{Method: DDPM, T: 100}, stableCF(0.5, 2), 1, false},
		{"LIM α=1.7", Config{Method: LIM, Alpha: 1.7}, stableCF(1, 1.7), -1 / 1.7, true},
		{"LIM α=2", Config{Method: LIM, Alpha: 2}, stableCF(0.5, 2), -1, false},
	} {
		n := 20_000
		if c.heavy {
			n = 100_000
		}
		eps, target, _ := prepareEps(t, c.cfg, n, d, 41+2*uint64(ci))
		// The target is ε itself (DLPM, DDPM) or the rescaled score −ε/α
		// (LIM; −ε at α = 2), sign included; float32 rounding of x_t, t
		// and the target stays far below 1e-4 relative.
		for i, e := range eps {
			if want := c.ratio * e; math.Abs(target[i]-want) > 1e-4*(1+math.Abs(want)) {
				t.Fatalf("%s: target %v for ε = %v, want %v·ε = %v", c.name, target[i], e, c.ratio, want)
			}
		}
		x1, x2 := make([]float64, n), make([]float64, n)
		diag, tilt := make([]float64, n), make([]float64, n)
		for i := range n {
			x1[i], x2[i] = eps[i*d], eps[i*d+1]
			diag[i] = (x1[i] + x2[i]) / math.Sqrt2
			tilt[i] = 0.6*x1[i] + 0.8*x2[i]
		}
		// Each coordinate and each unit projection has the same CF. For
		// independent SαS coordinates (one A per coordinate) the diagonal
		// projection would have CF exp(−2^{1−α/2}|u|^α) instead: at α = 1.7,
		// u = 1 that is 0.330 against 0.368, 19 standard errors away.
		checkCF(t, c.name+" ε₁", x1, c.phi)
		checkCF(t, c.name+" ε₂", x2, c.phi)
		checkCF(t, c.name+" (ε₁+ε₂)/√2", diag, c.phi)
		checkCF(t, c.name+" 0.6ε₁+0.8ε₂", tilt, c.phi)
		if !c.heavy {
			continue
		}
		// Tails (n = 1e5): P(|ε₁| > q₀.₉₉) = 0.02, se sqrt(0.02·0.98/n) = 4.4e-4.
		// Dependence: the shared A makes both coordinates exceed q₀.₉₉
		// together far more often than P(|ε₁| > q)² = 4e-4, the independent
		// value, whose own se is sqrt(4e-4/n) = 6.3e-5; the bound 5·P² sits
		// 25 of those above it.
		var one, both int
		for i := range n {
			a, b := math.Abs(x1[i]) > q99Alpha17, math.Abs(x2[i]) > q99Alpha17
			if a {
				one++
			}
			if a && b {
				both++
			}
		}
		p1, pj := float64(one)/float64(n), float64(both)/float64(n)
		if se := math.Sqrt(0.02 * 0.98 / float64(n)); math.Abs(p1-0.02) > 5*se {
			t.Errorf("%s: P(|ε₁| > q₀.₉₉) = %.5f, want 0.02 ± %.5f", c.name, p1, 5*se)
		}
		if pj < 5*p1*p1 {
			t.Errorf("%s: P(|ε₁|, |ε₂| > q₀.₉₉) = %.5f, P(|ε₁| > q₀.₉₉)² = %.5f: coordinates look independent, want one A per sample", c.name, pj, p1*p1)
		}
	}
}

func TestPrepareTimeDraws(t *testing.T) {
	const n = 100_000
	// DLPM: k uniform on 1…T−1 (docs/algorithms.md §3.4), read back from τ = k/T.
	const T = 100
	_, _, tau := prepareEps(t, Config{Method: DLPM, Alpha: 1.7, T: T}, n, 1, 43)
	count := make([]int, T)
	for _, v := range tau {
		k := int(math.Round(float64(v) * T))
		if k < 1 || k > T-1 || math.Abs(float64(v)-float64(k)/T) > 1e-6 {
			t.Fatalf("DLPM: τ = %v is not k/T with k in 1…T−1", v)
		}
		count[k]++
	}
	// Pearson χ² over the T−1 values: T−2 = 98 degrees of freedom, mean 98,
	// sd 14; the bound is mean + 5 sd.
	e := float64(n) / (T - 1)
	var chi2 float64
	for k := 1; k < T; k++ {
		chi2 += (float64(count[k]) - e) * (float64(count[k]) - e) / e
	}
	if chi2 > 98+5*14 {
		t.Errorf("DLPM: χ² of the k counts = %.1f over 98 dof, want k uniform on 1…%d (counts k=1: %d, k=%d: %d)", chi2, T-1, count[1], T-1, count[T-1])
	}
	// LIM: t uniform on [t_min, T_end] (docs/algorithms.md §5.3). The one-sample KS
	// distance to that uniform law exceeds sqrt(ln(2/1e-6)/2)/√n = 2.69/√n
	// with probability 1e-6.
	_, _, tau = prepareEps(t, Config{Method: LIM, Alpha: 1.7}, n, 1, 44)
	u := make([]float64, n)
	for i, v := range tau {
		tt := float64(v)
		if tt < float64(float32(schedule.LIMTMin)) || tt > float64(float32(schedule.LIMTEnd)) {
			t.Fatalf("LIM: t = %v outside [t_min, T_end]", tt)
		}
		u[i] = (tt - schedule.LIMTMin) / (schedule.LIMTEnd - schedule.LIMTMin)
	}
	slices.Sort(u)
	var ks float64
	for i, v := range u {
		ks = max(ks, math.Abs(float64(i+1)/n-v), math.Abs(v-float64(i)/n))
	}
	if crit := 2.69 / math.Sqrt(n); ks > crit {
		t.Errorf("LIM: KS distance of t to U(t_min, T_end) = %.4f > %.4f", ks, crit)
	}
}

func TestPrepareDLPMClamps(t *testing.T) {
	// DLPM trains with ε = √min(A, c)·G (docs/algorithms.md §3.4): ClampA acts, ClampEps
	// has no effect. At α = 1, A has the law of 1/Z², Z ~ N(0, 1) (spec
	// §2.6), so with a = 1/√c
	//   E ε_j² = E min(A, c) = c·P(|Z| < a) + 2∫_a^∞ φ(z)/z² dz
	//          = c(2Φ(a) − 1) + 2(φ(a)/a − (1 − Φ(a))).
	// The row mean m = ‖ε‖²/2 = min(A, c)·χ²₂/2 has E m² = 2 E min(A, c)²
	// ≤ 2c², so se ≤ c·sqrt(2/n). Without the clamp (or with max for min)
	// E ε² is infinite; clipping ε at ClampEps = 0.5 would give E ε² ≤ ¼.
	const n, d, c = 100_000, 2, 4.0
	eps, _, _ := prepareEps(t, Config{Method: DLPM, Alpha: 1, T: 100, ClampA: c, ClampEps: 0.5}, n, d, 45)
	a := 1 / math.Sqrt(c)
	phiA := math.Exp(-a*a/2) / math.Sqrt(2*math.Pi)
	cdfA := 0.5 * math.Erfc(-a/math.Sqrt2)
	want := c*(2*cdfA-1) + 2*(phiA/a-(1-cdfA))
	var s, big float64
	for _, e := range eps {
		s += e * e
		big = max(big, math.Abs(e))
	}
	got := s / (n * d)
	if tol := 5 * c * math.Sqrt(2.0/n); math.Abs(got-want) > tol {
		t.Errorf("DLPM α=1 ClampA=%v: E ε² = %.4f, want E min(A, %v) = %.4f ± %.4f", c, got, c, want, tol)
	}
	if big <= 0.5 {
		t.Errorf("DLPM: max |ε| = %v ≤ ClampEps = 0.5: ClampEps must not act on DLPM training", big)
	}
}
