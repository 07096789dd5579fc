package losses

import (
	"fmt"
	"math/rand/v2"

	"github.com/levy-ml/levy/noise"
	"github.com/levy-ml/levy/samplers"
	"github.com/levy-ml/levy/schedule"
)

// The methods, as package samplers defines them (with the samplers that
// fit each).
const (
	DLPM = samplers.MethodDLPM
	LIM  = samplers.MethodLIM
	DDPM = samplers.MethodDDPM
)

// Config says how training examples are made and scored.
type Config struct {
	// Method is DLPM, LIM or DDPM.
	Method string
	// Alpha is the tail index of the diffusion noise, in (0, 2]. DDPM
	// ignores it (plain Gaussian noise).
	Alpha float64
	// T is the length of the discrete schedule (DLPM, DDPM); LIM uses
	// continuous time and ignores it.
	T int
	// ClampA and ClampEps are the truncations of docs/algorithms.md §3.7 (0 = none).
	// They act on DLPM only, and there only ClampA has an effect (ε is
	// built from the clamped A). LIM ignores both: the reference LIM
	// trains on exact noise (docs/algorithms.md §8.1), and DDPM's Gaussian noise has
	// nothing to clamp.
	ClampA, ClampEps float64
	// Loss overrides the method's loss: RMS for DLPM, MSE for DDPM,
	// SmoothL1 for LIM.
	Loss Kind
}

// DefaultLoss is the loss each method trains with.
func DefaultLoss(method string) Kind {
	switch method {
	case DLPM:
		return RMS
	case LIM:
		return SmoothL1
	}
	return MSE
}

// Validate reports the first bad field by name.
func (c Config) Validate() error {
	switch c.Method {
	case DLPM, LIM, DDPM:
	default:
		return fmt.Errorf("losses: Config.Method = %q, want %q, %q or %q", c.Method, DLPM, LIM, DDPM)
	}
	if c.Method != DDPM {
		if err := noise.CheckAlpha(c.Alpha); err != nil {
			return fmt.Errorf("losses: Config.Alpha: %w", err)
		}
	}
	if c.Method != LIM && c.T < 2 {
		return fmt.Errorf("losses: Config.T = %d, want ≥ 2", c.T)
	}
	if c.ClampA < 0 || c.ClampEps < 0 {
		return fmt.Errorf("losses: Config.ClampA = %v, ClampEps = %v, want ≥ 0", c.ClampA, c.ClampEps)
	}
	if c.Loss != "" {
		if _, err := ParseKind(string(c.Loss)); err != nil {
			return fmt.Errorf("losses: Config.Loss: %w", err)
		}
	}
	return nil
}

// Noiser makes training examples for one method.
type Noiser struct {
	cfg   Config
	loss  Kind
	sched *schedule.DLPM // DLPM, DDPM
	lim   schedule.LIM
	gen   noise.Generator
}

// NewNoiser validates cfg and builds the schedules.
func NewNoiser(cfg Config) (*Noiser, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Noiser{cfg: cfg, loss: cfg.Loss}
	if p.loss == "" {
		p.loss = DefaultLoss(cfg.Method)
	}
	var err error
	switch cfg.Method {
	case DLPM:
		p.gen = noise.Generator{Alpha: cfg.Alpha, ClampA: cfg.ClampA}
		p.sched, err = schedule.NewDLPM(cfg.T, cfg.Alpha)
	case DDPM:
		p.gen = noise.Generator{Alpha: 2, Gaussian: true}
		p.sched, err = schedule.NewDLPM(cfg.T, 2)
	case LIM:
		p.gen = noise.Generator{Alpha: cfg.Alpha} // exact noise: no clamps (docs/algorithms.md §8.1)
		if cfg.Alpha == 2 {
			p.gen.Gaussian = true // standard VP-SDE: ε ~ N(0, I)
		}
		p.lim, err = schedule.NewLIM(cfg.Alpha)
	}
	return p, err
}

// Config returns the configuration.
func (p *Noiser) Config() Config { return p.cfg }

// Loss is the loss this method trains with.
func (p *Noiser) Loss() Kind { return p.loss }

// Prepare fills xt (noised input), tau (time input) and target for the
// clean batch x0 of dimension d. All slices but tau have length n·d; tau
// has length n. eps is scratch of length d. It panics on mismatched
// lengths.
func (p *Noiser) Prepare(rng *rand.Rand, x0 []float32, d int, xt, tau, target []float32) {
	n := len(tau)
	if len(x0) != n*d || len(xt) != n*d || len(target) != n*d {
		panic(fmt.Sprintf("losses: Prepare: len(x0) = %d, len(xt) = %d, len(target) = %d, want n·d = %d", len(x0), len(xt), len(target), n*d))
	}
	for i := range n {
		row := target[i*d : (i+1)*d]
		var mean, scale float64
		switch p.cfg.Method {
		case DLPM, DDPM:
			k := 1 + rng.IntN(p.sched.T-1)
			mean, scale = p.sched.BarGamma[k], p.sched.BarSigma[k]
			tau[i] = float32(p.sched.Tau(k))
		case LIM:
			t := schedule.LIMTMin + (schedule.LIMTEnd-schedule.LIMTMin)*rng.Float64()
			mean, scale = p.lim.A(t), p.lim.B(t)
			tau[i] = float32(t)
		}
		p.gen.Fill(rng, row, d, nil)
		for j := range row {
			xt[i*d+j] = float32(mean*float64(x0[i*d+j]) + scale*float64(row[j]))
		}
		if p.cfg.Method == LIM {
			c := float32(-1 / p.cfg.Alpha)
			if p.cfg.Alpha == 2 {
				c = -1
			}
			for j := range row {
				row[j] *= c
			}
		}
	}
}
