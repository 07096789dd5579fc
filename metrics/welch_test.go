package metrics

import (
	"math"
	"testing"
)

func TestWelchSpecExamples(t *testing.T) {
	// docs/algorithms.md §7.3 checked values.
	tt, df, p := Welch(0.267, 0.077, 20, 0.071, 0.028, 20)
	if math.Abs(tt-10.7) > 0.05 || math.Abs(df-24) > 0.5 || math.Abs(p-1.33e-10)/1.33e-10 > 0.01 {
		t.Errorf("MSLE α=1.7 LIM vs DLPM: t=%.4g df=%.4g p=%.4g, want t≈10.7 df≈24 p≈1.33e-10", tt, df, p)
	}
	_, _, p = Welch(0.943, 0.021, 30, 0.923, 0.005, 30)
	if math.Abs(p-1.57e-5)/1.57e-5 > 0.01 {
		t.Errorf("F1 α=1.6 DLPM_s vs DLPM: p=%.4g, want 1.57e-5", p)
	}
	_, _, p = Welch(0.867, 0.029, 30, 0.862, 0.028, 30)
	if math.Abs(p-0.50) > 0.005 {
		t.Errorf("F1 α=2 DDPM vs DLPM: p=%.4g, want 0.50", p)
	}
}

type welchRow struct {
	name   string
	m1, s1 float64
	m2, s2 float64
	n      int
	p      float64 // printed p-value
	tol    float64 // relative tolerance
}

// Every p-value row of docs/algorithms.md §9.1 (both tables), each against the
// DLPM row in the same α column. The printed p-values have two significant
// digits and the means/stds three decimals, so a few percent of relative
// disagreement is expected; the spec notes the largest gap (5.4e−3 computed
// vs 5.0e−3 printed, LIM α=2 in Table 1), which gets a 10% tolerance.
var welchRows = []welchRow{
	// Table 1, MSLE, n = 20, LIM vs DLPM.
	{"T1 LIM α=1.5", 0.743, 0.290, 0.160, 0.128, 20, 1.0e-8, 0.05},
	{"T1 LIM α=1.6", 0.497, 0.311, 0.081, 0.078, 20, 8.6e-6, 0.05},
	{"T1 LIM α=1.7", 0.267, 0.077, 0.071, 0.028, 20, 1.3e-10, 0.05},
	{"T1 LIM α=1.8", 0.653, 0.413, 0.099, 0.044, 20, 8.8e-6, 0.05},
	{"T1 LIM α=1.9", 2.444, 1.067, 0.132, 0.101, 20, 7.9e-9, 0.05},
	{"T1 LIM α=2.0", 1.239, 0.240, 0.798, 0.601, 20, 5.0e-3, 0.10},
	// Table 2, F1, n = 30, DLPM_s vs DLPM.
	{"T2 DLPM_s α=1.5", 0.944, 0.013, 0.933, 0.018, 30, 9.0e-3, 0.05},
	{"T2 DLPM_s α=1.6", 0.943, 0.021, 0.923, 0.005, 30, 1.6e-5, 0.05},
	{"T2 DLPM_s α=1.7", 0.943, 0.010, 0.933, 0.028, 30, 7.4e-2, 0.05},
	{"T2 DLPM_s α=1.8", 0.941, 0.014, 0.923, 0.024, 30, 9.0e-4, 0.05},
	{"T2 DLPM_s α=1.9", 0.928, 0.016, 0.907, 0.034, 30, 3.9e-3, 0.05},
	// Table 2, LIM vs DLPM.
	{"T2 LIM α=1.5", 0.842, 0.039, 0.933, 0.018, 30, 1.7e-14, 0.05},
	{"T2 LIM α=1.6", 0.850, 0.046, 0.923, 0.005, 30, 1.3e-9, 0.05},
	{"T2 LIM α=1.7", 0.868, 0.034, 0.933, 0.028, 30, 5.7e-11, 0.05},
	{"T2 LIM α=1.8", 0.874, 0.030, 0.923, 0.024, 30, 3.9e-9, 0.05},
	{"T2 LIM α=1.9", 0.884, 0.017, 0.907, 0.034, 30, 1.9e-3, 0.05},
	{"T2 LIM α=2.0", 0.874, 0.027, 0.862, 0.028, 30, 9.6e-2, 0.05},
	// Table 2, DDPM vs DLPM at α = 2.
	{"T2 DDPM α=2.0", 0.867, 0.029, 0.862, 0.028, 30, 0.5, 0.05},
}

func TestWelchSpecTables(t *testing.T) {
	for _, r := range welchRows {
		tt, df, p := Welch(r.m1, r.s1, r.n, r.m2, r.s2, r.n)
		rel := math.Abs(p-r.p) / r.p
		t.Logf("%-16s t=%8.3f df=%6.2f p=%.3g (printed %.2g, rel %.3f)", r.name, tt, df, p, r.p, rel)
		if rel > r.tol {
			t.Errorf("%s: p = %.4g, printed %.2g (rel diff %.3f > %.2f)", r.name, p, r.p, rel, r.tol)
		}
	}
}

func TestWelchSymmetryAndSamples(t *testing.T) {
	t1, df1, p1 := Welch(1, 2, 10, 3, 1, 15)
	t2, df2, p2 := Welch(3, 1, 15, 1, 2, 10)
	if t1 != -t2 || df1 != df2 || math.Abs(p1-p2) > 1e-15 {
		t.Errorf("not symmetric: (%g %g %g) vs (%g %g %g)", t1, df1, p1, t2, df2, p2)
	}
	a := []float64{1, 2, 3, 4, 5}
	b := []float64{2, 4, 6, 8, 10, 12}
	m, s := MeanStd(a)
	if m != 3 || math.Abs(s-math.Sqrt(2.5)) > 1e-15 {
		t.Errorf("MeanStd = %g, %g; want 3, sqrt(2.5)", m, s)
	}
	ta, dfa, pa := WelchSamples(a, b)
	mb, sb := MeanStd(b)
	tb, dfb, pb := Welch(3, math.Sqrt(2.5), 5, mb, sb, 6)
	if ta != tb || dfa != dfb || pa != pb {
		t.Errorf("WelchSamples disagrees with Welch")
	}
	// Identical means → t = 0, p = 1.
	if _, _, p := Welch(1, 1, 5, 1, 2, 7); math.Abs(p-1) > 1e-15 {
		t.Errorf("p = %g for equal means, want 1", p)
	}
}
