package repro

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/levy-ml/levy/losses"
	"github.com/levy-ml/levy/metrics"
	"github.com/levy-ml/levy/nn"
	"github.com/levy-ml/levy/noise"
	"github.com/levy-ml/levy/samplers"
	"github.com/levy-ml/levy/toy2d"
	"github.com/levy-ml/levy/toy2d/data"
)

// TestFailedRunsAreRecorded injects failures through fake stages (no
// training: the "model" samples the §6.1 data directly; scoring is the
// real toy2d.Evaluate) into a 3-run table 1:
//
//   - α = 1.7, run 1: DLPM training hits a NaN loss at step 812, so the
//     DLPM and DLIM cells both lose that run;
//   - α = 2, run 0: the LIM sampler returns points whose upper quantiles
//     are negative, so the MSLE scorer fails;
//   - α = 2: DDPM training fails in runs 0 and 1 (one success: no std);
//   - α = 2: DLIM sampling fails in every run (no success at all).
//
// The table must still be produced, each cell counting its failures with
// the reason, its mean/std/p-value over the successful runs, in the JSON
// and in both text formats.
func TestFailedRunsAreRecorded(t *testing.T) {
	c := DefaultConfig(1)
	c.Alphas = []float64{1.7, 2}
	c.Methods = []string{DLPM, DLIM, LIM, DDPM}
	c.Runs, c.Steps, c.N, c.T, c.DLIMSteps, c.Parallel = 3, 10, 2000, 10, 5, 2
	runOf := map[uint64]int{}
	for _, a := range c.Alphas {
		for r := range c.Runs {
			runOf[runSeed(c, a, r)] = r
		}
	}
	st := stages{
		train: func(_ context.Context, tc toy2d.TrainConfig) (*toy2d.Trained, error) {
			r := runOf[tc.Seed]
			switch {
			case tc.Method == losses.DLPM && tc.Alpha == 1.7 && r == 1,
				tc.Method == losses.DDPM && r < 2:
				return nil, fmt.Errorf("toy: step 812: %w: loss = NaN", nn.ErrNonFinite)
			}
			tc.Data.N = c.N
			data, err := toy2d.Dataset(tc)
			return &toy2d.Trained{Config: tc, Data: data}, err
		},
		sample: func(tr *toy2d.Trained, sc toy2d.SampleConfig) ([]float32, error) {
			r := runOf[tr.Config.Seed]
			if sc.Sampler == samplers.DLIM && tr.Config.Alpha == 2 {
				return nil, fmt.Errorf("samplers: DLIM diverged")
			}
			gen := data2d.SAS2D(noise.Stream(sc.Seed), sc.N, 1.7, 0.05)
			if sc.Sampler == samplers.LIMSDE && tr.Config.Alpha == 2 && r == 0 {
				for i := range gen {
					gen[i] -= 100
				}
			}
			return gen, nil
		},
		evaluate: func(dataset string, real, gen []float32, seed uint64) (toy2d.Scores, error) {
			return toy2d.Evaluate(dataset, real, gen, seed, toy2d.TableMetric)
		},
	}
	var mu sync.Mutex
	var logs []string
	cells, err := run(context.Background(), c, func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		logs = append(logs, fmt.Sprintf(format, a...))
	}, st)
	if err != nil {
		t.Fatalf("a failed run aborted the table: %v", err)
	}
	type want struct {
		failed []int
		reason string
	}
	wants := map[string]want{
		"dlpm/1.7": {[]int{1}, "non-finite loss or gradient"},
		"dlim/1.7": {[]int{1}, "non-finite loss or gradient"},
		"lim/1.7":  {},
		"dlpm/2.0": {},
		"dlim/2.0": {[]int{0, 1, 2}, "DLIM diverged"},
		"lim/2.0":  {[]int{0}, "generated quantile"},
		"ddpm/2.0": {[]int{0, 1}, "step 812"},
	}
	byKey := map[string]Cell{}
	for _, cell := range cells {
		byKey[fmt.Sprintf("%s/%.1f", cell.Method, cell.Alpha)] = cell
	}
	if len(cells) != len(wants) {
		t.Fatalf("%d cells, want %d", len(cells), len(wants))
	}
	for key, w := range wants {
		cell, ok := byKey[key]
		if !ok {
			t.Errorf("%s: no cell", key)
			continue
		}
		if cell.Runs != c.Runs || len(cell.Values) != c.Runs-len(w.failed) || len(cell.Failed) != len(w.failed) {
			t.Errorf("%s: runs %d, %d values, %d failed; want %d, %d, %d", key, cell.Runs, len(cell.Values), len(cell.Failed), c.Runs, c.Runs-len(w.failed), len(w.failed))
			continue
		}
		for i, f := range cell.Failed {
			if f.Run != w.failed[i] || !strings.Contains(f.Reason, w.reason) {
				t.Errorf("%s: failed[%d] = %+v, want run %d because of %q", key, i, f, w.failed[i], w.reason)
			}
		}
		m, s := metrics.MeanStd(cell.Values)
		if !same(cell.Mean, m) || !same(cell.Std, s) {
			t.Errorf("%s: mean ± std %v ± %v, want %v ± %v from the successful runs", key, cell.Mean, cell.Std, m, s)
		}
		for _, v := range cell.Values {
			if !(v >= 0) || math.IsInf(v, 0) {
				t.Errorf("%s: value %v", key, v)
			}
		}
		// The p-value is over successful runs, and only where both sides
		// have two of them.
		ref := byKey[fmt.Sprintf("dlpm/%.1f", cell.Alpha)]
		switch {
		case cell.Method == DLPM || len(cell.Values) < 2 || len(ref.Values) < 2:
			if cell.PValue != nil {
				t.Errorf("%s: p-value %v, want none", key, *cell.PValue)
			}
		case cell.PValue == nil:
			t.Errorf("%s: no p-value", key)
		default:
			if _, _, p := metrics.WelchSamples(cell.Values, ref.Values); *cell.PValue != p {
				t.Errorf("%s: p-value %v, want %v", key, *cell.PValue, p)
			}
		}
	}
	if !slicesAnyContains(logs, "run 1 dlpm: failed") {
		t.Errorf("no log line for the failed DLPM run:\n%s", strings.Join(logs, "\n"))
	}

	// JSON: every cell encodes (a cell with no or one successful run has a
	// NaN mean or std: written as null) and decodes back.
	for _, cell := range cells {
		b, err := json.Marshal(cell)
		if err != nil {
			t.Errorf("%s α=%v: JSON: %v", cell.Method, cell.Alpha, err)
			continue
		}
		var back Cell
		if err := json.Unmarshal(b, &back); err != nil {
			t.Errorf("%s α=%v: decoding %s: %v", cell.Method, cell.Alpha, b, err)
			continue
		}
		if !same(back.Mean, cell.Mean) || !same(back.Std, cell.Std) || len(back.Failed) != len(cell.Failed) || back.Runs != cell.Runs {
			t.Errorf("%s α=%v: JSON round trip %s gave %+v", cell.Method, cell.Alpha, b, back)
		}
		if len(cell.Failed) > 0 && !bytes.Contains(b, []byte(`"failed":[{"run":`)) {
			t.Errorf("%s α=%v: JSON lacks the failed runs: %s", cell.Method, cell.Alpha, b)
		}
	}

	var txt, md bytes.Buffer
	WriteTable(&txt, c, cells)
	WriteMarkdown(&md, c, cells)
	for _, s := range []string{"n = 2 (1 failed)", "n = 0 (3 failed)", "DLPM α = 1.7 run 1: training dlpm: toy: step 812", "LIM α = 2.0 run 0: scoring lim:"} {
		if !strings.Contains(txt.String(), s) {
			t.Errorf("table text lacks %q:\n%s", s, txt.String())
		}
		if !strings.Contains(md.String(), s) {
			t.Errorf("markdown lacks %q:\n%s", s, md.String())
		}
	}
	t.Logf("\n%s\n%s", txt.String(), md.String())
}

func same(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

func slicesAnyContains(lines []string, s string) bool {
	for _, l := range lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}
