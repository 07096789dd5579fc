package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"time"

	"go.uber.org/zap"

	"github.com/levy-ml/levy/checkpoint"
	"github.com/levy-ml/levy/engine"
	"github.com/levy-ml/levy/imagedata"
	"github.com/levy-ml/levy/job"
	"github.com/levy-ml/levy/noise"
	"github.com/levy-ml/levy/safetensors"
)

// Image samplers write, besides SamplesFile and MetricsFile, the grid of
// the first GridCols² samples as PlotFile, a copy per checkpoint under
// <run>/grids/, and <run>/ProgressFile: the grids of the newest
// ProgressGrids checkpoints side by side. Every file is replaced
// atomically (checkpoint.WriteFileAtomic).
const (
	ProgressFile  = "progress.png"
	GridCols      = 8
	ProgressGrids = 8
)

func (s *Sampler) sampleImages(ctx context.Context, c *checkpoint.Checkpoint, spec job.Spec, m *engine.Model) (map[string]float64, error) {
	t0 := time.Now()
	n := spec.Sample.N
	gen, err := m.Sample(spec.Sampler(), n, noise.Stream(s.cfg.Seed, noise.TagSample, uint64(c.Manifest.Step)))
	if err != nil {
		return nil, fmt.Errorf("worker: sampling %s: %w", c.Dir, err)
	}
	sampleSec := time.Since(t0).Seconds()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ch, size := job.ImageShape(spec.Dataset)
	metrics := map[string]float64{"sample_seconds": sampleSec, "images_per_second": float64(n) / sampleSec}
	if q, err := s.scorers.Images(spec, gen, n); err == nil {
		for k, v := range q {
			metrics[k] = v
		}
	} else {
		s.log.Info("no image quality metrics", zap.Error(err))
	}
	report := map[string]any{"job": spec.Name, "step": c.Manifest.Step, "checkpoint": c.Dir,
		"sampler": spec.Sample.Sampler, "sampler_steps": spec.Sample.Steps, "n": n, "ema": spec.Sample.UseEMA,
		"dataset": spec.Dataset, "metrics": metrics}
	mj, _ := json.MarshalIndent(report, "", "  ")
	mj = append(mj, '\n')
	k := min(n, GridCols*GridCols)
	grid := imagedata.Grid(gen[:k*spec.Dim()], k, ch, size, size, GridCols, 2)
	var gridPNG bytes.Buffer
	if err := png.Encode(&gridPNG, grid); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	runDir := filepath.Dir(filepath.Dir(c.Dir))
	samples := safetensors.Tensor{Name: "samples", Shape: []int{n, ch, size, size}, Data: gen}
	if err := writeSamples(runDir, c.Manifest.Step, func(out string) error {
		return writeSampleFiles(out, samples, spec.Sample.Sampler, c.Manifest.Step, mj, func(path string) error {
			return os.WriteFile(path, gridPNG.Bytes(), 0o644)
		})
	}); err != nil {
		return nil, err
	}
	if err := writeProgress(runDir, c.Manifest.Step, gridPNG.Bytes()); err != nil {
		return nil, err
	}
	s.log.Info("sampled", zap.String("dir", c.Dir), zap.String("samples", SampleDir(runDir, c.Manifest.Step)), zap.Any("metrics", metrics))
	return metrics, nil
}

// writeProgress keeps the grid of step (PNG bytes) under <run>/grids and
// redraws <run>/progress.png from the newest ProgressGrids of them.
func writeProgress(runDir string, step int64, gridPNG []byte) error {
	gd := filepath.Join(runDir, "grids")
	if err := checkpoint.MkdirAll(gd, 0o755); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	if err := checkpoint.WriteFileAtomic(filepath.Join(gd, fmt.Sprintf("step-%08d.png", step)), gridPNG, 0o644); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	names, err := filepath.Glob(filepath.Join(gd, "step-*.png"))
	if err != nil {
		return err
	}
	sort.Strings(names)
	if len(names) > ProgressGrids {
		names = names[len(names)-ProgressGrids:]
	}
	var grids []image.Image
	var labels []string
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("worker: %s: %w", name, err)
		}
		var st int64
		fmt.Sscanf(filepath.Base(name), "step-%d.png", &st)
		grids = append(grids, img)
		labels = append(labels, fmt.Sprintf("step %d", st))
	}
	var strip bytes.Buffer
	if err := png.Encode(&strip, imagedata.Strip(grids, labels)); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	if err := checkpoint.WriteFileAtomic(filepath.Join(runDir, ProgressFile), strip.Bytes(), 0o644); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	return nil
}
