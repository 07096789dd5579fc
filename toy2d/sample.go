package toy2d

import (
	"fmt"
	"math/rand/v2"

	"github.com/levy-ml/levy/noise"
	"github.com/levy-ml/levy/samplers"
)

// SampleConfig chooses how to sample a trained model.
type SampleConfig struct {
	Sampler string // one of samplers.Names
	Steps   int    // sampler steps
	N       int    // points
	Seed    uint64
	Eta     float64 // DLIM / DDIM
	Grid    string  // LIM time grid
	Clip    float64 // output clamp; the reference clamps 2-D samples to [−6, 6]
	BetaMax float64 // cap on β(t) in LIM's α = 2 step (0: none, as the reference)
}

// DefaultClip is the reference code's clamp of generated 2-D points.
const DefaultClip = 6

// Sample draws sc.N points from t.
func Sample(t *Trained, sc SampleConfig) ([]float32, error) {
	if !samplers.Fits(t.Config.Method, sc.Sampler) {
		return nil, fmt.Errorf("toy: sampler %q does not fit a model trained with %q (use one of %v)", sc.Sampler, t.Config.Method, samplers.Compatible(t.Config.Method))
	}
	if sc.N <= 0 {
		return nil, fmt.Errorf("toy: N = %d, want > 0", sc.N)
	}
	cfg := samplers.Config{Method: sc.Sampler, Alpha: t.Config.Alpha, Steps: sc.Steps, Eta: sc.Eta,
		Grid: sc.Grid, ClampA: t.Config.ClampA, Clip: sc.Clip, BetaMax: sc.BetaMax}
	return samplers.Sample(t.Model, cfg, sc.N, t.Config.Model.Dim, samplerRNG(sc.Seed))
}

func samplerRNG(seed uint64) *rand.Rand { return noise.Stream(seed, noise.TagSample) }
