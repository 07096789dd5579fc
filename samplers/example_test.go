package samplers_test

import (
	"fmt"
	"math"

	"github.com/levy-ml/levy/noise"
	"github.com/levy-ml/levy/samplers"
	"github.com/levy-ml/levy/schedule"
)

// pointMass is the exact ε-predicting network for data that sit at one
// point mu: a noisy x at step k was made as γ̄_k·mu + σ̄_k·ε, so ε can be
// read off x.
type pointMass struct {
	mu    []float64
	sched *schedule.DLPM
}

func (p pointMass) Denoise(dst, x, tau []float32) error {
	d, T := len(p.mu), len(p.sched.BarGamma)
	for i, t := range tau {
		k := int(math.Round(float64(t) * float64(T))) // τ = k/T
		for j, m := range p.mu {
			dst[i*d+j] = float32((float64(x[i*d+j]) - p.sched.BarGamma[k]*m) / p.sched.BarSigma[k])
		}
	}
	return nil
}

// Example runs the deterministic DLIM sampler (25 steps, α = 1.7) with the
// exact network of a point mass: every sample, started from heavy-tailed
// noise, lands on the point.
func Example() {
	cfg := samplers.Config{Method: samplers.DLIM, Alpha: 1.7, Steps: 25}
	sched, err := schedule.NewDLPM(cfg.Steps, cfg.Alpha)
	if err != nil {
		panic(err)
	}
	net := pointMass{mu: []float64{0.7, -1.3}, sched: sched}

	x, err := samplers.Sample(net, cfg, 4, 2, noise.Stream(1))
	if err != nil {
		panic(err)
	}
	for i := 0; i < len(x); i += 2 {
		fmt.Printf("(%.3f, %.3f)\n", x[i], x[i+1])
	}
	// Output:
	// (0.700, -1.300)
	// (0.700, -1.300)
	// (0.700, -1.300)
	// (0.700, -1.300)
}

// ExampleConfig_Validate shows a bad setting named by its field.
func ExampleConfig_Validate() {
	cfg := samplers.Config{Method: samplers.DLIM, Alpha: 1.7, Steps: 25, Eta: 1.5}
	fmt.Println(cfg.Validate())
	// Output:
	// samplers: Config.Eta = 1.5, want in [0, 1]
}
