package noise

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// Statistical tests use fixed seeds and tolerances of about 4 standard
// errors of the estimator at the sample size used (docs/algorithms.md §2.6).

const nBig = 1_000_000

func newRNG(s uint64) *rand.Rand { return rand.New(rand.NewPCG(s, s+1)) }

func drawSym(alpha float64, n int, seed uint64) []float64 {
	rng := newRNG(seed)
	x := make([]float64, n)
	for i := range x {
		x[i] = Symmetric(rng, alpha)
	}
	return x
}

func TestSymmetricCharacteristicFunction(t *testing.T) {
	tol := 4 / math.Sqrt(nBig)
	for _, alpha := range []float64{1, 1.2, 1.5, 1.7, 1.9, 2} {
		x := drawSym(alpha, nBig, 11)
		for _, u := range []float64{0.1, 0.5, 1, 2} {
			var s float64
			for _, v := range x {
				s += math.Cos(u * v)
			}
			got, want := s/nBig, math.Exp(-math.Pow(u, alpha))
			if math.Abs(got-want) > tol {
				t.Errorf("α=%v u=%v: E cos(uX) = %.5f, want %.5f ± %.4f", alpha, u, got, want, tol)
			}
		}
	}
}

func TestMixingALaplaceTransform(t *testing.T) {
	// E exp(−λA) = exp(−(2λ)^{α/2}); exp(−λA) ∈ (0,1) so its sd ≤ 1/2.
	tol := 4 * 0.5 / math.Sqrt(nBig)
	for _, alpha := range []float64{1, 1.2, 1.5, 1.7, 1.9, 1.99} {
		rng := newRNG(12)
		a := make([]float64, nBig)
		for i := range a {
			a[i] = MixingA(rng, alpha)
			if !(a[i] > 0) || math.IsInf(a[i], 0) {
				t.Fatalf("α=%v: A = %v, want finite and > 0", alpha, a[i])
			}
		}
		for _, lam := range []float64{0.1, 0.5, 1, 2} {
			var s float64
			for _, v := range a {
				s += math.Exp(-lam * v)
			}
			got, want := s/nBig, math.Exp(-math.Pow(2*lam, alpha/2))
			if math.Abs(got-want) > tol {
				t.Errorf("α=%v λ=%v: E exp(−λA) = %.5f, want %.5f ± %.4f", alpha, lam, got, want, tol)
			}
		}
	}
	rng := newRNG(1)
	if a := MixingA(rng, 2); a != 2 {
		t.Errorf("MixingA(α=2) = %v, want exactly 2", a)
	}
}

// ecdf returns the fraction of sorted x that is ≤ q.
func ecdf(sorted []float64, q float64) float64 {
	return float64(sort.SearchFloat64s(sorted, math.Nextafter(q, math.Inf(1)))) / float64(len(sorted))
}

// The quantile table of docs/algorithms.md §2.6 (scipy ppf). Checking the empirical CDF
// at the tabulated quantile against p needs no density: its standard
// error is sqrt(p(1−p)/N).
var quantileTable = map[float64][6]float64{
	1.5: {0.9689, 2.0615, 3.0519, 7.7364, 11.9827, 34.3208},
	1.6: {0.9658, 1.9853, 2.8143, 6.2841, 9.3323, 24.7188},
	1.7: {0.9627, 1.9265, 2.6373, 5.1519, 7.2897, 17.8531},
	1.8: {0.9598, 1.8803, 2.5049, 4.2768, 5.6428, 12.588},
	1.9: {0.9568, 1.8430, 2.4043, 3.6691, 4.3676, 8.0839},
	2.0: {0.9539, 1.8124, 2.3262, 3.2900, 3.6428, 4.3702},
	1.0: {1, 3.0777, 6.3138, 31.8205, 63.6567, 318.3088}, // Cauchy: tan(π(p−½))
}
var tableP = [6]float64{.75, .9, .95, .99, .995, .999}

func checkQuantiles(t *testing.T, name string, alpha float64, x []float64) {
	t.Helper()
	sorted := slices.Clone(x)
	slices.Sort(sorted)
	n := float64(len(x))
	for i, q := range quantileTable[alpha] {
		p := tableP[i]
		tol := 4*math.Sqrt(p*(1-p)/n) + 1e-4 // + rounding of the printed quantile
		if got := ecdf(sorted, q); math.Abs(got-p) > tol {
			t.Errorf("%s α=%v: F̂(%v) = %.5f, want %.4f ± %.5f", name, alpha, q, got, p, tol)
		}
	}
}

func TestQuantileTable(t *testing.T) {
	for alpha := range quantileTable {
		checkQuantiles(t, "Symmetric", alpha, drawSym(alpha, nBig, 13))
		// The first coordinate of isotropic 3-D noise is 1-D SαS(1) too.
		g := Generator{Alpha: alpha}
		buf := make([]float32, 3*nBig/4)
		g.Fill(newRNG(14), buf, 3, nil)
		first := make([]float64, len(buf)/3)
		for i := range first {
			first[i] = float64(buf[3*i])
		}
		checkQuantiles(t, "isotropic ε₁", alpha, first)
	}
}

func TestCauchyIdentities(t *testing.T) {
	const n = nBig
	rng := newRNG(15)
	// A = 2P_{1/2} has the law of 1/Z²: P(A ≤ x) = 2(1 − Φ(1/√x)).
	a := make([]float64, n)
	for i := range a {
		a[i] = MixingA(rng, 1)
	}
	slices.Sort(a)
	std := distuv.UnitNormal
	for _, x := range []float64{0.3, 1, 2, 10, 100} {
		want := 2 * (1 - std.CDF(1/math.Sqrt(x)))
		tol := 4 * math.Sqrt(want*(1-want)/n)
		if got := ecdf(a, x); math.Abs(got-want) > tol {
			t.Errorf("α=1: P(A ≤ %v) = %.5f, want %.5f ± %.5f", x, got, want, tol)
		}
	}
	// Isotropic 2-D Cauchy: P(‖ε‖ > r) = (1 + r²)^{−1/2}; median ‖ε‖ = √3.
	g := Generator{Alpha: 1}
	buf := make([]float32, 2*n)
	g.Fill(rng, buf, 2, nil)
	norms := make([]float64, n)
	for i := range norms {
		norms[i] = math.Hypot(float64(buf[2*i]), float64(buf[2*i+1]))
	}
	slices.Sort(norms)
	for _, r := range []float64{0.5, 1, math.Sqrt(3), 5, 30} {
		want := 1 / math.Sqrt(1+r*r)
		tol := 4 * math.Sqrt(want*(1-want)/n)
		if got := 1 - ecdf(norms, r); math.Abs(got-want) > tol {
			t.Errorf("α=1 2-D: P(‖ε‖ > %v) = %.5f, want %.5f ± %.5f", r, got, want, tol)
		}
	}
	// In d dims, ‖ε‖²/d ~ F(d, 1).
	const d = 5
	buf = make([]float32, d*n/5)
	g.Fill(rng, buf, d, nil)
	f := make([]float64, n/5)
	for i := range f {
		var s float64
		for _, v := range buf[i*d : (i+1)*d] {
			s += float64(v) * float64(v)
		}
		f[i] = s / d
	}
	slices.Sort(f)
	fd := distuv.F{D1: d, D2: 1}
	for _, x := range []float64{0.5, 1, 4, 50} {
		want := fd.CDF(x)
		tol := 4 * math.Sqrt(want*(1-want)/float64(len(f)))
		if got := ecdf(f, x); math.Abs(got-want) > tol {
			t.Errorf("α=1 d=%d: P(‖ε‖²/d ≤ %v) = %.5f, want F(d,1) CDF %.5f ± %.5f", d, x, got, want, tol)
		}
	}
}

func TestIsotropyAndDependence(t *testing.T) {
	const n, d = 400_000, 3
	for _, alpha := range []float64{1.5, 1.8} {
		iso := make([]float32, n*d)
		Generator{Alpha: alpha}.Fill(newRNG(16), iso, d, nil)
		non := make([]float32, n*d)
		Generator{Alpha: alpha, NonIsotropic: true}.Fill(newRNG(17), non, d, nil)

		// The law of ⟨u, ε⟩ does not depend on the unit vector u: its CF is exp(−|s|^α).
		rng := newRNG(18)
		for range 3 {
			u := []float64{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}
			nu := math.Sqrt(u[0]*u[0] + u[1]*u[1] + u[2]*u[2])
			for _, s := range []float64{0.5, 1, 2} {
				var c float64
				for i := range n {
					p := (u[0]*float64(iso[i*d]) + u[1]*float64(iso[i*d+1]) + u[2]*float64(iso[i*d+2])) / nu
					c += math.Cos(s * p)
				}
				got, want := c/n, math.Exp(-math.Pow(s, alpha))
				if tol := 4 / math.Sqrt(n); math.Abs(got-want) > tol {
					t.Errorf("α=%v isotropic: CF along %v at %v = %.4f, want %.4f ± %.4f", alpha, u, s, got, want, tol)
				}
			}
		}
		// Tail dependence: isotropic coordinates exceed together far more
		// often than independent ones would; non-isotropic ones do not.
		q := quantileTable[alpha][3] // 99% quantile of a coordinate
		joint := func(x []float32) (pj, p1 float64) {
			var both, one int
			for i := range n {
				a, b := math.Abs(float64(x[i*d])) > q, math.Abs(float64(x[i*d+1])) > q
				if a {
					one++
				}
				if a && b {
					both++
				}
			}
			return float64(both) / n, float64(one) / n
		}
		pj, p1 := joint(iso)
		if pj < 5*p1*p1 {
			t.Errorf("α=%v isotropic: P(both) = %.5f, P(one)² = %.5f: coordinates look independent", alpha, pj, p1*p1)
		}
		pj, p1 = joint(non)
		if tol := 4 * math.Sqrt(p1*p1/n); math.Abs(pj-p1*p1) > tol {
			t.Errorf("α=%v non-isotropic: P(both) = %.6f, want P(one)² = %.6f ± %.6f", alpha, pj, p1*p1, tol)
		}
	}
}

func TestHillTailIndex(t *testing.T) {
	// Spec §2.6: Hill on the top 0.5% of ‖ε‖ gives α ± 0.1 for α ≤ 1.8.
	const n = 400_000
	for _, alpha := range []float64{1.2, 1.5, 1.8} {
		buf := make([]float32, 2*n)
		Generator{Alpha: alpha}.Fill(newRNG(19), buf, 2, nil)
		r := make([]float64, n)
		for i := range r {
			r[i] = math.Hypot(float64(buf[2*i]), float64(buf[2*i+1]))
		}
		slices.Sort(r)
		k := n / 200
		xk := r[n-k-1]
		var s float64
		for _, v := range r[n-k:] {
			s += math.Log(v / xk)
		}
		if hill := float64(k) / s; math.Abs(hill-alpha) > 0.1 {
			t.Errorf("α=%v: Hill estimate %.3f, want α ± 0.1", alpha, hill)
		}
	}
}

// ksDistance is the two-sample Kolmogorov–Smirnov statistic of sorted a, b.
func ksDistance(a, b []float64) float64 {
	var i, j int
	var d float64
	for i < len(a) && j < len(b) {
		if a[i] <= b[j] {
			i++
		} else {
			j++
		}
		d = max(d, math.Abs(float64(i)/float64(len(a))-float64(j)/float64(len(b))))
	}
	return d
}

func TestAgainstGonumAlphaStable(t *testing.T) {
	// gonum's AlphaStable uses the S1 parameterisation with CF
	// exp(−|Cu|^α(1 − iβ sign(u) tan(πα/2))): C = 1, β = 0 is our unit
	// symmetric law, and A = 2·S1(α/2, β=1, C = cos(πα/4)^{2/α}).
	const n = 200_000
	// KS critical value at level 1e-3: 1.95·sqrt(2/n).
	crit := 1.95 * math.Sqrt(2.0/n)
	for _, alpha := range []float64{1.3, 1.5, 1.7, 1.9} {
		ours := drawSym(alpha, n, 20)
		ref := distuv.AlphaStable{Alpha: alpha, Beta: 0, C: 1, Src: rand.NewPCG(21, 22)}
		theirs := make([]float64, n)
		for i := range theirs {
			theirs[i] = ref.Rand()
		}
		slices.Sort(ours)
		slices.Sort(theirs)
		if d := ksDistance(ours, theirs); d > crit {
			t.Errorf("α=%v symmetric: KS distance to gonum %.4f > %.4f", alpha, d, crit)
		}

		rng := newRNG(23)
		cA := math.Pow(math.Cos(math.Pi*alpha/4), 2/alpha)
		refA := distuv.AlphaStable{Alpha: alpha / 2, Beta: 1, C: cA, Src: rand.NewPCG(24, 25)}
		a, b := make([]float64, n), make([]float64, n)
		for i := range a {
			a[i] = MixingA(rng, alpha)
			b[i] = 2 * refA.Rand()
		}
		slices.Sort(a)
		slices.Sort(b)
		if d := ksDistance(a, b); d > crit {
			t.Errorf("α=%v mixing A: KS distance to 2·gonum S1(α/2, 1, c_A) %.4f > %.4f", alpha, d, crit)
		}
	}
}

func TestGaussianCases(t *testing.T) {
	const n = 400_000
	for _, c := range []struct {
		g       Generator
		wantVar float64
	}{
		{Generator{Alpha: 2}, 2},                   // DLPM at α = 2: N(0, 2I)
		{Generator{Alpha: 1.7, Gaussian: true}, 1}, // plain DDPM: N(0, I)
	} {
		buf := make([]float32, n)
		a := make([]float64, n/2)
		c.g.Fill(newRNG(26), buf, 2, a)
		var s float64
		for _, v := range buf {
			s += float64(v) * float64(v)
		}
		// Var of x² for N(0,v) is 2v²: tolerance 4·sqrt(2)v/√n.
		got := s / n
		if tol := 4 * math.Sqrt2 * c.wantVar / math.Sqrt(n); math.Abs(got-c.wantVar) > tol {
			t.Errorf("%+v: variance %.4f, want %v ± %.4f", c.g, got, c.wantVar, tol)
		}
		if a[0] != c.wantVar {
			t.Errorf("%+v: A = %v, want %v", c.g, a[0], c.wantVar)
		}
	}
}

func TestClamps(t *testing.T) {
	g := Generator{Alpha: 1.5, ClampA: 10, ClampEps: 3}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	rng := newRNG(27)
	var hitA int
	for range 100_000 {
		a := g.A(rng)
		if a > 10 {
			t.Fatalf("A = %v above ClampA = 10", a)
		}
		if a == 10 {
			hitA++
		}
	}
	// Spec §2.4: P(A > 10) = 9.6% at α = 1.5.
	if f := float64(hitA) / 100_000; math.Abs(f-0.096) > 0.01 {
		t.Errorf("fraction of A clamped at 10 = %.4f, want ≈ 0.096", f)
	}
	buf := make([]float32, 200_000)
	g.Fill(rng, buf, 2, nil)
	for _, v := range buf {
		if v > 3 || v < -3 {
			t.Fatalf("ε = %v outside ClampEps = 3", v)
		}
	}
	for _, bad := range []Generator{{Alpha: 0}, {Alpha: 2.1}, {Alpha: math.NaN()}, {Alpha: 1.5, ClampA: -1}, {Alpha: 1.5, ClampEps: -2}} {
		if bad.Validate() == nil {
			t.Errorf("Validate(%+v) = nil, want an error", bad)
		}
	}
}

func TestStreamReproducible(t *testing.T) {
	a, b, c := Stream(7, 1, 100), Stream(7, 1, 100), Stream(7, 1, 101)
	x, y, z := a.Uint64(), b.Uint64(), c.Uint64()
	if x != y {
		t.Errorf("same (seed, parts) gave %x and %x", x, y)
	}
	if x == z {
		t.Errorf("different step gave the same first draw %x", x)
	}
	if Stream(7, 1, 2).Uint64() == Stream(7, 2, 1).Uint64() {
		t.Errorf("Stream(7,1,2) and Stream(7,2,1) coincide: parts must be ordered")
	}
}

func TestReseedMatchesStream(t *testing.T) {
	p := rand.NewPCG(0, 0)
	r := rand.New(p)
	for step := uint64(0); step < 3; step++ {
		Reseed(p, 9, TagTrain, step, 17)
		want := Stream(9, TagTrain, step, 17)
		for i := range 5 {
			if x, y := r.Uint64(), want.Uint64(); x != y {
				t.Fatalf("step %d draw %d: Reseed gave %x, Stream %x", step, i, x, y)
			}
		}
	}
}

func BenchmarkGeneratorFill(b *testing.B) {
	for _, c := range []struct {
		name string
		g    Generator
		d    int
	}{
		{"alpha1.7/d2", Generator{Alpha: 1.7}, 2},
		{"alpha1.7/d3072", Generator{Alpha: 1.7}, 3072},
		{"alpha1.7/d2/nonisotropic", Generator{Alpha: 1.7, NonIsotropic: true}, 2},
	} {
		b.Run(c.name, func(b *testing.B) {
			const n = 1024
			buf := make([]float32, n*c.d)
			rng := newRNG(1)
			for b.Loop() {
				c.g.Fill(rng, buf, c.d, nil)
			}
			b.ReportMetric(float64(b.N*n*c.d)/b.Elapsed().Seconds(), "values/s")
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "samples/s")
		})
	}
	b.Run("MixingA/alpha1.7", func(b *testing.B) {
		rng := newRNG(1)
		var s float64
		for b.Loop() {
			s += MixingA(rng, 1.7)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "samples/s")
	})
}
