package repro

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/levy-ml/levy/data2d"
	"github.com/levy-ml/levy/losses"
	"github.com/levy-ml/levy/metrics"
	"github.com/levy-ml/levy/noise"
	"github.com/levy-ml/levy/samplers"
	"github.com/levy-ml/levy/toy"
)

// Methods that can appear in a table.
const (
	DLPM = "dlpm"
	DLIM = "dlim"
	LIM  = "lim"
	DDPM = "ddpm"
)

// Config describes one table run.
type Config struct {
	Table     int       // 1 (MSLE, sas2d) or 2 (PRD F1, grid9)
	Alphas    []float64 // columns
	Methods   []string  // rows: dlpm, dlim, lim, ddpm
	Runs      int       // seeds per cell
	Epochs    int       // training epochs (released: 20)
	Steps     int       // training steps; overrides Epochs when > 0
	T         int       // schedule length and sampler steps (released: 100)
	DLIMSteps int       // DLIM steps (25)
	N         int       // generated and real points (15 000)
	GridStd   float64   // grid component std (0.1 released, 0.05 printed)
	Parallel  int       // runs trained at once (default: number of CPUs)
	Seed      uint64    // base seed; run r of a cell uses a seed derived from (Seed, table, α, r)
}

// DefaultConfig returns the released protocol for a table with 5 runs.
func DefaultConfig(table int) Config {
	return Config{Table: table, Alphas: []float64{1.5, 1.6, 1.7, 1.8, 1.9, 2.0},
		Methods: []string{DLPM, DLIM, LIM, DDPM}, Runs: 5, Epochs: 20, T: 100, DLIMSteps: 25,
		N: 15000, GridStd: 0.1, Parallel: runtime.NumCPU()}
}

// Validate reports the first bad field by name.
func (c Config) Validate() error {
	if c.Table != 1 && c.Table != 2 {
		return fmt.Errorf("repro: Table = %d, want 1 or 2", c.Table)
	}
	if len(c.Alphas) == 0 {
		return fmt.Errorf("repro: Alphas is empty")
	}
	for _, a := range c.Alphas {
		if err := noise.CheckAlpha(a); err != nil {
			return fmt.Errorf("repro: Alphas: %w", err)
		}
		if a <= 1 {
			return fmt.Errorf("repro: Alphas: α = %v, want > 1 (the DLPM loss needs E√A < ∞)", a)
		}
	}
	if len(c.Methods) == 0 {
		return fmt.Errorf("repro: Methods is empty")
	}
	for _, m := range c.Methods {
		if !slices.Contains([]string{DLPM, DLIM, LIM, DDPM}, m) {
			return fmt.Errorf("repro: Methods: unknown method %q (want dlpm, dlim, lim or ddpm)", m)
		}
	}
	switch {
	case c.Runs < 1:
		return fmt.Errorf("repro: Runs = %d, want ≥ 1", c.Runs)
	case c.Steps == 0 && c.Epochs < 1:
		return fmt.Errorf("repro: Epochs = %d, want ≥ 1", c.Epochs)
	case c.T < 2 || c.DLIMSteps < 2:
		return fmt.Errorf("repro: T = %d, DLIMSteps = %d, want ≥ 2", c.T, c.DLIMSteps)
	case c.N < 10:
		return fmt.Errorf("repro: N = %d, want ≥ 10", c.N)
	case c.Table == 2 && !(c.GridStd > 0):
		return fmt.Errorf("repro: GridStd = %v, want > 0", c.GridStd)
	}
	return nil
}

// Cell is one table entry.
type Cell struct {
	Table   int       `json:"table"`
	Method  string    `json:"method"`
	Alpha   float64   `json:"alpha"`
	Runs    int       `json:"runs"`
	Mean    float64   `json:"mean"`
	Std     float64   `json:"std"`
	PValue  *float64  `json:"p_value"` // Welch vs DLPM at the same α; nil for DLPM itself
	Seconds float64   `json:"seconds"` // wall time of the runs behind this cell (training counted for every sampler that uses it)
	Values  []float64 `json:"values"`
	Paper   *Paper    `json:"paper,omitempty"`
	// The training budget of the runs: epochs, or optimizer steps when > 0.
	Epochs     int `json:"epochs"`
	TrainSteps int `json:"train_steps,omitempty"`
}

// job trains one model and scores the samplers that use it.
type job struct {
	alpha  float64
	run    int
	method string   // training method: dlpm, lim or ddpm
	rows   []string // table rows it feeds
}

type result struct {
	job
	values  map[string]float64
	seconds map[string]float64
	err     error
}

// Run executes the protocol. Each finished training run is reported to
// logf (if not nil).
func Run(ctx context.Context, c Config, logf func(format string, args ...any)) ([]Cell, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	var jobs []job
	for _, a := range c.Alphas {
		for r := range c.Runs {
			var dl []string
			for _, m := range c.Methods {
				if m == DLPM || m == DLIM {
					dl = append(dl, m)
				}
			}
			if len(dl) > 0 {
				jobs = append(jobs, job{a, r, losses.DLPM, dl})
			}
			if slices.Contains(c.Methods, LIM) {
				jobs = append(jobs, job{a, r, losses.LIM, []string{LIM}})
			}
			if slices.Contains(c.Methods, DDPM) && a == 2 {
				jobs = append(jobs, job{a, r, losses.DDPM, []string{DDPM}})
			}
		}
	}
	par := c.Parallel
	if par <= 0 {
		par = runtime.NumCPU()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in := make(chan job)
	out := make(chan result)
	var wg sync.WaitGroup
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range in {
				res := runJob(ctx, c, j)
				select {
				case out <- res:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(in)
		for _, j := range jobs {
			select {
			case in <- j:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(out) }()

	type key struct {
		m string
		a float64
	}
	vals := map[key][]float64{}
	secs := map[key]float64{}
	done := 0
	for res := range out {
		if res.err != nil {
			cancel()
			return nil, res.err
		}
		done++
		for m, v := range res.values {
			k := key{m, res.alpha}
			vals[k] = append(vals[k], v)
			secs[k] += res.seconds[m]
			logf("[%d/%d] table %d α=%.1f run %d %s: %.4f (%.1fs)", done, len(jobs), c.Table, res.alpha, res.run, m, v, res.seconds[m])
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var cells []Cell
	for _, m := range c.Methods {
		for _, a := range c.Alphas {
			v, ok := vals[key{m, a}]
			if !ok {
				continue
			}
			mean, std := metrics.MeanStd(v)
			cell := Cell{Table: c.Table, Method: m, Alpha: a, Runs: len(v), Mean: mean, Std: std,
				Seconds: secs[key{m, a}], Values: v, Epochs: c.Epochs, TrainSteps: c.Steps}
			if ref, ok := vals[key{DLPM, a}]; ok && m != DLPM && len(ref) > 1 && len(v) > 1 {
				_, _, p := metrics.WelchSamples(v, ref)
				cell.PValue = &p
			}
			if p, ok := PaperValue(c.Table, m, a); ok {
				cell.Paper = &p
			}
			cells = append(cells, cell)
		}
	}
	return cells, nil
}

func runJob(ctx context.Context, c Config, j job) result {
	res := result{job: j, values: map[string]float64{}, seconds: map[string]float64{}}
	dataset := data2d.NameSAS2D
	if c.Table == 2 {
		dataset = data2d.NameGrid9
	}
	alpha := j.alpha
	tc, err := toy.DefaultTrainConfig(j.method, dataset, alpha)
	if err != nil {
		res.err = err
		return res
	}
	tc.T, tc.Epochs, tc.Steps = c.T, c.Epochs, c.Steps
	if c.Table == 2 {
		tc.Data.Std = c.GridStd
	}
	tc.Seed = noise.Stream(c.Seed, uint64(c.Table), math.Float64bits(alpha), uint64(j.run)).Uint64()
	t0 := time.Now()
	tr, err := toy.Train(ctx, tc, time.Hour, nil)
	if err != nil {
		res.err = fmt.Errorf("repro: table %d α=%v run %d, training %s: %w", c.Table, alpha, j.run, j.method, err)
		return res
	}
	trainSec := time.Since(t0).Seconds()
	real := toy.RealSubset(tr.Data, c.N, tc.Seed)
	for _, row := range j.rows {
		t1 := time.Now()
		sc := toy.SampleConfig{Steps: c.T, N: c.N, Seed: tc.Seed + 1, Clip: toy.DefaultClip}
		switch row {
		case DLPM:
			sc.Sampler = samplers.DLPM
		case DLIM:
			sc.Sampler, sc.Steps = samplers.DLIM, c.DLIMSteps
		case LIM:
			sc.Sampler = samplers.LIMSDE
		case DDPM:
			sc.Sampler = samplers.DDPM
		}
		gen, err := toy.Sample(tr, sc)
		if err != nil {
			res.err = fmt.Errorf("repro: table %d α=%v run %d, sampling %s: %w", c.Table, alpha, j.run, row, err)
			return res
		}
		s, err := toy.Evaluate(dataset, real, gen, tc.Seed, toy.TableMetric)
		if err != nil {
			res.err = fmt.Errorf("repro: table %d α=%v run %d, scoring %s: %w", c.Table, alpha, j.run, row, err)
			return res
		}
		v := s.F1
		if c.Table == 1 {
			v = s.MSLE
		}
		res.values[row] = v
		res.seconds[row] = trainSec + time.Since(t1).Seconds()
	}
	return res
}
