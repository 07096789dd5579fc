package toy2d

import (
	"fmt"
	"testing"

	"github.com/levy-ml/levy/nn/mlp"
	"github.com/levy-ml/levy/noise"
	"github.com/levy-ml/levy/samplers"
)

// BenchmarkSampler measures whole sampling runs with the real 2-D network
// (untrained weights cost the same), in points·steps per second: one
// network evaluation of one point per step.
func BenchmarkSampler(b *testing.B) {
	const n = 15000
	m, err := mlp.New(mlp.DefaultConfig(), 1)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []samplers.Config{
		{Method: samplers.DLPM, Alpha: 1.7, Steps: 100},
		{Method: samplers.DLIM, Alpha: 1.7, Steps: 25},
		{Method: samplers.LIMSDE, Alpha: 1.7, Steps: 100},
		{Method: samplers.LIMODE, Alpha: 1.7, Steps: 100},
		{Method: samplers.DDPM, Steps: 100},
	} {
		c.Clip = DefaultClip
		evals := c.Steps
		if c.Method != samplers.LIMSDE && c.Method != samplers.LIMODE {
			evals = c.Steps - 1 // the DLPM family calls the network at k = T−1 … 1
		}
		b.Run(fmt.Sprintf("%s/steps%d", c.Method, c.Steps), func(b *testing.B) {
			rng := noise.Stream(1, noise.TagSample)
			for b.Loop() {
				if _, err := samplers.Sample(m, c, n, 2, rng); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*n*float64(evals)/b.Elapsed().Seconds(), "point-steps/s")
		})
	}
}
