package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/levy-ml/levy/checkpoint"
	"github.com/levy-ml/levy/engine"
	"github.com/levy-ml/levy/imagedata"
	"github.com/levy-ml/levy/internal/atomicfile"
	"github.com/levy-ml/levy/job"
	"github.com/levy-ml/levy/noise"
	"github.com/levy-ml/levy/safetensors"
	"github.com/levy-ml/levy/worker"
)

// openCheckpoint opens dir as a checkpoint (it holds a manifest) or as a
// run directory (the newest good checkpoint under dir/checkpoints). ok
// is false when dir is neither, e.g. a levyctl train model directory.
func openCheckpoint(dir string) (*checkpoint.Checkpoint, bool, error) {
	if _, err := os.Stat(filepath.Join(dir, checkpoint.ManifestFile)); err == nil {
		c, err := checkpoint.Load(dir)
		return c, err == nil, err
	}
	root := worker.CheckpointDir(dir)
	if _, err := os.Stat(root); err != nil {
		return nil, false, nil
	}
	c, skipped, err := checkpoint.Latest(root)
	for _, s := range skipped {
		fmt.Fprintf(os.Stderr, "skipping a bad checkpoint: %v\n", s)
	}
	if err != nil {
		return nil, false, err
	}
	return c, true, nil
}

type imageSampleOptions struct {
	grid, out, features, sampler string
	steps, n                     int
	stepsSet                     bool // --steps was given (steps may then be 0)
	seed                         uint64
	eta                          float64
}

// parseGrid reads "COLSxROWS".
func parseGrid(s string) (cols, rows int, err error) {
	if s == "" {
		return 8, 8, nil
	}
	a, b, ok := strings.Cut(strings.ToLower(s), "x")
	cols, err1 := strconv.Atoi(a)
	rows, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || cols < 1 || rows < 1 || cols*rows > 4096 {
		return 0, 0, flagError("grid", s, "want COLSxROWS, e.g. 8x8 (at most 4096 images)")
	}
	return cols, rows, nil
}

// sampleCheckpoint draws images from an image job's checkpoint and writes
// samples.png (the grid), samples.safetensors and metrics.json to o.out.
func sampleCheckpoint(ctx context.Context, c *checkpoint.Checkpoint, o imageSampleOptions) error {
	spec, err := job.FromJSON(c.Manifest.Job)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Dir, err)
	}
	if !spec.IsImage() {
		return fmt.Errorf("%s is a checkpoint of the 2-D job %s: its samples come from the sampling worker (worker --sampler), not from a picture grid", c.Dir, spec.Name)
	}
	cols, rows, err := parseGrid(o.grid)
	if err != nil {
		return err
	}
	if o.sampler != "" {
		spec.Sample.Sampler = o.sampler
	}
	if o.stepsSet {
		if err := checkSteps(spec.Sample.Sampler, o.steps); err != nil {
			return err
		}
		spec.Sample.Steps = o.steps
	}
	spec.Sample.N = cols * rows
	if o.n > 0 {
		spec.Sample.N = max(o.n, cols*rows)
	}
	spec.Sample.Eta = o.eta
	if o.features != "" {
		spec.Sample.Features = o.features
	}
	if err := spec.Validate(); err != nil {
		return err
	}
	m, err := engine.FromCheckpoint(c, spec.Sample.UseEMA)
	if err != nil {
		return err
	}
	defer m.Close()
	n := spec.Sample.N
	fmt.Fprintf(os.Stderr, "sampling %d images from %s (step %d, %s weights) with %s, %d steps\n",
		n, c.Dir, c.Manifest.Step, map[bool]string{true: "EMA", false: "raw"}[spec.Sample.UseEMA], spec.Sample.Sampler, spec.Sample.Steps)
	t0 := time.Now()
	gen, err := m.Sample(spec.Sampler(), n, noise.Stream(o.seed, noise.TagSample, uint64(c.Manifest.Step)))
	if err != nil {
		return err
	}
	sec := time.Since(t0).Seconds()
	fmt.Fprintf(os.Stderr, "sampled in %.1fs (%.1f images/s)\n", sec, float64(n)/sec)
	if err := ctx.Err(); err != nil {
		return err
	}
	ch, size := job.ImageShape(spec.Dataset)
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	k := cols * rows
	if err := imagedata.SavePNG(filepath.Join(o.out, worker.PlotFile), imagedata.Grid(gen[:k*ch*size*size], k, ch, size, size, cols, 2)); err != nil {
		return err
	}
	samples := []safetensors.Tensor{{Name: "samples", Shape: []int{n, ch, size, size}, Data: gen}}
	meta := map[string]string{"step": fmt.Sprint(c.Manifest.Step), "sampler": spec.Sample.Sampler}
	if err := atomicfile.Write(filepath.Join(o.out, worker.SamplesFile), 0o644, func(w io.Writer) error {
		return safetensors.Encode(w, samples, meta)
	}); err != nil {
		return err
	}
	metrics := map[string]float64{"sample_seconds": sec, "images_per_second": float64(n) / sec}
	if spec.Sample.Features != "" {
		var sc engine.Scorers
		q, err := sc.Images(spec, gen, n)
		if err != nil {
			return err
		}
		for k, v := range q {
			metrics[k] = v
		}
	}
	rep := map[string]any{"checkpoint": c.Dir, "step": c.Manifest.Step, "job": spec.Name, "method": spec.Method, "alpha": spec.Alpha,
		"sampler": spec.Sample.Sampler, "sampler_steps": spec.Sample.Steps, "n": n, "seed": o.seed, "ema": spec.Sample.UseEMA,
		"features": spec.Sample.Features, "metrics": metrics}
	mb, _ := json.MarshalIndent(rep, "", "  ")
	if err := atomicfile.WriteFile(filepath.Join(o.out, worker.MetricsFile), append(mb, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("%s\n", mb)
	return nil
}
