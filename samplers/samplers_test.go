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
		// loses variance by design (docs/algorithms.md §4).
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

// linearNet returns ε̂ = σ̄_k^{α−1} x / (γ̄_k^α s^α + σ̄_k^α), the exact ε̂ of
// isotropic SαS(s) data (of N(0, s²) data under DDIM's N(0, I) noise at
// α = 2): a nontrivial function of x, so the output depends on the
// initial noise.
type linearNet struct {
	s     *schedule.DLPM
	alpha float64
	sd    float64
}

func (l *linearNet) Denoise(dst, x, tau []float32) error {
	d := len(x) / len(tau)
	for i, tt := range tau {
		k := int(math.Round(float64(tt) * float64(l.s.T)))
		sb := l.s.BarSigma[k]
		g := math.Pow(sb, l.alpha-1) / (math.Pow(l.s.BarGamma[k]*l.sd, l.alpha) + math.Pow(sb, l.alpha))
		for j := i * d; j < (i+1)*d; j++ {
			dst[j] = float32(g * float64(x[j]))
		}
	}
	return nil
}

// forkSource follows base until forked is set, then alt; it counts the
// draws made.
type forkSource struct {
	base, alt rand.Source
	forked    bool
	draws     int
}

func (f *forkSource) Uint64() uint64 {
	f.draws++
	if f.forked {
		return f.alt.Uint64()
	}
	return f.base.Uint64()
}

// forkAtFirstCall wraps a Denoiser: at its first call it records how many
// draws the sampler has made (all of its initial noise: docs/algorithms.md §3.6 and §4
// draw A_{0:T−1} and ε₀ before the loop) and, if fork is set, switches
// the source to the other stream.
type forkAtFirstCall struct {
	Denoiser
	src    *forkSource
	fork   bool
	before int
	called bool
}

func (f *forkAtFirstCall) Denoise(dst, x, tau []float32) error {
	if !f.called {
		f.called, f.before, f.src.forked = true, f.src.draws, f.fork
	}
	return f.Denoiser.Denoise(dst, x, tau)
}

// TestDeterministicSamplersIgnoreSeedAfterInit: DLIM and DDIM with η = 0
// use their randomness only for the initial state. Two runs with the same
// seed are identical and runs with different seeds differ everywhere;
// and a run whose random stream agrees with the plain one on every draw
// made before the first network call, then turns into an unrelated
// stream, gives the same output, having made no draw after that call.
// The same fork does change a stochastic sampler (DLIM η = 0.5, DLPM),
// which shows it reaches the draws made after the start; those samplers
// too are reproducible from their seed.
func TestDeterministicSamplersIgnoreSeedAfterInit(t *testing.T) {
	const n, d = 50, 3
	run := func(t *testing.T, cfg Config, seed uint64, fork bool) (out []float32, before, total int) {
		t.Helper()
		alpha := cfg.Alpha
		if cfg.Method == DDIM || cfg.Method == DDPM {
			alpha = 2
		}
		s, err := schedule.NewDLPM(cfg.Steps, alpha)
		if err != nil {
			t.Fatal(err)
		}
		src := &forkSource{base: rand.NewPCG(seed, 1), alt: rand.NewPCG(seed, 2)}
		net := &forkAtFirstCall{Denoiser: &linearNet{s: s, alpha: alpha, sd: 0.8}, src: src, fork: fork}
		out, err = Sample(net, cfg, n, d, rand.New(src))
		if err != nil {
			t.Fatalf("%+v: %v", cfg, err)
		}
		if len(out) != n*d {
			t.Fatalf("%+v: %d values, want %d", cfg, len(out), n*d)
		}
		for i, v := range out {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%+v: out[%d] = %v", cfg, i, v)
			}
		}
		return out, net.before, src.draws
	}
	differing := func(a, b []float32) int {
		c := 0
		for i := range a {
			if a[i] != b[i] {
				c++
			}
		}
		return c
	}
	for _, cfg := range []Config{
		{Method: DLIM, Alpha: 1.7, Steps: 25},
		{Method: DDIM, Steps: 25},
		{Method: DLIM, Alpha: 1.7, Steps: 25, Eta: 0.5},
		{Method: DLPM, Alpha: 1.7, Steps: 25},
	} {
		deterministic := cfg.Eta == 0 && (cfg.Method == DLIM || cfg.Method == DDIM)
		a, before, total := run(t, cfg, 9, false)
		b, _, _ := run(t, cfg, 9, false)
		if c := differing(a, b); c != 0 {
			t.Errorf("%+v: same seed, %d of %d values differ", cfg, c, len(a))
		}
		if c, _, _ := run(t, cfg, 10, false); differing(a, c) != len(a) {
			t.Errorf("%+v: seeds 9 and 10 agree on %d of %d values, want none", cfg, len(a)-differing(a, c), len(a))
		}
		if before == 0 {
			t.Errorf("%+v: no draw before the first network call", cfg)
		}
		f, _, _ := run(t, cfg, 9, true)
		if deterministic {
			if total != before {
				t.Errorf("%+v: %d draws after the first network call, want 0", cfg, total-before)
			}
			if c := differing(a, f); c != 0 {
				t.Errorf("%+v: a stream that forks after the initial draws changed %d of %d values", cfg, c, len(a))
			}
		} else if differing(a, f) == 0 {
			t.Errorf("%+v: forking the stream after the initial draws changed nothing", cfg)
		}
	}
}

// TestClip: with Clip = c the output is the unclipped output (same seed)
// clamped to [−c, c], value by value, and heavy-tailed samplers do reach
// both bounds.
func TestClip(t *testing.T) {
	const n, d, c = 400, 2, 3
	s, _ := schedule.NewDLPM(10, 1.5)
	l, _ := schedule.NewLIM(1.5)
	for _, tc := range []struct {
		cfg Config
		net Denoiser
	}{
		{Config{Method: DLPM, Alpha: 1.5, Steps: 10}, &linearNet{s: s, alpha: 1.5, sd: 2}},
		{Config{Method: LIMSDE, Alpha: 1.5, Steps: 10}, &limExact{alpha: 1.5, sd: 2, l: l}},
	} {
		raw, err := Sample(tc.net, tc.cfg, n, d, rand.New(rand.NewPCG(41, 42)))
		if err != nil {
			t.Fatal(err)
		}
		cfg := tc.cfg
		cfg.Clip = c
		got, err := Sample(tc.net, cfg, n, d, rand.New(rand.NewPCG(41, 42)))
		if err != nil {
			t.Fatal(err)
		}
		var lo, hi int
		for i, v := range raw {
			want := v
			switch {
			case v > c:
				want, hi = c, hi+1
			case v < -c:
				want, lo = -c, lo+1
			}
			if got[i] != want {
				t.Fatalf("%+v: out[%d] = %v, want %v (unclipped %v)", cfg, i, got[i], want, v)
			}
		}
		// The outputs are close to SαS(2) at α = 1.5, whose tail beyond 3
		// holds 10–25% (docs/algorithms.md §2.6: SαS(1) has its 75% and 90% quantiles at
		// 0.97 and 2.06), so both tails hold tens of the 800 values.
		if lo == 0 || hi == 0 {
			t.Errorf("%+v: %d values below −%v and %d above %v; the test needs both", tc.cfg, lo, c, hi, c)
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
