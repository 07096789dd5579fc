package quality

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/levy-ml/levy/imagedata"
	"github.com/levy-ml/levy/nn/unet"
)

func fixture(t *testing.T, train, test int) (imagedata.Dataset, imagedata.Dataset) {
	t.Helper()
	dir := t.TempDir()
	if err := imagedata.WriteIDXFixture(dir, "train", train, false, 1); err != nil {
		t.Fatal(err)
	}
	if err := imagedata.WriteIDXFixture(dir, "t10k", test, false, 2); err != nil {
		t.Fatal(err)
	}
	tr, err := imagedata.OpenFashionMNIST(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	te, err := imagedata.OpenFashionMNIST(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close(); te.Close() })
	return tr, te
}

// smallConfig is a narrow classifier for the fixture patterns.
func smallConfig() unet.ClassifierConfig {
	return unet.ClassifierConfig{ImageSize: 32, InChannels: 1, Channels: []int{8, 16, 16}, Classes: 10, NormGroups: 4}
}

// The fixture's ten classes are stripe patterns under noise: a working
// classifier separates them within two epochs, and one saved and loaded
// predicts exactly the same.
func TestTrainSaveLoad(t *testing.T) {
	tr, te := fixture(t, 640, 200)
	o := DefaultTrainOptions()
	o.Epochs, o.Batch, o.Optim.LR = 8, 32, 5e-3
	var losses []float64
	o.Progress = func(_, _ int, loss, _ float64, end bool) {
		if !end {
			losses = append(losses, loss)
		}
	}
	c, acc, err := TrainClassifier(context.Background(), smallConfig(), tr, te, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loss %.3f → %.3f, test accuracy %.3f", losses[0], losses[len(losses)-1], acc)
	if acc < 0.9 {
		t.Fatalf("test accuracy %.3f, want ≥ 0.9", acc)
	}
	p := filepath.Join(t.TempDir(), "m", "c.safetensors")
	if err := SaveClassifier(p, c, map[string]string{"test_accuracy": "x"}); err != nil {
		t.Fatal(err)
	}
	c2, md, err := LoadClassifier(p)
	if err != nil {
		t.Fatal(err)
	}
	if md["test_accuracy"] != "x" {
		t.Fatalf("metadata %v", md)
	}
	acc2, err := Accuracy(c2, te)
	if err != nil {
		t.Fatal(err)
	}
	if acc2 != acc {
		t.Fatalf("loaded classifier: accuracy %v, saved %v", acc2, acc)
	}
	// A file that is not a classifier.
	os.WriteFile(p, []byte("garbage"), 0o644)
	if _, _, err := LoadClassifier(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("garbage file: %v", err)
	}
}

// FD and precision/recall on the features of a trained classifier: two
// halves of the real set are close (FD small, precision and recall high);
// noise images are far (FD many times larger, precision near 0).
func TestScorerSeparatesRealFromNoise(t *testing.T) {
	tr, te := fixture(t, 320, 400)
	o := DefaultTrainOptions()
	o.Epochs, o.Batch = 1, 32
	c, _, err := TrainClassifier(context.Background(), smallConfig(), tr, te, o)
	if err != nil {
		t.Fatal(err)
	}
	all, err := Images(te, 400)
	if err != nil {
		t.Fatal(err)
	}
	d := 1024
	sc, err := NewScorer(unet.NewEval(c), all[:200*d], 200)
	if err != nil {
		t.Fatal(err)
	}
	same, err := sc.Score(all[200*d:], 200)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]float32, 200*d)
	for i := range noise {
		noise[i] = float32(2*rng.Float64() - 1)
	}
	far, err := sc.Score(noise, 200)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("real vs real %v; real vs noise %v", same, far)
	if !(far["fd"] > 10*same["fd"]) {
		t.Errorf("FD of noise %.4g is not 10× that of real images %.4g", far["fd"], same["fd"])
	}
	if same["precision"] < 0.8 || same["recall"] < 0.8 {
		t.Errorf("real vs real: precision %.3f, recall %.3f, want ≥ 0.8", same["precision"], same["recall"])
	}
	if far["precision"] > 0.1 {
		t.Errorf("noise: precision %.3f, want ≤ 0.1", far["precision"])
	}
}
