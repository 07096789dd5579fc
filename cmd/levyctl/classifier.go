package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/levy-ml/levy/imagedata"
	"github.com/levy-ml/levy/nn/unet"
	"github.com/levy-ml/levy/quality"
)

// runClassifier trains levy's Fashion-MNIST feature network.
func runClassifier(ctx context.Context, args []string) error {
	fs := newFlags("classifier")
	data := fs.String("data", "/usr/share/datasets/fashion-mnist", "directory of the Fashion-MNIST (or MNIST) IDX files")
	out := fs.String("out", "weights/fashion-mnist-classifier.safetensors", "where to write the classifier")
	o := quality.DefaultTrainOptions()
	fs.IntVar(&o.Epochs, "epochs", o.Epochs, "epochs over the training split")
	fs.IntVar(&o.Batch, "batch", o.Batch, "batch size")
	fs.Float64Var(&o.Optim.LR, "lr", o.Optim.LR, "initial learning rate (decays linearly to 0)")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "random seed (initialisation and data order)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.Epochs < 1 {
		return flagError("epochs", o.Epochs, "must be ≥ 1")
	}
	if o.Batch < 1 {
		return flagError("batch", o.Batch, "must be ≥ 1")
	}
	if !(o.Optim.LR > 0) {
		return flagError("lr", o.Optim.LR, "must be > 0")
	}
	train, err := imagedata.OpenFashionMNIST(*data, true)
	if err != nil {
		return err
	}
	defer train.Close()
	test, err := imagedata.OpenFashionMNIST(*data, false)
	if err != nil {
		return err
	}
	defer test.Close()
	steps := o.Epochs * (train.Len() / o.Batch)
	t0 := time.Now()
	last := t0
	var sum float64
	var k int
	o.Progress = func(ep, step int, loss, acc float64, end bool) {
		if end {
			fmt.Fprintf(os.Stderr, "epoch %d: test accuracy %.4f (%s)\n", ep+1, acc, time.Since(t0).Round(time.Second))
			return
		}
		sum += loss
		k++
		if time.Since(last) > 5*time.Second || step == steps {
			el := time.Since(t0)
			rate := float64(step) / el.Seconds()
			fmt.Fprintf(os.Stderr, "step %d/%d  loss %.4f  %.1f images/s  ETA %s\n", step, steps, sum/float64(k),
				rate*float64(o.Batch), time.Duration(float64(steps-step)/rate*float64(time.Second)).Round(time.Second))
			sum, k, last = 0, 0, time.Now()
		}
	}
	cfg := unet.DefaultClassifierConfig()
	c, acc, err := quality.TrainClassifier(ctx, cfg, train, test, o)
	if err != nil {
		return err
	}
	meta := map[string]string{"dataset": "fashion-mnist", "test_accuracy": quality.AccuracyMeta(acc),
		"epochs": fmt.Sprint(o.Epochs), "batch": fmt.Sprint(o.Batch), "lr": fmt.Sprint(o.Optim.LR), "seed": fmt.Sprint(o.Seed),
		"train_seconds": fmt.Sprintf("%.0f", time.Since(t0).Seconds())}
	if err := quality.SaveClassifier(*out, c, meta); err != nil {
		return err
	}
	fmt.Printf("test accuracy %.4f; wrote %s\n", acc, *out)
	return ctx.Err()
}
