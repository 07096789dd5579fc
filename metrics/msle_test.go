package metrics

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/levy-ml/levy/toy2d/data"
)

func TestQuantileNumpyLinear(t *testing.T) {
	cases := []struct {
		x    []float64
		p, q float64
	}{
		// Values of numpy.quantile(x, p) (default method "linear"),
		// hand-computed from h = (n−1)p.
		{[]float64{1, 2, 3, 4}, 0.5, 2.5},
		{[]float64{1, 2, 3, 4}, 0.9, 3.7},
		{[]float64{1, 2, 3}, 0.25, 1.5},
		{[]float64{0, 10}, 0.33, 3.3},
		{[]float64{1, 3, 7, 15}, 0.99, 14.76},
		{[]float64{1, 3, 7, 15}, 0, 1},
		{[]float64{1, 3, 7, 15}, 1, 15},
		{[]float64{10}, 0.7, 10},
		{[]float64{-2, -1, 5}, 0.75, 2},
	}
	for _, c := range cases {
		if got := Quantile(c.x, c.p); math.Abs(got-c.q) > 1e-12 {
			t.Errorf("Quantile(%v, %g) = %.15g, want %g", c.x, c.p, got, c.q)
		}
	}
	if !math.IsNaN(Quantile(nil, 0.5)) {
		t.Errorf("Quantile of empty sample should be NaN")
	}
}

func TestMSLEIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := gaussian(rng, 1000, 3, 0)
	m, err := MSLE(x, x, 3, 0.95)
	if err != nil || m != 0 {
		t.Fatalf("MSLE(x, x) = %g, %v; want 0", m, err)
	}
}

func TestMSLEHand(t *testing.T) {
	// d = 1, real = {1..5}, gen = {1,2,3,4,9}. Levels above 0.95:
	// 0.99, 0.995, 0.999, 0.9995, 0.9999, h = 4p.
	real := []float64{3, 1, 5, 2, 4}
	gen := []float64{9, 1, 2, 3, 4}
	qr := []float64{4.96, 4.98, 4.996, 4.998, 4.9996}
	qg := []float64{8.8, 8.9, 8.98, 8.99, 8.998}
	want := 0.0
	for i := range qr {
		l := math.Log(qg[i] / qr[i])
		want += l * l
	}
	want /= 5
	got, err := MSLE(real, gen, 1, 0.95)
	if err != nil || math.Abs(got-want) > 1e-12 {
		t.Fatalf("MSLE = %.15g, %v; want %.15g", got, err, want)
	}
	// Only levels strictly above 0.999 (0.9995, 0.9999) with xi = 0.999.
	want3 := 0.0
	for i := 3; i < 5; i++ {
		l := math.Log(qg[i] / qr[i])
		want3 += l * l
	}
	want3 /= 2
	if got, _ := MSLE(real, gen, 1, 0.999); math.Abs(got-want3) > 1e-12 {
		t.Errorf("MSLE(xi=0.999) = %g, want %g", got, want3)
	}

	// d = 2: coordinate 0 identical, coordinate 1 doubled → every log-ratio
	// is ln 2, so MSLE = (ln 2)²/2.
	rng := rand.New(rand.NewPCG(3, 4))
	x := gaussian(rng, 500, 2, 0)
	y := make([]float64, len(x))
	copy(y, x)
	for i := range 500 {
		y[2*i+1] *= 2
	}
	got, err = MSLE(x, y, 2, 0.95)
	if want := math.Ln2 * math.Ln2 / 2; err != nil || math.Abs(got-want) > 1e-12 {
		t.Errorf("MSLE(doubled coordinate) = %g, %v; want %g", got, err, want)
	}
}

func TestMSLEHeavyVsGaussian(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 20000
	heavy := symPareto(rng, n, 2, 1.5)
	heavy2 := symPareto(rng, 15000, 2, 1.5)
	// Gaussian with the same median |x| (median |x| of ±U^{−1/α} is 2^{1/α}).
	sigma := math.Pow(2, 1/1.5) / 0.6744897501960817
	gauss := gaussian(rng, 15000, 2, 0)
	for i := range gauss {
		gauss[i] *= sigma
	}
	same, err := MSLE(heavy, heavy2, 2, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	diff, err := MSLE(heavy, gauss, 2, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("MSLE heavy vs heavy = %.3f, heavy vs Gaussian = %.3f", same, diff)
	// Population tail quantiles differ by a factor ~30 at 0.9999 (log ≈ 3.5),
	// and by ~5 at 0.99; the real-vs-real value is sampling noise of the top
	// few order statistics (≲ 1).
	if diff < 2 || diff < 5*same {
		t.Errorf("heavy vs Gaussian MSLE %.3f not clearly above heavy vs heavy %.3f", diff, same)
	}
}

// sas2d draws n points of the docs/algorithms.md §6.1 data (isotropic 2-D SαS with
// scale 0.05, centred at 0) as float64.
func sas2d(rng *rand.Rand, n int, alpha float64) []float64 {
	x := data2d.SAS2D(rng, n, alpha, 0.05)
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// TestMSLESpecCalibration reproduces the two §7.1 figures that tie this
// discrete MSLE to the published numbers:
//
//   - real vs real (20 000 vs 15 000 fresh points of the §6.1 data):
//     0.107 ± 0.082 over 20 repeats. (The delta method gives the same scale:
//     the log of an empirical p-quantile of a power tail of index α has
//     variance ≈ p/(α²(1−p)n), so E[MSLE] ≈ mean_{p∈U} p/(α²(1−p))·
//     (1/20000 + 1/15000) = 0.107, crude at p = 0.9999 where only 1.5–2
//     points lie above the quantile.)
//   - a Gaussian-tailed fake: ≈ 2.0.
//
// Both real-vs-real means (ours over R repeats, the spec's over 20) come
// from the same skewed distribution, whose per-repeat spread the spec
// gives as 0.082 (a sample std of only R skewed values underestimates it
// when no outlier is drawn), so the standard error of their difference is
// 0.082·√(1/R + 1/20) = 0.026 and the band is 4 of them (≈ 0.10). Mutants
// that scale the value (sum over levels ×5, sum over coordinates ×2, log10
// ×0.19) land far outside; structural ones are covered by the hand tests
// above.
func TestMSLESpecCalibration(t *testing.T) {
	const R = 20
	rng := rand.New(rand.NewPCG(11, 12))
	rr := make([]float64, R)
	fake := make([]float64, R)
	for i := range R {
		real := sas2d(rng, 20000, 1.7)
		gen := sas2d(rng, 15000, 1.7)
		// The spec does not say which Gaussian; we take the α = 2 member
		// of the same family (A ≡ 2): N(0, 2·0.05²) per coordinate.
		g := sas2d(rng, 15000, 2)
		var err error
		if rr[i], err = MSLE(real, gen, 2, 0.95); err != nil {
			t.Fatal(err)
		}
		if fake[i], err = MSLE(real, g, 2, 0.95); err != nil {
			t.Fatal(err)
		}
	}
	m, s := MeanStd(rr)
	se := 0.082 * math.Sqrt(1.0/R+1.0/20)
	t.Logf("real vs real: %.3f ± %.3f over %d repeats (spec 0.107 ± 0.082 over 20); combined SE %.3f", m, s, R, se)
	if math.Abs(m-0.107) > 4*se {
		t.Errorf("real-vs-real MSLE mean %.3f, spec 0.107: more than 4 SE (%.3f) apart", m, se)
	}
	// The fake: the spec gives one rounded figure with no spread and no
	// construction. First-order tail asymptotics of the data's coordinates
	// (SαS with scale σ = 0.05), P(X > x) ≈ C_α(σ/x)^α with
	// C_α = Γ(α)sin(πα/2)/π, give the population value for our choice:
	// mean_p (ln q_G(p) − ln q_S(p))² ≈ 2.41. Its error (the neglected
	// x^{−2α} term raises q_S at 0.99 and 0.995) and the downward bias of
	// the extreme empirical log-quantiles get an allowance of 0.25 on top of
	// 4 SE (s/√R, s measured here: the fake's spread is dominated by the
	// real set's 0.9999-quantile). Against the spec's "≈ 2.0" the allowance
	// is 0.5 instead, for the unknown construction: other natural Gaussians
	// (matched to the data's IQR or 0.95-quantile) move the value by up to
	// ±0.4.
	cf := 0.0
	const a = 1.7
	ca := math.Gamma(a) * math.Sin(math.Pi*a/2) / math.Pi
	for _, p := range MSLELevels[9:] {
		qs := 0.05 * math.Pow(ca/(1-p), 1/a)
		qg := 0.05 * math.Sqrt2 * (math.Sqrt2 * math.Erfinv(2*p-1)) // σ_G · z_p
		cf += math.Log(qg/qs) * math.Log(qg/qs) / 5
	}
	mf, sf := MeanStd(fake)
	tol := 4*sf/math.Sqrt(R) + 0.5
	t.Logf("Gaussian fake: %.3f ± %.3f over %d repeats (spec ≈ 2.0, first-order closed form %.3f); band ±%.3f", mf, sf, R, cf, tol)
	if math.Abs(mf-2.0) > tol {
		t.Errorf("Gaussian-fake MSLE mean %.3f, spec ≈ 2.0: outside ±%.3f", mf, tol)
	}
	if math.Abs(mf-cf) > 4*sf/math.Sqrt(R)+0.25 {
		t.Errorf("Gaussian-fake MSLE mean %.3f, first-order closed form %.3f: more than 4 SE + 0.25 apart", mf, cf)
	}
}

func TestMSLENonCentredError(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	x := gaussian(rng, 1000, 2, 0)
	y := gaussian(rng, 1000, 2, 0)
	for i := range 1000 {
		y[2*i+1] -= 100 // coordinate 1 entirely negative
	}
	_, err := MSLE(x, y, 2, 0.95)
	if err == nil {
		t.Fatal("expected an error for non-positive quantiles")
	}
	if msg := err.Error(); !strings.Contains(msg, "coordinate 1") || !strings.Contains(msg, "level 0.99") || !strings.Contains(msg, "centred") {
		t.Errorf("error %q should name coordinate 1, level 0.99 and centring", msg)
	}
	if _, err := MSLE(x, x, 2, 0.9999); err == nil {
		t.Error("expected an error when no level exceeds xi")
	}
	if _, err := MSLE(x[:3], x, 2, 0.95); err == nil {
		t.Error("expected an error for a length not a multiple of d")
	}
}

// TestMSLENonCentredReal checks the guard on the real set's quantiles: a
// real coordinate that is entirely negative has no logarithm at the upper
// levels, and the error names the real set.
func TestMSLENonCentredReal(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	x := gaussian(rng, 1000, 2, 0)
	y := gaussian(rng, 1000, 2, 0)
	for i := range 1000 {
		x[2*i] -= 100
	}
	_, err := MSLE(x, y, 2, 0.95)
	if err == nil {
		t.Fatal("expected an error for non-positive real quantiles")
	}
	if msg := err.Error(); !strings.Contains(msg, "real quantile") || !strings.Contains(msg, "coordinate 0") {
		t.Errorf("error %q should name the real set and coordinate 0", msg)
	}
}

func BenchmarkMSLE(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	real := symPareto(rng, 20000, 2, 1.7)
	gen := symPareto(rng, 15000, 2, 1.7)
	iters := 0
	for b.Loop() {
		if _, err := MSLE(real, gen, 2, 0.95); err != nil {
			b.Fatal(err)
		}
		iters++
	}
	b.ReportMetric(float64(35000*iters)/b.Elapsed().Seconds(), "points/s")
}
