package samplers

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/levy-ml/levy/schedule"
)

// BenchmarkSamplerOverhead measures the samplers' own work (noise,
// schedules, updates) with a nearly free analytic network, in
// points·steps per second. The network's cost is measured where the
// network lives (mlp, toy).
func BenchmarkSamplerOverhead(b *testing.B) {
	const n, d = 15000, 2
	for _, c := range []Config{
		{Method: DLPM, Alpha: 1.7, Steps: 100},
		{Method: DLIM, Alpha: 1.7, Steps: 25},
		{Method: LIMSDE, Alpha: 1.7, Steps: 100},
		{Method: LIMODE, Alpha: 1.7, Steps: 100},
		{Method: DDPM, Steps: 100},
	} {
		b.Run(fmt.Sprintf("%s/steps%d", c.Method, c.Steps), func(b *testing.B) {
			var net Denoiser
			switch c.Method {
			case LIMSDE, LIMODE:
				l, _ := schedule.NewLIM(c.Alpha)
				net = &pointMass{mu: []float64{0, 0}, alpha: c.Alpha, lim: true, limSch: l}
			default:
				a := c.Alpha
				if c.Method == DDPM {
					a = 2
				}
				s, _ := schedule.NewDLPM(c.Steps, a)
				net = &pointMass{mu: []float64{0, 0}, alpha: a, T: c.Steps, sched: s}
			}
			rng := rand.New(rand.NewPCG(1, 2))
			for b.Loop() {
				if _, err := Sample(net, c, n, d, rng); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*n*float64(c.Steps)/b.Elapsed().Seconds(), "point-steps/s")
		})
	}
}
