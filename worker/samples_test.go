package worker

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/levy-ml/levy/checkpoint"
)

// TestSamplingAPrunedCheckpoint: the checkpoint of step 10 is pruned
// (a newer one saved with keep 1) while the sampler works on it. The
// sampler has read it whole already, so it still writes the samples of
// step 10, to samples/step-00000010, and leaves the checkpoints alone:
// no pruned directory comes back, and the one checkpoint left holds only
// its own files and verifies. The run directory's copies stay those of
// step 20, sampled before: an older step does not replace a newer one.
func TestSamplingAPrunedCheckpoint(t *testing.T) {
	spec := faultJob()
	spec.Name, spec.Steps, spec.CkptEvery, spec.Keep = "pruned", 20, 10, 10
	spec.Sample.N, spec.Sample.Steps = 300, 10
	res, err, _ := runCluster(t, spec, 1, 10*time.Second, -1, func(int64) error { return nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	root := CheckpointDir(res.RunDir)
	ctx := context.Background()
	s := NewOfflineSampler(SamplerConfig{Seed: 1})
	if _, err := s.SampleCheckpoint(ctx, checkpoint.StepDir(root, 20)); err != nil {
		t.Fatal(err)
	}

	s.loaded = func(dir string) {
		c, err := checkpoint.Load(checkpoint.StepDir(root, 20))
		if err != nil {
			t.Error(err)
			return
		}
		m := c.Manifest
		m.Step, m.Created = 30, time.Time{}
		if _, err := checkpoint.Save(root, m, c.Files, 1); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s not pruned: %v", dir, err)
		}
	}
	if _, err := s.SampleCheckpoint(ctx, checkpoint.StepDir(root, 10)); err != nil {
		t.Fatalf("sampling a checkpoint pruned meanwhile: %v", err)
	}

	names := func(dir string) []string {
		es, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, e.Name())
		}
		return out
	}
	if got := names(root); !slices.Equal(got, []string{"step-00000030"}) {
		t.Errorf("checkpoints/ holds %v, want only step-00000030", got)
	}
	if _, err := checkpoint.Verify(checkpoint.StepDir(root, 30)); err != nil {
		t.Error(err)
	}
	if got := names(checkpoint.StepDir(root, 30)); !slices.Equal(got, []string{EMAFile, checkpoint.ManifestFile, ModelFile, OptimFile}) {
		t.Errorf("checkpoint of step 30 holds %v", got)
	}
	for _, step := range []int64{10, 20} {
		if got := names(SampleDir(res.RunDir, step)); !slices.Equal(got, []string{MetricsFile, PlotFile, SamplesFile}) {
			t.Errorf("samples of step %d: %v", step, got)
		}
	}
	var report struct{ Step int64 }
	b, err := os.ReadFile(filepath.Join(res.RunDir, MetricsFile))
	if err != nil || json.Unmarshal(b, &report) != nil || report.Step != 20 {
		t.Errorf("the run directory's %s is of step %d (%v), want 20", MetricsFile, report.Step, err)
	}
}
