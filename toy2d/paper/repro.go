package repro

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/levy-ml/levy/losses"
	"github.com/levy-ml/levy/metrics"
	"github.com/levy-ml/levy/noise"
	"github.com/levy-ml/levy/samplers"
	"github.com/levy-ml/levy/toy2d"
	"github.com/levy-ml/levy/toy2d/data"
)

// The rows a table can have: the three training methods with their
// default samplers, and DLIM (a DLPM model sampled with DLIM).
const (
	DLPM = samplers.MethodDLPM
	DLIM = samplers.DLIM
	LIM  = samplers.MethodLIM
	DDPM = samplers.MethodDDPM
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
	// Failed lists the runs that gave no score (a non-finite training
	// loss, a sampler or scorer error); Mean, Std and PValue use Values,
	// the successful runs only.
	Failed []FailedRun `json:"failed,omitempty"`
}

// FailedRun is a run of a cell that gave no score, and why.
type FailedRun struct {
	Run    int    `json:"run"`
	Reason string `json:"reason"`
}

// MarshalJSON writes a NaN mean or std (a cell with fewer than two
// successful runs) as null, which encoding/json cannot otherwise encode.
func (c Cell) MarshalJSON() ([]byte, error) {
	type plain Cell
	return json.Marshal(struct {
		plain
		Mean *float64 `json:"mean"`
		Std  *float64 `json:"std"`
	}{plain(c), finiteOrNil(c.Mean), finiteOrNil(c.Std)})
}

// UnmarshalJSON reads a null mean or std back as NaN.
func (c *Cell) UnmarshalJSON(b []byte) error {
	type plain Cell
	aux := struct {
		*plain
		Mean *float64 `json:"mean"`
		Std  *float64 `json:"std"`
	}{plain: (*plain)(c)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	c.Mean, c.Std = math.NaN(), math.NaN()
	if aux.Mean != nil {
		c.Mean = *aux.Mean
	}
	if aux.Std != nil {
		c.Std = *aux.Std
	}
	return nil
}

func finiteOrNil(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// job trains one model and scores the samplers that use it.
type job struct {
	alpha  float64
	run    int
	method string   // training method: dlpm, lim or ddpm
	rows   []string // table rows it feeds
}

// result is what a job gave: per row a score, or why the row failed;
// err is set only for errors that end the whole table (cancellation, a
// bad configuration).
type result struct {
	job
	values  map[string]float64
	failed  map[string]string
	seconds map[string]float64
	err     error
}

// stages are the three steps of a run. Run uses toy's; tests substitute
// their own to inject failures without training.
type stages struct {
	train    func(ctx context.Context, tc toy2d.TrainConfig) (*toy2d.Trained, error)
	sample   func(tr *toy2d.Trained, sc toy2d.SampleConfig) ([]float32, error)
	evaluate func(dataset string, real, gen []float32, seed uint64) (toy2d.Scores, error)
}

func toyStages() stages {
	return stages{
		train: func(ctx context.Context, tc toy2d.TrainConfig) (*toy2d.Trained, error) {
			return toy2d.Train(ctx, tc, time.Hour, nil)
		},
		sample: toy2d.Sample,
		evaluate: func(dataset string, real, gen []float32, seed uint64) (toy2d.Scores, error) {
			return toy2d.Evaluate(dataset, real, gen, seed, toy2d.TableMetric)
		},
	}
}

// Run executes the protocol. Each finished training run is reported to
// logf (if not nil).
func Run(ctx context.Context, c Config, logf func(format string, args ...any)) ([]Cell, error) {
	return run(ctx, c, logf, toyStages())
}

func run(ctx context.Context, c Config, logf func(format string, args ...any), st stages) ([]Cell, error) {
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
				res := runJob(ctx, c, j, st)
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
	type score struct {
		run int
		v   float64
	}
	vals := map[key][]score{}
	fails := map[key][]FailedRun{}
	secs := map[key]float64{}
	done := 0
	for res := range out {
		if res.err != nil {
			cancel()
			return nil, res.err
		}
		done++
		for _, m := range res.rows {
			k := key{m, res.alpha}
			secs[k] += res.seconds[m]
			if why, ok := res.failed[m]; ok {
				fails[k] = append(fails[k], FailedRun{Run: res.run, Reason: why})
				logf("[%d/%d] table %d α=%.1f run %d %s: failed: %s", done, len(jobs), c.Table, res.alpha, res.run, m, why)
				continue
			}
			v := res.values[m]
			vals[k] = append(vals[k], score{res.run, v})
			logf("[%d/%d] table %d α=%.1f run %d %s: %.4f (%.1fs)", done, len(jobs), c.Table, res.alpha, res.run, m, v, res.seconds[m])
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	values := func(k key) []float64 {
		sc := vals[k]
		slices.SortFunc(sc, func(x, y score) int { return x.run - y.run })
		v := make([]float64, len(sc))
		for i, s := range sc {
			v[i] = s.v
		}
		return v
	}
	var cells []Cell
	for _, m := range c.Methods {
		for _, a := range c.Alphas {
			k := key{m, a}
			f := fails[k]
			if len(vals[k]) == 0 && len(f) == 0 {
				continue
			}
			v := values(k)
			slices.SortFunc(f, func(x, y FailedRun) int { return x.Run - y.Run })
			mean, std := metrics.MeanStd(v)
			cell := Cell{Table: c.Table, Method: m, Alpha: a, Runs: len(v) + len(f), Mean: mean, Std: std,
				Seconds: secs[k], Values: v, Epochs: c.Epochs, TrainSteps: c.Steps, Failed: f}
			if ref := values(key{DLPM, a}); m != DLPM && len(ref) > 1 && len(v) > 1 {
				if _, _, p := metrics.WelchSamples(v, ref); !math.IsNaN(p) {
					cell.PValue = &p
				}
			}
			if p, ok := PaperValue(c.Table, m, a); ok {
				cell.Paper = &p
			}
			cells = append(cells, cell)
		}
	}
	return cells, nil
}

// runSeed is the seed of run r of the cells at alpha.
func runSeed(c Config, alpha float64, r int) uint64 {
	return noise.Stream(c.Seed, uint64(c.Table), math.Float64bits(alpha), uint64(r)).Uint64()
}

// runJob trains j's model and scores each of its rows. A failed run (a
// non-finite training loss, a sampler or scorer error, a non-finite
// score) is recorded per row and does not stop the table, as the
// reference code re-initialises and goes on; cancellation and a bad
// configuration set res.err instead.
func runJob(ctx context.Context, c Config, j job, st stages) result {
	res := result{job: j, values: map[string]float64{}, failed: map[string]string{}, seconds: map[string]float64{}}
	dataset := data2d.NameSAS2D
	if c.Table == 2 {
		dataset = data2d.NameGrid9
	}
	alpha := j.alpha
	tc, err := toy2d.DefaultTrainConfig(j.method, dataset, alpha)
	if err != nil {
		res.err = err
		return res
	}
	tc.T, tc.Epochs, tc.Steps = c.T, c.Epochs, c.Steps
	if c.Table == 2 {
		tc.Data.Std = c.GridStd
	}
	tc.Seed = runSeed(c, alpha, j.run)
	if err := tc.Validate(); err != nil {
		res.err = fmt.Errorf("repro: table %d α=%v, training %s: %w", c.Table, alpha, j.method, err)
		return res
	}
	// fail records err for rows, unless the run was cancelled.
	fail := func(err error, what string, rows ...string) {
		if ctx.Err() != nil {
			res.err = ctx.Err()
			return
		}
		for _, row := range rows {
			res.failed[row] = what + ": " + err.Error()
		}
	}
	t0 := time.Now()
	tr, err := st.train(ctx, tc)
	trainSec := time.Since(t0).Seconds()
	if err != nil {
		fail(err, "training "+j.method, j.rows...)
		for _, row := range j.rows {
			res.seconds[row] = trainSec
		}
		return res
	}
	real := toy2d.RealSubset(tr.Data, c.N, tc.Seed)
	for _, row := range j.rows {
		if res.err != nil {
			return res
		}
		t1 := time.Now()
		res.seconds[row] = trainSec
		sc := toy2d.SampleConfig{Steps: c.T, N: c.N, Seed: tc.Seed + 1, Clip: toy2d.DefaultClip}
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
		gen, err := st.sample(tr, sc)
		if err != nil {
			fail(err, "sampling "+row, row)
			continue
		}
		s, err := st.evaluate(dataset, real, gen, tc.Seed)
		res.seconds[row] += time.Since(t1).Seconds()
		if err != nil {
			fail(err, "scoring "+row, row)
			continue
		}
		v := s.F1
		if c.Table == 1 {
			v = s.MSLE
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			fail(fmt.Errorf("score %v", v), "scoring "+row, row)
			continue
		}
		res.values[row] = v
	}
	return res
}
