package toy2d

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/levy-ml/levy/samplers"
	"github.com/levy-ml/levy/toy2d/data"
)

func smallConfig(t *testing.T, method string) TrainConfig {
	t.Helper()
	c, err := DefaultTrainConfig(method, data2d.NameGrid9, 1.7)
	if err != nil {
		t.Fatal(err)
	}
	c.Data.N = 8192
	c.Batch = 512
	c.Steps = 400
	c.Seed = 42
	return c
}

// TestDLPMLearnsTheGrid trains briefly and checks that DLIM samples land
// on the grid with the heaviest component most populated: a model that
// did not learn puts its points in a heavy-tailed blob around 0.
func TestDLPMLearnsTheGrid(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model for a few seconds")
	}
	c := smallConfig(t, "dlpm")
	var first, last float64
	tr, err := Train(context.Background(), c, time.Millisecond, func(p Progress) {
		if first == 0 {
			first = p.Loss
		}
		last = p.Loss
	})
	if err != nil {
		t.Fatal(err)
	}
	if !(last < 0.8*first) {
		t.Errorf("loss went from %.4f to %.4f, want a drop of ≥ 20%%", first, last)
	}
	gen, err := Sample(tr, SampleConfig{Sampler: samplers.DLIM, Steps: 25, N: 4000, Seed: 1, Clip: DefaultClip})
	if err != nil {
		t.Fatal(err)
	}
	var counts [9]int
	on := 0
	for i := 0; i < len(gen); i += 2 {
		if k := data2d.Component(float64(gen[i]), float64(gen[i+1]), 0.35); k >= 0 {
			counts[k]++
			on++
		}
	}
	if f := float64(on) / 4000; f < 0.6 { // measured 75% after these 400 steps; an untrained net leaves a heavy-tailed blob
		t.Errorf("%.1f%% of samples within 0.35 of a grid mean, want ≥ 60%%", 100*f)
	}
	for k, n := range counts {
		if k != 2 && n >= counts[2] {
			t.Errorf("component %d has %d samples ≥ heaviest component 2 (%d): weights not learnt (counts %v)", k, n, counts[2], counts)
		}
	}
}

func TestSaveLoadAndDeterminism(t *testing.T) {
	c := smallConfig(t, "lim")
	c.Steps = 20
	a, err := Train(context.Background(), c, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Train(context.Background(), c, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	pa, pb := a.Model.Params(), b.Model.Params()
	for i := range pa {
		for j := range pa[i].Data {
			if pa[i].Data[j] != pb[i].Data[j] {
				t.Fatalf("same seed, different weights: %s[%d] %v vs %v", pa[i].Name, j, pa[i].Data[j], pb[i].Data[j])
			}
		}
	}
	dir := t.TempDir()
	if err := Save(dir, a); err != nil {
		t.Fatal(err)
	}
	l, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	sc := SampleConfig{Sampler: samplers.LIMODE, Steps: 10, N: 50, Seed: 3}
	ga, _ := Sample(a, sc)
	gl, err := Sample(l, sc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ga {
		if ga[i] != gl[i] {
			t.Fatalf("loaded model samples differently at %d: %v vs %v", i, ga[i], gl[i])
		}
	}
	if _, err := Sample(l, SampleConfig{Sampler: samplers.DLPM, Steps: 10, N: 5}); err == nil || !strings.Contains(err.Error(), "lim") {
		t.Errorf("DLPM sampler on a LIM model: err = %v, want a refusal naming the method", err)
	}
	// A truncated weights file is refused with its name; the config is untouched.
	w := filepath.Join(dir, WeightsFile)
	raw, _ := os.ReadFile(w)
	os.WriteFile(w, raw[:len(raw)-10], 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), WeightsFile) {
		t.Errorf("truncated weights: err = %v, want an error naming %s", err, WeightsFile)
	}
	if _, err := Load(t.TempDir()); !errors.Is(err, ErrNoModel) {
		t.Errorf("empty dir: err = %v, want ErrNoModel", err)
	}
}

func TestTrainConfigValidate(t *testing.T) {
	good := smallConfig(t, "dlpm")
	for name, mut := range map[string]func(*TrainConfig){
		"alpha":  func(c *TrainConfig) { c.Alpha = 2.5 },
		"method": func(c *TrainConfig) { c.Method = "gan" },
		"batch":  func(c *TrainConfig) { c.Batch = 0 },
		"steps":  func(c *TrainConfig) { c.Steps, c.Epochs = 0, 0 },
		"lr":     func(c *TrainConfig) { c.Opt.LR = -1 },
		"data":   func(c *TrainConfig) { c.Data.N = 0 },
	} {
		c := good
		mut(&c)
		if c.Validate() == nil {
			t.Errorf("%s: Validate = nil", name)
		}
	}
	if got := (TrainConfig{Data: data2d.Config{N: 32000}, Batch: 1024, Epochs: 20}).TotalSteps(); got != 640 {
		t.Errorf("20 epochs of 32000 at batch 1024 = %d steps, want 640 (32 per epoch, last one partial)", got)
	}
}
