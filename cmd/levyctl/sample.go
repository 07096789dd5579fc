package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/levy-ml/levy/engine"
	"github.com/levy-ml/levy/internal/atomicfile"
	"github.com/levy-ml/levy/job"
	"github.com/levy-ml/levy/noise"
	"github.com/levy-ml/levy/samplers"
	"github.com/levy-ml/levy/toy2d/data"
	"github.com/levy-ml/levy/toy2d/plot"
)

// The files levyctl sample writes for a 2-D model (train --force
// removes them with the model they came from).
const (
	samplesCSV  = "samples.csv"
	samplesPNG  = "samples.png"
	metricsJSON = "metrics.json"
)

var sampleFiles = []string{samplesCSV, samplesPNG, metricsJSON}

func runSample(ctx context.Context, args []string) error {
	fs := newFlags("sample")
	model := fs.String("model", "", "model directory written by levyctl train (required)")
	sampler := fs.String("sampler", "", "sampler: dlpm, dlim, lim-sde, lim-ode, ddpm or ddim (default: the model's own)")
	steps := fs.Int("steps", 100, "sampler steps")
	n := fs.Int("n", 15000, "points to generate")
	seed := fs.Uint64("seed", 0, "random seed")
	eta := fs.Float64("eta", 0, "DLIM/DDIM stochasticity in [0, 1]")
	grid := fs.String("grid", "", "image models: the picture's layout, COLSxROWS (default 8x8; --n defaults to COLS·ROWS); "+
		"linear or quadratic is read as --time-grid, as before")
	timeGrid := fs.String("time-grid", "linear", "LIM time grid: linear or quadratic")
	features := fs.String("features", "", "image models: feature network for FD and precision/recall (default: the job's sample.features)")
	betaMax := fs.Float64("beta-max", 0, "cap β(t) in LIM's α = 2 step (20 as in the LIM authors' code; 0: no cap, as the DLPM repository)")
	out := fs.String("out", "", "directory for samples.csv, samples.png and metrics.json (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *model == "" {
		return fmt.Errorf("--model is required")
	}
	if *out == "" {
		return fmt.Errorf("--out is required")
	}
	if *grid == "linear" || *grid == "quadratic" {
		*timeGrid, *grid = *grid, ""
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c, ok, err := openCheckpoint(*model); err != nil {
		return fmt.Errorf("--model %s: %w", *model, err)
	} else if ok {
		o := imageSampleOptions{grid: *grid, out: *out, features: *features, seed: *seed, eta: *eta}
		if set["sampler"] {
			o.sampler = *sampler
		}
		if set["steps"] {
			o.steps, o.stepsSet = *steps, true
		}
		if set["n"] {
			o.n = *n
		}
		return sampleCheckpoint(ctx, c, o)
	}
	if *grid != "" {
		return flagError("grid", *grid, "a picture grid needs an image model (a checkpoint or run directory of an image job)")
	}
	if *sampler != "" && !slices.Contains(samplers.Names, *sampler) {
		return flagError("sampler", *sampler, fmt.Sprintf("unknown sampler (want one of %v)", samplers.Names))
	}
	if *n <= 0 {
		return flagError("n", *n, "must be > 0")
	}
	if st, err := os.Stat(*model); err != nil || !st.IsDir() {
		return flagError("model", *model, "no such model directory")
	}
	m, err := engine.Load(*model, false)
	if err != nil {
		return fmt.Errorf("--model %s: %w", *model, err)
	}
	defer m.Close()
	if *sampler == "" {
		*sampler = samplers.Compatible(m.Method)[0]
	}
	if err := checkSteps(*sampler, *steps); err != nil {
		return err
	}
	if *betaMax < 0 {
		return flagError("beta-max", *betaMax, "must be ≥ 0")
	}
	sc := samplers.Config{Method: *sampler, Steps: *steps, Eta: *eta, Grid: *timeGrid, Clip: engine.PointClip, BetaMax: *betaMax}
	t0 := time.Now()
	gen, err := m.Sample(sc, *n, noise.Stream(*seed, noise.TagSample))
	if err != nil {
		return err
	}
	sampleSec := time.Since(t0).Seconds()
	fmt.Fprintf(os.Stderr, "sampled %d points with %s (%d steps) in %.1fs\n", *n, *sampler, *steps, sampleSec)
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := writeCSV(filepath.Join(*out, samplesCSV), gen, 2); err != nil {
		return err
	}
	real, err := m.RealPoints(*n, *seed)
	if err != nil {
		return err
	}
	b := plot2d.Bounds{XMin: -0.6, XMax: 2.6, YMin: -0.6, YMax: 2.6}
	if m.Dataset == data2d.NameSAS2D {
		b = plot2d.Bounds{XMin: -0.5, XMax: 0.5, YMin: -0.5, YMax: 0.5}
	}
	title := fmt.Sprintf("%s, %d steps (α = %g)", *sampler, *steps, m.Alpha)
	if err := plot2d.WritePNG(filepath.Join(*out, samplesPNG), []plot2d.Panel{
		{Title: title, Points: gen},
		{Title: "real data (" + m.Dataset + ")", Points: real, Color: color.NRGBA{R: 200, G: 60, B: 30, A: 90}},
	}, b); err != nil {
		return err
	}
	scores, err := m.ScorePoints(real, gen, *seed, engine.AllMetrics)
	if err != nil {
		return err
	}
	rep := map[string]any{"sampler": *sampler, "steps": *steps, "n": *n, "seed": *seed,
		"sample_seconds": sampleSec, "metrics": scores, "dataset": m.Dataset}
	mb, _ := json.MarshalIndent(rep, "", "  ")
	if err := atomicfile.WriteFile(filepath.Join(*out, metricsJSON), append(mb, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("%s\n", mb)
	return ctx.Err()
}

// checkSteps refuses --steps below what the sampler takes (see
// job.MinSampleSteps).
func checkSteps(sampler string, steps int) error {
	if min := job.MinSampleSteps(sampler); steps < min && slices.Contains(samplers.Names, sampler) {
		return flagError("steps", steps, fmt.Sprintf("the %s sampler takes at least %d", sampler, min))
	}
	return nil
}

// writeCSV writes x, rows of d values, to path as CSV (atomically).
func writeCSV(path string, x []float32, d int) error {
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		var line []byte
		for i := 0; i < len(x); i += d {
			line = line[:0]
			for j := range d {
				if j > 0 {
					line = append(line, ',')
				}
				line = strconv.AppendFloat(line, float64(x[i+j]), 'g', -1, 32)
			}
			if _, err := w.Write(append(line, '\n')); err != nil {
				return err
			}
		}
		return nil
	})
}
