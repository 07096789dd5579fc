package metrics

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
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
