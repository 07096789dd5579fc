package metrics

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestPRDHandHistograms(t *testing.T) {
	// With K = 2 on two far-apart point locations the clustering is exact,
	// so the curve is analytic: p_g = (0.75, 0.25), p_r = (0.25, 0.75).
	real := []float64{0, 0, 10, 10, 10, 10, 10, 10}
	gen := []float64{0, 0, 0, 0, 0, 0, 10, 10}
	res, err := PRD(real, gen, 2, rand.New(rand.NewPCG(1, 2)), PRDOptions{Clusters: 2, Angles: 1001, Runs: 2, NInit: 3, BatchSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	// P(s) = min(0.25s, 0.75) + min(0.75s, 0.25) and R = P/s (clipped); at
	// s = 1 both are 0.5. The expected F_β maxima are evaluated on the same
	// 1001-angle grid.
	wantF8, wantF18 := 0.0, 0.0
	for i := range 1001 {
		lam := 1e-10 + float64(i)*(math.Pi/2-2e-10)/1000
		s := math.Tan(lam)
		p := math.Min(0.25*s, 0.75) + math.Min(0.75*s, 0.25)
		r := math.Min(1, p/s)
		p = math.Min(1, p)
		wantF8 = math.Max(wantF8, 65*p*r/(64*p+r+1e-10))
		b2 := 1.0 / 64
		wantF18 = math.Max(wantF18, (1+b2)*p*r/(b2*p+r+1e-10))
	}
	if math.Abs(res.F8-wantF8) > 1e-9 || math.Abs(res.F1_8-wantF18) > 1e-9 {
		t.Errorf("F8, F1_8 = %g, %g; want %g, %g", res.F8, res.F1_8, wantF8, wantF18)
	}
	if want := 2 * wantF8 * wantF18 / (wantF8 + wantF18); math.Abs(res.F1-want) > 1e-9 {
		t.Errorf("F1 = %g, want %g", res.F1, want)
	}
}

// TestPRDAsymmetricRoles uses a generated set that covers only half of
// the real one: the real points sit in equal numbers on two far-apart
// locations, the generated points all on the first. With K = 2 the
// clustering is exact, p_g = (1, 0) and p_r = (½, ½), so (docs/algorithms.md §7.2)
//
//	P(s) = Σ_c min(s·p_r[c], p_g[c]) = min(s/2, 1),  R(s) = P(s)/s = min(½, 1/s):
//
// precision reaches 1, recall never exceeds ½. F_β = (1+β²)PR/(β²P + R)
// is largest at s = 2 (P = 1, R = ½) for both β:
// F_8 = 65·½/(64 + ½) = 65/129 ≈ 0.504 (recall-like) and
// F_{1/8} = (65/64)·½/(1/64 + ½) = 65/66 ≈ 0.985 (precision-like).
// Swapping the real and generated roles swaps P(s) with R(1/s), hence
// F_8 with F_{1/8}.
func TestPRDAsymmetricRoles(t *testing.T) {
	real := []float64{0, 0, 0, 0, 10, 10, 10, 10}
	gen := []float64{0, 0, 0, 0, 0, 0, 0, 0}
	const angles = 1001
	res, err := PRD(real, gen, 2, rand.New(rand.NewPCG(3, 4)), PRDOptions{Clusters: 2, Angles: angles, Runs: 3, NInit: 3, BatchSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	// The curve on the angle grid, from the formulas above.
	wantF8, wantF18 := 0.0, 0.0
	for i := range angles {
		lam := 1e-10 + float64(i)*(math.Pi/2-2e-10)/(angles-1)
		s := math.Tan(lam)
		p, r := math.Min(s/2, 1), math.Min(0.5, 1/s)
		if gp, gr := res.Precision[i], res.Recall[i]; math.Abs(gp-p) > 1e-12 || math.Abs(gr-r) > 1e-12 {
			t.Fatalf("angle %d (s = %g): P, R = %g, %g; want %g, %g", i, s, gp, gr, p, r)
		}
		wantF8 = math.Max(wantF8, 65*p*r/(64*p+r+1e-10))
		wantF18 = math.Max(wantF18, (1+1.0/64)*p*r/(p/64+r+1e-10))
	}
	if math.Abs(res.F8-wantF8) > 1e-12 || math.Abs(res.F1_8-wantF18) > 1e-12 {
		t.Errorf("F8, F1_8 = %.6f, %.6f; want %.6f, %.6f", res.F8, res.F1_8, wantF8, wantF18)
	}
	// The grid maxima are within one angle step of the continuous ones at
	// s = 2: dλ = π/2000 moves s by (1+s²)dλ ≈ 0.008 and the F's by less
	// than 0.003.
	if math.Abs(res.F8-65.0/129) > 3e-3 || math.Abs(res.F1_8-65.0/66) > 3e-3 {
		t.Errorf("F8, F1_8 = %.4f, %.4f; want ≈ 65/129 = %.4f, 65/66 = %.4f", res.F8, res.F1_8, 65.0/129, 65.0/66)
	}
	if want := 2 * wantF8 * wantF18 / (wantF8 + wantF18); math.Abs(res.F1-want) > 1e-12 {
		t.Errorf("F1 = %g, want %g", res.F1, want)
	}
}

func TestPRDErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	a := make([]float64, 20)
	if _, err := PRD(a, a[:10], 2, rng, DefaultPRDOptions(10)); err == nil {
		t.Error("expected an error for different set sizes")
	}
	if o := DefaultPRDOptions(2501); o.Clusters != 100 || o.Angles != 201 || o.Runs != 10 || o.NInit != 10 || o.BatchSize != 1024 {
		t.Errorf("DefaultPRDOptions(2501) = %+v", o)
	}
	if o := DefaultPRDOptions(2500); o.Clusters != 20 {
		t.Errorf("DefaultPRDOptions(2500).Clusters = %d, want 20", o.Clusters)
	}
}

// TestGridPRDAndKNN checks the §7.2 evidence on the §6.2 grid (s = 0.1):
// real-vs-real PRD-F1 ≈ 0.993, equal mixture weights ≈ 0.91–0.92; k-NN F1 is
// ≈ 0.99 in both cases because it ignores mixture weights.
func TestGridPRDAndKNN(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 5000
	}
	data := rand.New(rand.NewPCG(21, 22))
	real := sampleGrid(data, n, gridWeights, 0.1)
	real2 := sampleGrid(data, n, gridWeights, 0.1)
	eq := sampleGrid(data, n, equalWeights(), 0.1)

	rng := rand.New(rand.NewPCG(23, 24))
	o := DefaultPRDOptions(n)
	rr, err := PRD(real, real2, 2, rng, o)
	if err != nil {
		t.Fatal(err)
	}
	re, err := PRD(real, eq, 2, rng, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("n=%d PRD real-vs-real: F8=%.4f F1/8=%.4f F1=%.4f", n, rr.F8, rr.F1_8, rr.F1)
	t.Logf("n=%d PRD equal-weights: F8=%.4f F1/8=%.4f F1=%.4f", n, re.F8, re.F1_8, re.F1)
	if rr.F1 < 0.98 {
		t.Errorf("real-vs-real PRD F1 = %.4f, want ≥ 0.98", rr.F1)
	}
	if re.F1 < 0.88 || re.F1 > 0.95 || re.F1 >= rr.F1 {
		t.Errorf("equal-weights PRD F1 = %.4f, want in [0.88, 0.95] and < %.4f", re.F1, rr.F1)
	}

	pr, rc, err := KNNPrecisionRecall(real, real2, 2, 5)
	if err != nil {
		t.Fatal(err)
	}
	pe, rce, err := KNNPrecisionRecall(real, eq, 2, 5)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kNN real-vs-real P=%.4f R=%.4f F1=%.4f; equal-weights P=%.4f R=%.4f F1=%.4f",
		pr, rc, F1(pr, rc), pe, rce, F1(pe, rce))
	if F1(pr, rc) < 0.98 || F1(pe, rce) < 0.98 {
		t.Errorf("kNN F1 real-vs-real %.4f, equal-weights %.4f; want both ≥ 0.98", F1(pr, rc), F1(pe, rce))
	}
}

func BenchmarkPRD15000(b *testing.B) {
	data := rand.New(rand.NewPCG(31, 32))
	real := sampleGrid(data, 15000, gridWeights, 0.1)
	gen := sampleGrid(data, 15000, equalWeights(), 0.1)
	rng := rand.New(rand.NewPCG(33, 34))
	o := DefaultPRDOptions(15000)
	iters := 0
	for b.Loop() {
		if _, err := PRD(real, gen, 2, rng, o); err != nil {
			b.Fatal(err)
		}
		iters++
	}
	b.ReportMetric(float64(30000*iters)/b.Elapsed().Seconds(), "points/s")
}
