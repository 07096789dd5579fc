package main

import (
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/levy-ml/levy/coordinator"
	"github.com/levy-ml/levy/imagedata"
	"github.com/levy-ml/levy/internal/localcluster"
	"github.com/levy-ml/levy/job"
)

// TestClassifierThenSampleGrid: levyctl classifier trains a feature
// network on IDX files; a 2-step image job runs on the embedded cluster;
// levyctl sample --model RUN --grid 4x2 draws its picture with DLIM and
// scores it with that network.
func TestClassifierThenSampleGrid(t *testing.T) {
	data := t.TempDir()
	if err := imagedata.WriteIDXFixture(data, "train", 64, true, 1); err != nil {
		t.Fatal(err)
	}
	if err := imagedata.WriteIDXFixture(data, "t10k", 32, true, 2); err != nil {
		t.Fatal(err)
	}
	feat := filepath.Join(t.TempDir(), "clf.safetensors")
	out, errOut, code := run(t, "classifier", "--data", data, "--epochs", "1", "--batch", "16", "--out", feat)
	if code != 0 || !strings.Contains(out, "test accuracy") {
		t.Fatalf("classifier: exit %d\n%s%s", code, out, errOut)
	}

	s := job.DefaultImage(job.FashionMNIST)
	s.Name, s.DataDir, s.Steps, s.CkptEvery, s.GlobalBatch = "grid", data, 2, 2, 8
	s.UNet = &job.UNet{ModelChannels: 8, ChannelMult: []int{1, 2}, NumResBlocks: 1, AttentionDS: []int{2}, NumHeads: 2, NormGroups: 4}
	cc := coordinator.DefaultConfig()
	runs := t.TempDir()
	cc.Job, cc.Workers, cc.RunsDir, cc.Progress = s, 2, runs, nil
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := localcluster.Run(ctx, localcluster.Config{Coordinator: cc})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "pics")
	out, errOut, code = run(t, "sample", "--model", res.RunDir, "--grid", "4x2", "--n", "12", "--sampler", "dlim", "--steps", "3",
		"--features", feat, "--out", dir)
	if code != 0 {
		t.Fatalf("sample: exit %d\n%s%s", code, out, errOut)
	}
	var rep struct {
		Sampler string             `json:"sampler"`
		N       int                `json:"n"`
		Metrics map[string]float64 `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Sampler != "dlim" || rep.N != 12 {
		t.Fatalf("report %+v", rep)
	}
	for _, k := range []string{"fd", "precision", "recall"} {
		if _, ok := rep.Metrics[k]; !ok {
			t.Errorf("no %s in %v", k, rep.Metrics)
		}
	}
	f, err := os.Open(filepath.Join(dir, "samples.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 4*34+2 || b.Dy() != 2*34+2 {
		t.Fatalf("grid of %v, want 4×2 images of 32² with 2-pixel padding", b)
	}

	// --steps below the sampler's minimum is refused with that minimum
	// (0 was ignored, 1 failed in the sampler).
	for _, steps := range []string{"0", "1"} {
		_, errOut, code := run(t, "sample", "--model", res.RunDir, "--out", dir, "--sampler", "dlim", "--steps", steps)
		if want := "--steps " + steps + ": the dlim sampler takes at least 2"; code == 0 || !strings.Contains(errOut, want) {
			t.Errorf("sample --steps %s: exit %d, %q, want %q", steps, code, errOut, want)
		}
	}

	// Bad grids and samplers are refused by name.
	for _, c := range [][]string{{"--grid", "8"}, {"--grid", "0x3"}, {"--sampler", "lim-ode"}} {
		_, errOut, code := run(t, append([]string{"sample", "--model", res.RunDir, "--out", dir}, c...)...)
		if code == 0 || !strings.Contains(errOut, c[1]) {
			t.Errorf("sample %v: exit %d, %q", c, code, errOut)
		}
	}
}
