package worker

import (
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
	"github.com/levy-ml/levy/imagedata"
	"github.com/levy-ml/levy/job"
	"github.com/levy-ml/levy/noise"
	"github.com/levy-ml/levy/safetensors"
	"github.com/levy-ml/levy/samplers"
	"github.com/levy-ml/levy/unet"
)

// Image samplers write, besides SamplesFile and MetricsFile, the grid of
// the first GridCols² samples as PlotFile, a copy per checkpoint under
// <run>/grids/, and ProgressFile: the grids of the newest ProgressGrids
// checkpoints side by side.
const (
	ProgressFile  = "progress.png"
	GridCols      = 8
	ProgressGrids = 8
)

// LoadUNet reads the U-Net of a checkpoint (the EMA weights if ema).
func LoadUNet(c *checkpoint.Checkpoint, spec job.Spec, ema bool) (*unet.Model, error) {
	name := ModelFile
	if ema {
		name = EMAFile
	}
	m, err := unet.New(UNetConfig(spec), 0)
	if err != nil {
		return nil, err
	}
	if err := loadWeights(c, name, tensors(m.Params())); err != nil {
		return nil, err
	}
	return m, nil
}

// SampleImages draws n images [n, C, H, W] from an image model with the
// job's sampler, seeded by (seed, step).
func SampleImages(m *unet.Model, spec job.Spec, n int, seed uint64, step int64) ([]float32, error) {
	den := unet.NewDenoiser(m)
	defer den.Close()
	return samplers.Sample(den, spec.Sampler(), n, spec.Dim(), noise.Stream(seed, noise.TagSample, uint64(step)))
}

func (s *Sampler) sampleImages(ctx context.Context, c *checkpoint.Checkpoint, spec job.Spec) (map[string]float64, error) {
	m, err := LoadUNet(c, spec, spec.Sample.UseEMA)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	n := spec.Sample.N
	gen, err := SampleImages(m, spec, n, s.cfg.Seed, c.Manifest.Step)
	if err != nil {
		return nil, fmt.Errorf("worker: sampling %s: %w", c.Dir, err)
	}
	sampleSec := time.Since(t0).Seconds()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ch, size := job.ImageShape(spec.Dataset)
	metrics := map[string]float64{"sample_seconds": sampleSec, "images_per_second": float64(n) / sampleSec}
	if q, err := ImageQuality(spec, gen, n); err == nil {
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
	runDir := filepath.Dir(filepath.Dir(c.Dir))
	for _, out := range []string{c.Dir, runDir} {
		if err := writeFileAtomic(filepath.Join(out, SamplesFile), func(f *os.File) error {
			return safetensors.Encode(f, []safetensors.Tensor{{Name: "samples", Shape: []int{n, ch, size, size}, Data: gen}},
				map[string]string{"step": fmt.Sprint(c.Manifest.Step), "sampler": spec.Sample.Sampler})
		}); err != nil {
			return nil, err
		}
		if err := imagedata.SavePNG(filepath.Join(out, PlotFile), grid); err != nil {
			return nil, err
		}
		if err := writeFileAtomic(filepath.Join(out, MetricsFile), func(f *os.File) error {
			_, err := f.Write(mj)
			return err
		}); err != nil {
			return nil, err
		}
	}
	if err := writeProgress(runDir, c.Manifest.Step, grid); err != nil {
		return nil, err
	}
	s.log.Info("sampled", zap.String("dir", c.Dir), zap.Any("metrics", metrics))
	return metrics, nil
}

// writeProgress keeps the grid of step under <run>/grids and redraws
// <run>/progress.png from the newest ProgressGrids of them.
func writeProgress(runDir string, step int64, grid image.Image) error {
	gd := filepath.Join(runDir, "grids")
	if err := os.MkdirAll(gd, 0o755); err != nil {
		return err
	}
	if err := imagedata.SavePNG(filepath.Join(gd, fmt.Sprintf("step-%08d.png", step)), grid); err != nil {
		return err
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
	return imagedata.SavePNG(filepath.Join(runDir, ProgressFile), imagedata.Strip(grids, labels))
}
