package samplers

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/levy-ml/levy/schedule"
)

// pointMass is the exact denoiser for data concentrated at mu: the noise
// that produced x is determined by x.
type pointMass struct {
	mu     []float64
	alpha  float64
	T      int  // DLPM family: schedule length; 0 for LIM
	lim    bool // LIM parameterisation o = −ε/α (−ε at α = 2)
	sched  *schedule.DLPM
	limSch schedule.LIM
}

func (p *pointMass) Denoise(dst, x, tau []float32) error {
	d := len(p.mu)
	for i, tt := range tau {
		var mean, scale float64
		if p.lim {
			mean, scale = p.limSch.A(float64(tt)), p.limSch.B(float64(tt))
		} else {
			k := int(math.Round(float64(tt) * float64(p.T)))
			mean, scale = p.sched.BarGamma[k], p.sched.BarSigma[k]
		}
		for j := range d {
			eps := (float64(x[i*d+j]) - mean*p.mu[j]) / scale
			if p.lim {
				if p.alpha == 2 {
					eps = -eps
				} else {
					eps = -eps / p.alpha
				}
			}
			dst[i*d+j] = float32(eps)
		}
	}
	return nil
}

func TestDiscreteSamplersRecoverPointMass(t *testing.T) {
	mu := []float64{0.7, -1.3}
	for _, c := range []Config{
		{Method: DLPM, Alpha: 1.7, Steps: 50},
		{Method: DLIM, Alpha: 1.7, Steps: 25},
		{Method: DLIM, Alpha: 1.5, Steps: 25, Eta: 0.5},
		{Method: DDPM, Steps: 40},
		{Method: DDIM, Steps: 10},
	} {
		alpha := c.Alpha
		if c.Method == DDPM || c.Method == DDIM {
			alpha = 2
		}
		s, _ := schedule.NewDLPM(c.Steps, alpha)
		net := &pointMass{mu: mu, alpha: alpha, T: c.Steps, sched: s}
		x, err := Sample(net, c, 500, 2, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		// With the exact ε the last step lands on μ (Γ_1 = 1, σ̄_0 = 0);
		// only float32 rounding of the network input remains.
		for i, v := range x {
			if math.Abs(float64(v)-mu[i%2]) > 2e-4*(1+math.Abs(mu[i%2]))*float64(c.Steps) {
				t.Fatalf("%+v: x[%d] = %v, want %v", c, i, v, mu[i%2])
			}
		}
	}
}

func TestLIMSamplersApproachPointMass(t *testing.T) {
	mu := []float64{0.5, 0.25}
	for _, c := range []Config{
		{Method: LIMODE, Alpha: 1.7, Steps: 200},
		{Method: LIMODE, Alpha: 1.7, Steps: 200, Grid: schedule.GridQuadratic},
		{Method: LIMSDE, Alpha: 1.8, Steps: 500},
		{Method: LIMODE, Alpha: 2, Steps: 200},
	} {
		l, _ := schedule.NewLIM(c.Alpha)
		net := &pointMass{mu: mu, alpha: c.Alpha, lim: true, limSch: l}
		x, err := Sample(net, c, 2000, 2, rand.New(rand.NewPCG(3, 4)))
		if err != nil {
			t.Fatal(err)
		}
		// Euler steps with the exact ε: the error at t_min shrinks with
		// the step count; take the median distance to μ.
		dists := make([]float64, 0, len(x)/2)
		for i := 0; i < len(x); i += 2 {
			dists = append(dists, math.Hypot(float64(x[i])-mu[0], float64(x[i+1])-mu[1]))
		}
		med := median(dists)
		if med > 0.05 {
			t.Errorf("%+v: median distance to μ = %.4f, want < 0.05", c, med)
		}
	}
}

// gaussData is the exact denoiser for 1-D data N(m, s²) under Gaussian
// noise of variance v (1 for DDPM, 2 for DLPM at α = 2):
// E[ε | x_k] = v σ̄ (x − γ̄ m)/(γ̄² s² + v σ̄²).
type gaussData struct {
	m, s, v float64
	sched   *schedule.DLPM
}

func (g *gaussData) Denoise(dst, x, tau []float32) error {
	for i, tt := range tau {
		k := int(math.Round(float64(tt) * float64(g.sched.T)))
		gb, sb := g.sched.BarGamma[k], g.sched.BarSigma[k]
		dst[i] = float32(g.v * sb * (float64(x[i]) - gb*g.m) / (gb*gb*g.s*g.s + g.v*sb*sb))
	}
	return nil
}

func TestGaussianSamplersReproduceData(t *testing.T) {
	const n = 40000
	const m, s = 1.5, 0.4
	for _, c := range []struct {
		cfg Config
		v   float64
	}{
		{Config{Method: DDPM, Steps: 200}, 1},
		{Config{Method: DDIM, Steps: 400}, 1},
		{Config{Method: DLPM, Alpha: 2, Steps: 200}, 2},
		{Config{Method: DLIM, Alpha: 2, Steps: 400}, 2},
		// η = 1 is left out: it re-noises the posterior mean x̂₀ and so
		// loses variance by design (spec §4).
	} {
		sch, _ := schedule.NewDLPM(c.cfg.Steps, 2)
		x, err := Sample(&gaussData{m: m, s: s, v: c.v, sched: sch}, c.cfg, n, 1, rand.New(rand.NewPCG(5, 6)))
		if err != nil {
			t.Fatal(err)
		}
		var sum, sq float64
		for _, v := range x {
			sum += float64(v)
		}
		mean := sum / n
		for _, v := range x {
			sq += (float64(v) - mean) * (float64(v) - mean)
		}
		sd := math.Sqrt(sq / (n - 1))
		// Standard errors: s/√n for the mean, s/√(2n) for the sd; allow 4
		// of them plus the time-discretisation error, which shrinks like
		// 1/steps (measured at 200 steps: 1.1·s/steps for DDPM, 2.1·s/steps
		// for DLPM at α = 2; 0.7·s/steps for DDIM at 400; allow 4·s/steps).
		disc := 4 * s / float64(c.cfg.Steps)
		if math.Abs(mean-m) > 4*s/math.Sqrt(n)+disc*m/s {
			t.Errorf("%+v: mean %.4f, want %v", c.cfg, mean, m)
		}
		if math.Abs(sd-s) > 4*s/math.Sqrt(2*n)+disc {
			t.Errorf("%+v: sd %.4f, want %v", c.cfg, sd, s)
		}
	}
}

func TestDeterministicSamplersIgnoreSeedAfterInit(t *testing.T) {
	// DLIM with η = 0 uses the randomness only for the initial noise: two
	// runs with the same seed are identical, different seeds differ.
	s, _ := schedule.NewDLPM(25, 1.7)
	net := &pointMass{mu: []float64{0.1, 0.2}, alpha: 1.7, T: 25, sched: s}
	cfg := Config{Method: DLIM, Alpha: 1.7, Steps: 25}
	a, _ := Sample(net, cfg, 10, 2, rand.New(rand.NewPCG(9, 9)))
	b, _ := Sample(net, cfg, 10, 2, rand.New(rand.NewPCG(9, 9)))
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different output at %d: %v vs %v", i, a[i], b[i])
		}
	}
}

type nanNet struct{}

func (nanNet) Denoise(dst, x, tau []float32) error {
	for i := range dst {
		dst[i] = float32(math.NaN())
	}
	return nil
}

func TestErrors(t *testing.T) {
	_, err := Sample(nanNet{}, Config{Method: DLPM, Alpha: 1.7, Steps: 10}, 4, 2, rand.New(rand.NewPCG(1, 1)))
	if !errors.Is(err, ErrNotFinite) {
		t.Errorf("NaN network: err = %v, want ErrNotFinite", err)
	}
	for _, bad := range []Config{
		{Method: "euler", Alpha: 1.7, Steps: 10},
		{Method: DLPM, Alpha: 0, Steps: 10},
		{Method: DLPM, Alpha: 1.7, Steps: 1},
		{Method: DLIM, Alpha: 1.7, Steps: 10, Eta: 2},
		{Method: LIMSDE, Alpha: 1.7, Steps: 10, Grid: "log"},
	} {
		if bad.Validate() == nil {
			t.Errorf("Validate(%+v) = nil", bad)
		}
	}
}

func median(x []float64) float64 {
	c := append([]float64(nil), x...)
	for i := 1; i < len(c); i++ {
		for j := i; j > 0 && c[j] < c[j-1]; j-- {
			c[j], c[j-1] = c[j-1], c[j]
		}
	}
	return c[len(c)/2]
}

// TestLIMBetaMax: capping β changes the α = 2 Euler steps (so the option
// acts) and the sampler still lands on the data.
func TestLIMBetaMax(t *testing.T) {
	mu := []float64{0.5, 0.25}
	l, _ := schedule.NewLIM(2)
	net := &pointMass{mu: mu, alpha: 2, lim: true, limSch: l}
	var outs [2][]float32
	for i, bm := range []float64{0, 20} {
		x, err := Sample(net, Config{Method: LIMSDE, Alpha: 2, Steps: 200, BetaMax: bm}, 500, 2, rand.New(rand.NewPCG(7, 8)))
		if err != nil {
			t.Fatal(err)
		}
		outs[i] = x
		var d []float64
		for j := 0; j < len(x); j += 2 {
			d = append(d, math.Hypot(float64(x[j])-mu[0], float64(x[j+1])-mu[1]))
		}
		if m := median(d); m > 0.05 {
			t.Errorf("BetaMax %v: median distance to μ %.4f, want < 0.05", bm, m)
		}
	}
	same := true
	for i := range outs[0] {
		same = same && outs[0][i] == outs[1][i]
	}
	if same {
		t.Error("BetaMax 20 gave the same samples as no cap")
	}
	if (Config{Method: LIMSDE, Alpha: 2, Steps: 10, BetaMax: -1}).Validate() == nil {
		t.Error("BetaMax −1 accepted")
	}
}
