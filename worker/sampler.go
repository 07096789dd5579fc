package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/levy-ml/levy/checkpoint"
	"github.com/levy-ml/levy/engine"
	"github.com/levy-ml/levy/internal/wire"
	"github.com/levy-ml/levy/job"
	"github.com/levy-ml/levy/noise"
	"github.com/levy-ml/levy/safetensors"
	"github.com/levy-ml/levy/toy2d/data"
	"github.com/levy-ml/levy/toy2d/plot"
)

// Files a sampler writes for each checkpoint, in SampleDir (and, for the
// newest, in the run directory).
const (
	SamplesFile = "samples.safetensors"
	PlotFile    = "samples.png"
	MetricsFile = "metrics.json"
)

// SamplesDir is where a run keeps the samples of its checkpoints, one
// directory per sampled checkpoint: <run>/samples/step-%08d. The sampler
// never writes into the checkpoints' own directories, which rank 0
// prunes.
func SamplesDir(runDir string) string { return filepath.Join(runDir, "samples") }

// SampleDir is the directory of the samples of the checkpoint of step.
func SampleDir(runDir string, step int64) string {
	return checkpoint.StepDir(SamplesDir(runDir), step)
}

// SamplerConfig configures a sampling worker.
type SamplerConfig struct {
	NATS *nats.Conn
	Log  *zap.Logger
	// Job restricts the sampler to one job ("": every job).
	Job string
	// Seed of the sampler's draws (with the checkpoint's step).
	Seed uint64
	// Ready, if not nil, is closed once the sampler listens.
	Ready chan<- struct{}
	// ID names the sampler in its reports (default "sampler").
	ID string
	// RunsRoot is where this machine sees the run directories (default
	// "runs"); announced checkpoints are relative to it.
	RunsRoot string
}

// Validate reports the first bad field.
func (c SamplerConfig) Validate() error {
	if c.NATS == nil {
		return errors.New("worker: SamplerConfig.NATS is nil")
	}
	if c.Job != "" && !wire.ValidID(c.Job) {
		return fmt.Errorf("worker: SamplerConfig.Job = %q: want 1–64 of [A-Za-z0-9_-]", c.Job)
	}
	if c.ID != "" && !wire.ValidID(c.ID) {
		return fmt.Errorf("worker: SamplerConfig.ID = %q: want 1–64 of [A-Za-z0-9_-]", c.ID)
	}
	return nil
}

// Sampler is a sampling worker: it samples each announced checkpoint. When
// checkpoints arrive faster than it samples, it takes the newest of each
// job and skips the ones in between.
type Sampler struct {
	cfg SamplerConfig
	log *zap.Logger

	// loaded, if set (tests only), runs once a checkpoint is loaded,
	// before its samples are written.
	loaded func(dir string)
	// scorers scores image samples (it keeps the real images' features).
	scorers engine.Scorers
}

// NewSampler validates cfg.
func NewSampler(cfg SamplerConfig) (*Sampler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Log
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.ID == "" {
		cfg.ID = "sampler"
	}
	if cfg.RunsRoot == "" {
		cfg.RunsRoot = "runs"
	}
	return &Sampler{cfg: cfg, log: log.With(zap.String("role", "sampler"))}, nil
}

// Run samples checkpoints until ctx is done.
func (s *Sampler) Run(ctx context.Context) error {
	// Only the coordinator's re-announcements: it adopted those
	// checkpoints after verifying them inside their run directory.
	subj := wire.CheckpointsSubject("*")
	if s.cfg.Job != "" {
		subj = wire.CheckpointsSubject(s.cfg.Job)
	}
	var (
		mu      sync.Mutex
		pending = map[string]wire.Checkpoint{} // newest per job
		wake    = make(chan struct{}, 1)
	)
	sub, err := s.cfg.NATS.Subscribe(subj, func(m *nats.Msg) {
		var c wire.Checkpoint
		if err := wire.Decode(m.Data, &c); err != nil {
			s.log.Warn("ignoring a bad checkpoint announcement", zap.Error(err))
			return
		}
		mu.Lock()
		if old, ok := pending[c.Job]; !ok || c.Step >= old.Step {
			pending[c.Job] = c
		}
		mu.Unlock()
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return fmt.Errorf("worker: sampler: subscribing to %s: %w", subj, err)
	}
	defer sub.Unsubscribe()
	if err := s.cfg.NATS.Flush(); err != nil {
		return err
	}
	s.log.Info("watching for checkpoints", zap.String("subject", subj))
	if s.cfg.Ready != nil {
		close(s.cfg.Ready)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		}
		for {
			mu.Lock()
			var c wire.Checkpoint
			found := false
			for k, v := range pending {
				c, found = v, true
				delete(pending, k)
				break
			}
			mu.Unlock()
			if !found {
				break
			}
			res := &wire.Samples{Sampler: s.cfg.ID, Job: c.Job, Step: c.Step, Dir: c.Dir}
			metrics, err := s.SampleCheckpoint(ctx, filepath.Join(s.cfg.RunsRoot, c.RunDir, c.Dir))
			if err != nil {
				s.log.Error("sampling a checkpoint", zap.String("dir", c.Dir), zap.Error(err))
				res.Error = err.Error()
			} else {
				res.Metrics = metrics
			}
			b, err := wire.Encode(res)
			if err == nil {
				err = s.cfg.NATS.Publish(wire.MemberSubject(c.Job, wire.ReportSamples, s.cfg.ID), b)
			}
			if err != nil {
				s.log.Warn("reporting samples", zap.Error(err))
			}
		}
	}
}

// SampleCheckpoint samples one checkpoint directory with its job's
// sampler and writes the samples, the plot and the metrics to
// SampleDir(run, step), where run is the directory above the checkpoint's
// root, and copies them into run unless a newer step has been sampled. It
// returns the metrics. The checkpoint is read whole first: if it is
// pruned meanwhile, the samples are still written.
func (s *Sampler) SampleCheckpoint(ctx context.Context, dir string) (map[string]float64, error) {
	c, err := checkpoint.Load(dir)
	if err != nil {
		return nil, err
	}
	if s.loaded != nil {
		s.loaded(dir)
	}
	spec, err := job.FromJSON(c.Manifest.Job)
	if err != nil {
		return nil, fmt.Errorf("worker: %s: %w", dir, err)
	}
	m, err := engine.FromCheckpoint(c, spec.Sample.UseEMA)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	if spec.IsImage() {
		return s.sampleImages(ctx, c, spec, m)
	}
	t0 := time.Now()
	n := spec.Sample.N
	gen, err := m.Sample(spec.Sampler(), n, noise.Stream(s.cfg.Seed, noise.TagSample, uint64(c.Manifest.Step)))
	if err != nil {
		return nil, fmt.Errorf("worker: sampling %s: %w", dir, err)
	}
	sampleSec := time.Since(t0).Seconds()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	real, err := m.RealPoints(n, spec.Seed)
	if err != nil {
		return nil, err
	}
	t1 := time.Now()
	scores, err := m.ScorePoints(real, gen, spec.Seed, engine.TableMetric)
	if err != nil {
		return nil, fmt.Errorf("worker: scoring %s: %w", dir, err)
	}
	metrics := map[string]float64{"sample_seconds": sampleSec, "eval_seconds": time.Since(t1).Seconds()}
	if spec.Dataset == data2d.NameGrid9 {
		metrics["prd_f1"], metrics["prd_f8"], metrics["prd_f1_8"] = scores.F1, scores.F8, scores.F18
	} else {
		metrics["msle"] = scores.MSLE
	}
	report := map[string]any{"job": spec.Name, "step": c.Manifest.Step, "checkpoint": dir,
		"sampler": spec.Sample.Sampler, "sampler_steps": spec.Sample.Steps, "n": n, "ema": spec.Sample.UseEMA,
		"dataset": spec.Dataset, "metrics": metrics}
	mj, _ := json.MarshalIndent(report, "", "  ")
	mj = append(mj, '\n')

	b := plot2d.Bounds{XMin: -0.6, XMax: 2.6, YMin: -0.6, YMax: 2.6}
	if spec.Dataset == data2d.NameSAS2D {
		b = plot2d.Bounds{XMin: -0.5, XMax: 0.5, YMin: -0.5, YMax: 0.5}
	}
	title := fmt.Sprintf("%s step %d: %s, %d steps (α = %g)", spec.Name, c.Manifest.Step, spec.Sample.Sampler, spec.Sample.Steps, spec.Alpha)
	panels := []plot2d.Panel{{Title: title, Points: gen},
		{Title: "real data (" + spec.Dataset + ")", Points: real, Color: color.NRGBA{R: 200, G: 60, B: 30, A: 90}}}
	runDir := filepath.Dir(filepath.Dir(dir))
	samples := safetensors.Tensor{Name: "samples", Shape: []int{n, 2}, Data: gen}
	if err := writeSamples(runDir, c.Manifest.Step, func(out string) error {
		return writeSampleFiles(out, samples, spec.Sample.Sampler, c.Manifest.Step, mj, func(path string) error {
			return plot2d.WritePNG(path, panels, b)
		})
	}); err != nil {
		return nil, err
	}
	s.log.Info("sampled", zap.String("dir", dir), zap.String("samples", SampleDir(runDir, c.Manifest.Step)), zap.Any("metrics", metrics))
	return metrics, nil
}

// writeSamples commits the samples of the checkpoint of step: fill writes
// their files into a temporary directory that becomes SampleDir(runDir,
// step) whole (checkpoint.WriteDirAtomic). Unless a newer step has
// samples already, each file is then copied into runDir atomically.
func writeSamples(runDir string, step int64, fill func(dir string) error) error {
	root := SamplesDir(runDir)
	if err := checkpoint.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	dir := SampleDir(runDir, step)
	if err := checkpoint.WriteDirAtomic(dir, 0o755, fill); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	sampled, err := checkpoint.List(root)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	if len(sampled) > 0 && sampled[len(sampled)-1] != dir {
		return nil // the run directory shows a newer step
	}
	for _, name := range []string{SamplesFile, PlotFile, MetricsFile} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("worker: %w", err)
		}
		if err := checkpoint.WriteFileAtomic(filepath.Join(runDir, name), b, 0o644); err != nil {
			return fmt.Errorf("worker: %w", err)
		}
	}
	return nil
}

// writeSampleFiles writes SamplesFile, MetricsFile (report) and, through
// plot, PlotFile into dir.
func writeSampleFiles(dir string, samples safetensors.Tensor, sampler string, step int64, report []byte, plot func(path string) error) error {
	var st bytes.Buffer
	if err := safetensors.Encode(&st, []safetensors.Tensor{samples}, map[string]string{"step": fmt.Sprint(step), "sampler": sampler}); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, SamplesFile), st.Bytes(), 0o644); err != nil {
		return err
	}
	if err := plot(filepath.Join(dir, PlotFile)); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, MetricsFile), report, 0o644)
}

// NewOfflineSampler returns a sampler for SampleCheckpoint alone (no NATS).
func NewOfflineSampler(cfg SamplerConfig) *Sampler {
	log := cfg.Log
	if log == nil {
		log = zap.NewNop()
	}
	return &Sampler{cfg: cfg, log: log}
}
