package losses

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestLIMNoiseIsExact: docs/algorithms.md §3.7 and §8.1: the clamps act on DLPM's A
// draws only; the reference LIM trains on exact noise. A LIM Noiser given
// (tight) clamps must therefore draw exactly what one without clamps
// draws, while DLPM's draws do change (so the clamps are not simply
// ignored everywhere).
func TestLIMNoiseIsExact(t *testing.T) {
	const n, d = 4000, 2
	x0 := make([]float32, n*d)
	prepare := func(cfg Config) (xt, target []float32) {
		p, err := NewNoiser(cfg)
		if err != nil {
			t.Fatal(err)
		}
		xt, target = make([]float32, n*d), make([]float32, n*d)
		p.Prepare(rand.New(rand.NewPCG(11, 12)), x0, d, xt, make([]float32, n), target)
		return xt, target
	}
	for _, c := range []struct {
		cfg  Config
		same bool
	}{
		{Config{Method: LIM, Alpha: 1.7}, true},
		{Config{Method: LIM, Alpha: 1.5}, true},
		{Config{Method: DLPM, Alpha: 1.7, T: 100}, false},
	} {
		xt0, tg0 := prepare(c.cfg)
		clamped := c.cfg
		clamped.ClampA, clamped.ClampEps = 1, 1
		xt1, tg1 := prepare(clamped)
		same := slices.Equal(xt0, xt1) && slices.Equal(tg0, tg1)
		if same != c.same {
			t.Errorf("%s α=%v: draws with clamp_a = clamp_eps = 1 equal to the unclamped ones: %v, want %v", c.cfg.Method, c.cfg.Alpha, same, c.same)
		}
	}
}
