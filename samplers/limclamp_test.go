package samplers

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/levy-ml/levy/schedule"
)

// TestLIMSamplerNoiseIsExact: docs/algorithms.md §3.7 and §8.1: the clamps act on
// DLPM's noise only; the reference LIM samples with exact noise. A LIM
// sampler given (tight) clamps must produce exactly the unclamped output;
// DLPM's output does change under the same clamps.
func TestLIMSamplerNoiseIsExact(t *testing.T) {
	mu := []float64{0.5, -0.25}
	l, _ := schedule.NewLIM(1.7)
	limNet := &pointMass{mu: mu, alpha: 1.7, lim: true, limSch: l}
	s, _ := schedule.NewDLPM(20, 1.7)
	dlpmNet := &pointMass{mu: mu, alpha: 1.7, T: 20, sched: s}
	for _, c := range []struct {
		net  Denoiser
		cfg  Config
		same bool
	}{
		{limNet, Config{Method: LIMSDE, Alpha: 1.7, Steps: 20}, true},
		{limNet, Config{Method: LIMODE, Alpha: 1.7, Steps: 20}, true},
		{dlpmNet, Config{Method: DLPM, Alpha: 1.7, Steps: 20}, false},
	} {
		a, err := Sample(c.net, c.cfg, 500, 2, rand.New(rand.NewPCG(13, 14)))
		if err != nil {
			t.Fatal(err)
		}
		clamped := c.cfg
		clamped.ClampA, clamped.ClampEps = 1, 1
		b, err := Sample(c.net, clamped, 500, 2, rand.New(rand.NewPCG(13, 14)))
		if err != nil {
			t.Fatal(err)
		}
		if same := slices.Equal(a, b); same != c.same {
			t.Errorf("%s: output with clamp_a = clamp_eps = 1 equal to the unclamped one: %v, want %v", c.cfg.Method, same, c.same)
		}
	}
}
