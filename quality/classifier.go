package quality

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/levy-ml/levy/imagedata"
	"github.com/levy-ml/levy/internal/atomicfile"
	"github.com/levy-ml/levy/nn"
	"github.com/levy-ml/levy/nn/unet"
	"github.com/levy-ml/levy/safetensors"
)

// ClassifierFormat is the "format" metadata of a saved classifier.
const ClassifierFormat = "levy-classifier"

// SaveClassifier writes c's weights and configuration to path (through
// atomicfile: a reader sees the old file or the new one whole); meta is
// added to the file's metadata.
func SaveClassifier(path string, c *unet.Classifier, meta map[string]string) error {
	cfg, err := json.Marshal(c.Config())
	if err != nil {
		return err
	}
	md := map[string]string{"format": ClassifierFormat, "config": string(cfg)}
	for k, v := range meta {
		md[k] = v
	}
	var ts []safetensors.Tensor
	for _, p := range c.Params() {
		ts = append(ts, safetensors.Tensor{Name: p.Name, Shape: p.Shape, Data: p.Data})
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("quality: %w", err)
	}
	if err := atomicfile.Write(path, 0o644, func(w io.Writer) error { return safetensors.Encode(w, ts, md) }); err != nil {
		return fmt.Errorf("quality: %w", err)
	}
	return nil
}

// LoadClassifier reads a classifier written by SaveClassifier; its
// metadata comes back too.
func LoadClassifier(path string) (*unet.Classifier, map[string]string, error) {
	ts, md, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("quality: feature network %s: %w", path, err)
	}
	if md["format"] != ClassifierFormat {
		return nil, nil, fmt.Errorf("quality: %s is not a levy classifier (format %q, want %q)", path, md["format"], ClassifierFormat)
	}
	var cfg unet.ClassifierConfig
	if err := json.Unmarshal([]byte(md["config"]), &cfg); err != nil {
		return nil, nil, fmt.Errorf("quality: %s: config: %w", path, err)
	}
	c, err := unet.NewClassifier(cfg, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("quality: %s: %w", path, err)
	}
	byName := map[string]safetensors.Tensor{}
	for _, t := range ts {
		byName[t.Name] = t
	}
	for _, p := range c.Params() {
		t, ok := byName[p.Name]
		if !ok {
			return nil, nil, fmt.Errorf("quality: %s: no tensor %q", path, p.Name)
		}
		if len(t.Data) != len(p.Data) {
			return nil, nil, fmt.Errorf("quality: %s: tensor %q has %d values, want %d", path, p.Name, len(t.Data), len(p.Data))
		}
		copy(p.Data, t.Data)
	}
	return c, md, nil
}

// TrainOptions configures TrainClassifier.
type TrainOptions struct {
	Epochs int
	Batch  int
	Seed   uint64
	Optim  nn.AdamW
	// Flip mirrors training images at random (not for Fashion-MNIST,
	// whose garments are not all mirror-symmetric in the same way, but
	// harmless; off by default).
	Flip bool
	// Progress, if set, is called after every step and every epoch's
	// test (epochEnd true, acc the test accuracy).
	Progress func(epoch, step int, loss, acc float64, epochEnd bool)
}

// DefaultTrainOptions: 3 epochs of batch 64, AdamW lr 2e−3 (decaying
// linearly to 0), weight decay 1e−4.
func DefaultTrainOptions() TrainOptions {
	return TrainOptions{Epochs: 3, Batch: 64, Seed: 1, Optim: nn.AdamW{LR: 2e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 1e-4}}
}

// TrainClassifier trains a classifier of cfg on train and returns it with
// its accuracy on test after the last epoch. Cancelling ctx stops it
// between steps with ctx's error.
func TrainClassifier(ctx context.Context, cfg unet.ClassifierConfig, train, test imagedata.Dataset, o TrainOptions) (*unet.Classifier, float64, error) {
	c, err := unet.NewClassifier(cfg, o.Seed)
	if err != nil {
		return nil, 0, err
	}
	tc, ti, tw := train.Shape()
	if tc != cfg.InChannels || ti != cfg.ImageSize || tw != cfg.ImageSize {
		return nil, 0, fmt.Errorf("quality: %s holds %d×%d×%d images, the classifier takes %d×%d×%d", train.Name(), tc, ti, tw, cfg.InChannels, cfg.ImageSize, cfg.ImageSize)
	}
	if o.Epochs < 1 || o.Batch < 1 || train.Len() < o.Batch {
		return nil, 0, fmt.Errorf("quality: %d epochs of batch %d over %d images", o.Epochs, o.Batch, train.Len())
	}
	stepsPerEpoch := train.Len() / o.Batch
	total := o.Epochs * stepsPerEpoch
	lr0 := o.Optim.LR
	dim := tc * ti * tw
	x := make([]float32, o.Batch*dim)
	labels := make([]int, o.Batch)
	rng := rand.New(rand.NewPCG(o.Seed, 0xc1a55))
	tr, err := unet.NewClassifierTrainer(c, o.Optim)
	if err != nil {
		return nil, 0, err
	}
	defer tr.Close()
	var acc float64
	step := 0
	for ep := 0; ep < o.Epochs; ep++ {
		perm := rng.Perm(train.Len())
		for s := 0; s < stepsPerEpoch; s++ {
			if err := ctx.Err(); err != nil {
				return nil, 0, err
			}
			for i := 0; i < o.Batch; i++ {
				img := x[i*dim : (i+1)*dim]
				l, err := train.Image(perm[s*o.Batch+i], img)
				if err != nil {
					return nil, 0, err
				}
				if l < 0 {
					return nil, 0, fmt.Errorf("quality: %s has no labels", train.Name())
				}
				if o.Flip && rng.Uint64()&1 == 1 {
					imagedata.HFlip(img, tc, ti, tw)
				}
				labels[i] = l
			}
			tr.SetLR(lr0 * (1 - float64(step)/float64(total)))
			loss, err := tr.Step(x, labels)
			if err != nil {
				return nil, 0, fmt.Errorf("quality: epoch %d step %d: %w", ep, s, err)
			}
			step++
			if o.Progress != nil {
				o.Progress(ep, step, loss, 0, false)
			}
		}
		if acc, err = Accuracy(c, test); err != nil {
			return nil, 0, err
		}
		if o.Progress != nil {
			o.Progress(ep, step, 0, acc, true)
		}
	}
	return c, acc, nil
}

// Accuracy is the fraction of ds that c classifies correctly.
func Accuracy(c *unet.Classifier, ds imagedata.Dataset) (float64, error) {
	e := unet.NewEval(c)
	defer e.Close()
	ch, h, w := ds.Shape()
	dim := ch * h * w
	const chunk = 256
	x := make([]float32, chunk*dim)
	pred := make([]int, chunk)
	lab := make([]int, chunk)
	right := 0
	for lo := 0; lo < ds.Len(); lo += chunk {
		n := min(chunk, ds.Len()-lo)
		for i := 0; i < n; i++ {
			l, err := ds.Image(lo+i, x[i*dim:(i+1)*dim])
			if err != nil {
				return 0, err
			}
			lab[i] = l
		}
		if err := e.Predict(pred[:n], x[:n*dim], n); err != nil {
			return 0, err
		}
		for i := 0; i < n; i++ {
			if pred[i] == lab[i] {
				right++
			}
		}
	}
	return float64(right) / float64(ds.Len()), nil
}

// formatAcc is how an accuracy is written into a classifier's metadata.
func formatAcc(a float64) string { return fmt.Sprintf("%.4f", a) }

// AccuracyMeta formats an accuracy for a classifier's metadata.
func AccuracyMeta(a float64) string { return formatAcc(a) }
