package data2d

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestGrid9WeightsAndSpread(t *testing.T) {
	const n = 200_000
	x := Grid9(rand.New(rand.NewPCG(1, 2)), n, 0.1)
	var count [9]int
	var sq [9]float64
	for i := range n {
		c := Component(float64(x[2*i]), float64(x[2*i+1]), 0.7)
		if c < 0 {
			t.Fatalf("point (%v, %v) is 7 std from every mean", x[2*i], x[2*i+1])
		}
		count[c]++
		dx, dy := float64(x[2*i])-float64(c/3), float64(x[2*i+1])-float64(c%3)
		sq[c] += dx*dx + dy*dy
	}
	for c, w := range GridWeights {
		got := float64(count[c]) / n
		if tol := 4 * math.Sqrt(w*(1-w)/n); math.Abs(got-w) > tol {
			t.Errorf("component %d: weight %.4f, want %.2f ± %.4f", c, got, w, tol)
		}
		// Per-axis variance: mean of dx²+dy² over 2 axes is std².
		if v := sq[c] / float64(count[c]) / 2; math.Abs(v-0.01) > 4*0.01*math.Sqrt(1/float64(count[c])) {
			t.Errorf("component %d: variance %.5f, want 0.01", c, v)
		}
	}
}

func TestSAS2DCentredHeavyTailed(t *testing.T) {
	const n = 200_000
	x := SAS2D(rand.New(rand.NewPCG(3, 4)), n, 1.7, 0.05)
	// Each coordinate is SαS with scale 0.05: P(|x| ≤ 0.05·q₀.₇₅) = 1/2,
	// q₀.₇₅ = 0.9627 at α = 1.7 (docs/algorithms.md §2.6).
	var in int
	for i := 0; i < len(x); i += 2 {
		if math.Abs(float64(x[i])) <= 0.05*0.9627 {
			in++
		}
	}
	if got := float64(in) / n; math.Abs(got-0.5) > 4*0.5/math.Sqrt(n) {
		t.Errorf("P(|x₁| ≤ 0.05·q₀.₇₅) = %.4f, want 0.5", got)
	}
}

func TestConfig(t *testing.T) {
	for _, name := range Names {
		c, err := DefaultConfig(name)
		if err != nil {
			t.Fatal(err)
		}
		x, err := Generate(c, rand.New(rand.NewPCG(1, 1)))
		if err != nil || len(x) != 2*c.N {
			t.Fatalf("%s: %d values, err %v", name, len(x), err)
		}
	}
	if _, err := DefaultConfig("moons"); err == nil {
		t.Error("DefaultConfig(moons) = nil error")
	}
	for _, bad := range []Config{{Name: NameGrid9, N: 10}, {Name: NameSAS2D, N: 10, Alpha: 3, Scale: 1}, {Name: NameGrid9, N: 0, Std: 1}} {
		if bad.Validate() == nil {
			t.Errorf("Validate(%+v) = nil", bad)
		}
	}
}

func TestSAS2DTailsAndIsotropy(t *testing.T) {
	// x = 0.05·ε with ε unit isotropic SαS(1.7) in 2-D (docs/algorithms.md §6.1), so
	// each coordinate of x/0.05 is 1-D SαS(1) and P(|x_j| > 0.05·q_p) =
	// 2(1 − p) with q_p from docs/algorithms.md §2.6 (α = 1.7: q₀.₉₉ = 5.1519,
	// q₀.₉₉₉ = 17.8531). N(0, 2) coordinates (the Gaussian A ≡ 2 mutant)
	// exceed these with probability 3e-4 and 1e-36.
	const n, alpha, scale = 200_000, 1.7, 0.05
	x := SAS2D(rand.New(rand.NewPCG(5, 6)), n, alpha, scale)
	x1, x2 := make([]float64, n), make([]float64, n)
	for i := range n {
		x1[i], x2[i] = float64(x[2*i])/scale, float64(x[2*i+1])/scale
	}
	for _, c := range []struct{ p, q float64 }{{0.99, 5.1519}, {0.999, 17.8531}} {
		// Counting both coordinates: the per-row count k ∈ {0, 1, 2} has
		// E k = 4(1−p) and Var k ≤ E k² ≤ 2 E k, so the estimate k̄/2 of
		// 2(1−p) has se ≤ sqrt(2(1−p)/n): 2.2e-4 at p = 0.99, 7.1e-5 at
		// p = 0.999 (3.5% of 0.002).
		var k int
		for i := range n {
			if math.Abs(x1[i]) > c.q {
				k++
			}
			if math.Abs(x2[i]) > c.q {
				k++
			}
		}
		got, want := float64(k)/(2*n), 2*(1-c.p)
		if tol := 5 * math.Sqrt(2*(1-c.p)/n); math.Abs(got-want) > tol {
			t.Errorf("P(|x_j| > %v·%v) = %.5f, want %.4f ± %.5f", scale, c.q, got, want, tol)
		}
	}
	// Isotropy: one A per point makes the coordinates dependent; the
	// joint exceedance of 0.05·q₀.₉₉ must be far above P(|x₁| > q)² = 4e-4,
	// the independent value (se sqrt(4e-4/n) = 4.5e-5; 5·P² is 35 of those
	// above it).
	var one, both int
	for i := range n {
		a, b := math.Abs(x1[i]) > 5.1519, math.Abs(x2[i]) > 5.1519
		if a {
			one++
		}
		if a && b {
			both++
		}
	}
	if p1, pj := float64(one)/n, float64(both)/n; pj < 5*p1*p1 {
		t.Errorf("P(both |x_j| > 0.05·q₀.₉₉) = %.5f, P(one)² = %.5f: coordinates look independent", pj, p1*p1)
	}
	// The law of ⟨e, x⟩/0.05 is that of a coordinate for every unit e: CF
	// exp(−|u|^α). E cos(uX) has se sqrt(((1+φ(2u))/2 − φ(u)²)/n); with
	// independent coordinates the diagonal would have CF
	// exp(−2^{1−α/2}|u|^α), 0.330 against 0.368 at u = 1 (27 se).
	phi := func(u float64) float64 { return math.Exp(-math.Pow(math.Abs(u), alpha)) }
	for _, e := range [][2]float64{{1, 0}, {0, 1}, {math.Sqrt2 / 2, math.Sqrt2 / 2}, {0.6, -0.8}} {
		for _, u := range []float64{0.5, 1, 2} {
			var s float64
			for i := range n {
				s += math.Cos(u * (e[0]*x1[i] + e[1]*x2[i]))
			}
			got, want := s/n, phi(u)
			if se := math.Sqrt(((1+phi(2*u))/2 - want*want) / n); math.Abs(got-want) > 5*se {
				t.Errorf("e = %v: E cos(%v⟨e, x⟩/0.05) = %.4f, want %.4f ± %.4f", e, u, got, want, 5*se)
			}
		}
	}
}

func TestDefaultConfigMatchesSpec(t *testing.T) {
	// Spec §6.1: α_data = 1.7, scale 0.05; §6.2: s = 0.1 as released; both
	// 32 000 points (2d_data.yml nsamples).
	for _, c := range []struct {
		name string
		want Config
	}{
		{NameSAS2D, Config{Name: NameSAS2D, N: 32000, Alpha: 1.7, Scale: 0.05}},
		{NameGrid9, Config{Name: NameGrid9, N: 32000, Std: 0.1}},
	} {
		got, err := DefaultConfig(c.name)
		if err != nil || got != c.want {
			t.Errorf("DefaultConfig(%q) = %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
}

func TestGenerateUsesConfig(t *testing.T) {
	// Generate must pass every field through: the same stream gives the
	// same points as the direct call with non-default parameters.
	for _, c := range []struct {
		cfg  Config
		want func(*rand.Rand) []float32
	}{
		{Config{Name: NameSAS2D, N: 50, Alpha: 1.3, Scale: 2}, func(r *rand.Rand) []float32 { return SAS2D(r, 50, 1.3, 2) }},
		{Config{Name: NameGrid9, N: 50, Std: 0.3}, func(r *rand.Rand) []float32 { return Grid9(r, 50, 0.3) }},
	} {
		got, err := Generate(c.cfg, rand.New(rand.NewPCG(7, 8)))
		if err != nil {
			t.Fatal(err)
		}
		want := c.want(rand.New(rand.NewPCG(7, 8)))
		if len(got) != len(want) {
			t.Fatalf("%+v: %d values, want %d", c.cfg, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%+v: value %d = %v, want %v", c.cfg, i, got[i], want[i])
			}
		}
	}
}

func TestGridMixtureNormalisesWeights(t *testing.T) {
	// Weights summing to 4, half on component 0 at (0, 0) and half on
	// component 8 at (2, 2): each gets ½, se sqrt(¼/n) = 0.005 at n = 1e4.
	const n = 10_000
	w := []float64{2, 0, 0, 0, 0, 0, 0, 0, 2}
	x := GridMixture(rand.New(rand.NewPCG(9, 10)), n, w, 0.05)
	var count [9]int
	for i := range n {
		c := Component(float64(x[2*i]), float64(x[2*i+1]), 0.5)
		if c < 0 {
			t.Fatalf("point (%v, %v) is 10 std from every mean", x[2*i], x[2*i+1])
		}
		count[c]++
	}
	if count[0]+count[8] != n {
		t.Errorf("counts %v: points on zero-weight components", count)
	}
	if got := float64(count[0]) / n; math.Abs(got-0.5) > 5*0.005 {
		t.Errorf("component 0: weight %.4f, want 0.5 ± 0.025 (weights normalised)", got)
	}
}
