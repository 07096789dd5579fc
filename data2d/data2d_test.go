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
	// q₀.₇₅ = 0.9627 at α = 1.7 (spec §2.6).
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
