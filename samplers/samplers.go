package samplers

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/levy-ml/levy/noise"
	"github.com/levy-ml/levy/schedule"
)

// The samplers.
const (
	DLPM   = "dlpm"
	DLIM   = "dlim"
	LIMSDE = "lim-sde"
	LIMODE = "lim-ode"
	DDPM   = "ddpm"
	DDIM   = "ddim"
)

// Names lists every sampler.
var Names = []string{DLPM, DLIM, LIMSDE, LIMODE, DDPM, DDIM}

// ErrNotFinite is returned when the network output or the state becomes
// NaN or infinite.
var ErrNotFinite = errors.New("samplers: non-finite value")

// Config chooses a sampler and its settings.
type Config struct {
	// Method is one of Names.
	Method string
	// Alpha is the tail index of the noise the network was trained with
	// (ignored by DDPM and DDIM).
	Alpha float64
	// Steps is the number of steps: the schedule length T′ of the DLPM
	// family (T′−1 network calls, k = T′−1 … 1) or the number of LIM
	// grid intervals (Steps network calls).
	Steps int
	// Eta is DLIM/DDIM's stochasticity, in [0, 1]; 0 is deterministic.
	Eta float64
	// Grid is the LIM time grid, schedule.GridLinear (default) or
	// schedule.GridQuadratic.
	Grid string
	// ClampA and ClampEps are the truncations of docs/algorithms.md §3.7 (0 = none) of
	// the DLPM family's noise. The LIM samplers ignore them: the reference
	// LIM samples with exact noise (docs/algorithms.md §8.1).
	ClampA, ClampEps float64
	// Clip, when positive, clamps the output to [−Clip, Clip].
	Clip float64
	// BetaMax, when positive, caps β(t) in LIM's α = 2 Euler step, as the
	// LIM authors' public code does with 20 (docs/algorithms.md §5.1). 0 keeps the DLPM
	// repository's uncapped step, whose first step near T_end has
	// β·Δ ≈ 3.7 at 100 steps and can throw heavy-tailed points out.
	BetaMax float64
}

// Validate reports the first bad field by name.
func (c Config) Validate() error {
	switch c.Method {
	case DLPM, DLIM, LIMSDE, LIMODE, DDPM, DDIM:
	default:
		return fmt.Errorf("samplers: Config.Method = %q, want one of %v", c.Method, Names)
	}
	if c.Method != DDPM && c.Method != DDIM {
		if err := noise.CheckAlpha(c.Alpha); err != nil {
			return fmt.Errorf("samplers: Config.Alpha: %w", err)
		}
	}
	minSteps := 2
	if c.Method == LIMSDE || c.Method == LIMODE {
		minSteps = 1
	}
	if c.Steps < minSteps {
		return fmt.Errorf("samplers: Config.Steps = %d, want ≥ %d", c.Steps, minSteps)
	}
	if !(c.Eta >= 0 && c.Eta <= 1) {
		return fmt.Errorf("samplers: Config.Eta = %v, want in [0, 1]", c.Eta)
	}
	switch c.Grid {
	case "", schedule.GridLinear, schedule.GridQuadratic:
	default:
		return fmt.Errorf("samplers: Config.Grid = %q, want %q or %q", c.Grid, schedule.GridLinear, schedule.GridQuadratic)
	}
	if c.ClampA < 0 || c.ClampEps < 0 || c.Clip < 0 || c.BetaMax < 0 {
		return fmt.Errorf("samplers: Config.ClampA = %v, ClampEps = %v, Clip = %v, BetaMax = %v, want ≥ 0", c.ClampA, c.ClampEps, c.Clip, c.BetaMax)
	}
	return nil
}

// Sample draws n points of dimension d. It returns them row-major.
func Sample(net Denoiser, cfg Config, n, d int, rng *rand.Rand) ([]float32, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if n <= 0 || d <= 0 {
		return nil, fmt.Errorf("samplers: n = %d, d = %d, want both > 0", n, d)
	}
	var x []float64
	var err error
	switch cfg.Method {
	case DLPM, DLIM, DDPM, DDIM:
		x, err = sampleDiscrete(net, cfg, n, d, rng)
	default:
		x, err = sampleLIM(net, cfg, n, d, rng)
	}
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(x))
	for i, v := range x {
		if cfg.Clip > 0 {
			v = max(-cfg.Clip, min(cfg.Clip, v))
		}
		out[i] = float32(v)
		if math.IsInf(float64(out[i]), 0) {
			return nil, fmt.Errorf("%w: output %v overflows float32", ErrNotFinite, v)
		}
	}
	return out, nil
}

// evaluator calls the network on the float64 state, keeping float32
// buffers across steps.
type evaluator struct {
	net       Denoiser
	xb, ob    []float32
	tau       []float32
	out       []float64
	step, all int
}

func newEvaluator(net Denoiser, n, d int) *evaluator {
	return &evaluator{net: net, xb: make([]float32, n*d), ob: make([]float32, n*d),
		tau: make([]float32, n), out: make([]float64, n*d)}
}

func (e *evaluator) eval(x []float64, tau float64) ([]float64, error) {
	for i, v := range x {
		e.xb[i] = float32(v)
	}
	for i := range e.tau {
		e.tau[i] = float32(tau)
	}
	if err := e.net.Denoise(e.ob, e.xb, e.tau); err != nil {
		return nil, fmt.Errorf("samplers: network at τ = %v: %w", tau, err)
	}
	for i, v := range e.ob {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("%w: network output %v at τ = %v", ErrNotFinite, v, tau)
		}
		e.out[i] = float64(v)
	}
	return e.out, nil
}

func sampleDiscrete(net Denoiser, cfg Config, n, d int, rng *rand.Rand) ([]float64, error) {
	alpha := cfg.Alpha
	gauss := cfg.Method == DDPM || cfg.Method == DDIM
	if gauss {
		alpha = 2
	}
	// As in the reference code, Steps is the schedule length T′: the
	// network is called at k = T′−1 … 1, seeing τ = k/T′ (so sampling with
	// the training T sees exactly the training times).
	T := cfg.Steps
	s, err := schedule.NewDLPM(T, alpha)
	if err != nil {
		return nil, err
	}
	gen := noise.Generator{Alpha: alpha, Gaussian: gauss, ClampA: cfg.ClampA}
	epsGen := noise.Generator{Alpha: alpha, Gaussian: gauss, ClampEps: cfg.ClampEps}

	// Mixing variables A[i][k] and, for DLPM, Σ[i][k].
	a := make([]float64, n*T)
	for i := range n {
		gen.FillA(rng, a[i*T:(i+1)*T])
	}
	stochastic := cfg.Method == DLPM || cfg.Method == DDPM
	var sig []float64
	if stochastic {
		sig = make([]float64, n*T)
		for i := range n {
			s.Sigmas(sig[i*T:(i+1)*T], a[i*T:(i+1)*T])
		}
	}

	// x = σ̄_{T−1}·ε₀ with a fresh ε₀ (clamp_eps applies, clamp_a does not).
	e0 := make([]float32, n*d)
	epsGen.Fill(rng, e0, d, nil)
	x := make([]float64, n*d)
	for i, v := range e0 {
		x[i] = s.BarSigma[T-1] * float64(v)
	}

	ev := newEvaluator(net, n, d)
	for k := T - 1; k >= 1; k-- {
		e, err := ev.eval(x, s.Tau(k))
		if err != nil {
			return nil, err
		}
		g, sb, sbPrev := s.Gamma[k], s.BarSigma[k], s.BarSigma[k-1]
		for i := range n {
			row, er := x[i*d:(i+1)*d], e[i*d:(i+1)*d]
			if stochastic {
				sk, skPrev := sig[i*T+k], sig[i*T+k-1]
				gam := s.Posterior(k, a[i*T+k], sk)
				sd := math.Sqrt(gam * skPrev) // 0 at k = 1 since Σ_0 = 0
				for j := range row {
					row[j] = (row[j] - sb*gam*er[j]) / g
					if k > 1 {
						row[j] += sd * rng.NormFloat64()
					}
				}
				continue
			}
			// DLIM / DDIM.
			rho := cfg.Eta * sbPrev
			ce := sbPrev
			if rho > 0 {
				ce = math.Pow(max(0, math.Pow(sbPrev, alpha)-math.Pow(rho, alpha)), 1/alpha)
			}
			sn := 0.0
			if rho > 0 && k > 1 {
				sn = rho * math.Sqrt(a[i*T+k])
			}
			for j := range row {
				row[j] = (row[j]-sb*er[j])/g + ce*er[j]
				if sn > 0 {
					row[j] += sn * rng.NormFloat64()
				}
			}
		}
		if err := checkFinite(x, k); err != nil {
			return nil, err
		}
	}
	return x, nil
}

func sampleLIM(net Denoiser, cfg Config, n, d int, rng *rand.Rand) ([]float64, error) {
	l, err := schedule.NewLIM(cfg.Alpha)
	if err != nil {
		return nil, err
	}
	grid := cfg.Grid
	if grid == "" {
		grid = schedule.GridLinear
	}
	ts, err := schedule.TimeGrid(grid, cfg.Steps, schedule.LIMTMin, schedule.LIMTEnd)
	if err != nil {
		return nil, err
	}
	alpha := cfg.Alpha
	gen := noise.Generator{Alpha: alpha, Gaussian: alpha == 2} // exact noise: no clamps (docs/algorithms.md §8.1)
	buf := make([]float32, n*d)
	gen.Fill(rng, buf, d, nil)
	x := make([]float64, n*d)
	for i, v := range buf {
		x[i] = float64(v)
	}
	sde := cfg.Method == LIMSDE
	ev := newEvaluator(net, n, d)
	for i := 0; i < cfg.Steps; i++ {
		s, t := ts[i], ts[i+1]
		o, err := ev.eval(x, s)
		if err != nil {
			return nil, err
		}
		if sde {
			gen.Fill(rng, buf, d, nil)
		}
		if alpha == 2 {
			// The VP branch of the reference code: S = o/(b(s)+1e−5).
			beta := l.Beta(s)
			if cfg.BetaMax > 0 {
				beta = min(beta, cfg.BetaMax)
			}
			bd := beta * (s - t)
			inv := 1 / (l.B(s) + 1e-5)
			for j := range x {
				sc := o[j] * inv
				if sde {
					x[j] = (1+bd/2)*x[j] + bd*sc + math.Sqrt(bd)*float64(buf[j])
				} else {
					x[j] = (1+bd/2)*x[j] + bd/2*sc
				}
			}
		} else {
			r := l.A(t) / l.A(s)
			sf := math.Pow(l.B(s), 1-alpha)
			cn := math.Pow(math.Pow(r, alpha)-1, 1/alpha)
			for j := range x {
				sc := o[j] * sf
				if sde {
					x[j] = r*x[j] + alpha*alpha*(r-1)*sc + cn*float64(buf[j])
				} else {
					x[j] = r*x[j] + alpha*(r-1)*sc
				}
			}
		}
		if err := checkFinite(x, i); err != nil {
			return nil, err
		}
	}
	return x, nil
}

func checkFinite(x []float64, step int) error {
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: state %v at step %d", ErrNotFinite, v, step)
		}
	}
	return nil
}
