package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/levy-ml/levy/losses"
	"github.com/levy-ml/levy/noise"
	"github.com/levy-ml/levy/toy2d"
	"github.com/levy-ml/levy/toy2d/data"
)

func runTrain(ctx context.Context, args []string) error {
	fs := newFlags("train")
	method := fs.String("method", "dlpm", "training method: dlpm, lim or ddpm")
	alpha := fs.Float64("alpha", 1.7, "tail index of the diffusion noise, in (0, 2] (ignored by ddpm)")
	dataset := fs.String("dataset", data2d.NameGrid9, "2-D dataset: grid9 or sas2d")
	steps := fs.Int("steps", 0, "optimizer steps (0: use --epochs)")
	epochs := fs.Int("epochs", 20, "epochs over the dataset when --steps is 0 (released setting: 20)")
	seed := fs.Uint64("seed", 0, "random seed (data, weights, noise)")
	out := fs.String("out", "", "directory to write the model to (required; it may not hold a model already, see --force)")
	force := fs.Bool("force", false, "replace a model already in --out, first removing its samples (samples.csv, samples.png, metrics.json) there and in its sample directories")
	T := fs.Int("T", 100, "DLPM/DDPM schedule length")
	batch := fs.Int("batch", 1024, "batch size")
	lr := fs.Float64("lr", 5e-3, "AdamW learning rate")
	gridStd := fs.Float64("grid-std", 0.1, "grid9 component standard deviation (0.1 released, 0.05 printed)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if !slices.Contains([]string{losses.DLPM, losses.LIM, losses.DDPM}, *method) {
		return flagError("method", *method, "unknown method (want dlpm, lim or ddpm)")
	}
	if err := noise.CheckAlpha(*alpha); err != nil {
		return flagError("alpha", *alpha, "outside (0, 2]")
	}
	if !slices.Contains(data2d.Names, *dataset) {
		return flagError("dataset", *dataset, fmt.Sprintf("unknown dataset (want one of %v)", data2d.Names))
	}
	if *out == "" {
		return fmt.Errorf("--out is required")
	}
	if *steps < 0 {
		return flagError("steps", *steps, "must be ≥ 0")
	}
	if *epochs <= 0 && *steps == 0 {
		return flagError("epochs", *epochs, "must be > 0 when --steps is 0")
	}
	c, err := toy2d.DefaultTrainConfig(*method, *dataset, *alpha)
	if err != nil {
		return err
	}
	c.Steps, c.Epochs, c.Seed, c.T, c.Batch, c.Opt.LR = *steps, *epochs, *seed, *T, *batch, *lr
	if *dataset == data2d.NameGrid9 {
		c.Data.Std = *gridStd
	}
	if err := c.Validate(); err != nil {
		return err
	}
	made, replace, err := prepareOut(*out, *force)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "training %s (α = %g) on %s: %d steps, batch %d, seed %d\n", c.Method, c.Alpha, c.Data.Name, c.TotalSteps(), c.Batch, c.Seed)
	t, err := toy2d.Train(ctx, c, 2*time.Second, func(p toy2d.Progress) {
		fmt.Fprintf(os.Stderr, "step %6d/%d  loss %.4f  %6.1f steps/s  elapsed %s  ETA %s\n",
			p.Step, p.Total, p.Loss, p.StepsPerSec, p.Elapsed.Round(time.Second), p.ETA.Round(time.Second))
	})
	if err != nil {
		if made {
			os.Remove(*out) // still empty
		}
		return err
	}
	if replace {
		if err := removeSamples(*out); err != nil {
			return err
		}
	}
	if err := toy2d.Save(*out, t); err != nil {
		return err
	}
	fmt.Printf("model: %s\nsteps: %d\nfinal_loss: %.5f\ntrain_seconds: %.1f\n", *out, t.Steps, t.FinalLoss, t.Seconds)
	return nil
}

// prepareOut checks, before training, that dir can take the model: it
// may hold no model unless force is set (replace then says that it
// does), and it must be writable, which a file created and removed
// there proves. It creates dir if need be and reports whether it did.
func prepareOut(dir string, force bool) (made, replace bool, err error) {
	for _, f := range []string{toy2d.ConfigFile, toy2d.WeightsFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			if !force {
				return false, false, flagError("out", dir, fmt.Sprintf("already holds a model (%s); give another directory, or --force to replace it and remove its samples", f))
			}
			replace = true
		}
	}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		made = true
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, false, flagError("out", dir, fmt.Sprintf("cannot create it: %v", err))
	}
	f, err := os.CreateTemp(dir, ".levyctl-probe-*")
	if err != nil {
		if made {
			os.Remove(dir)
		}
		return false, false, flagError("out", dir, fmt.Sprintf("not writable: %v", err))
	}
	f.Close()
	return made, replace, os.Remove(f.Name())
}

// removeSamples removes what levyctl sample wrote about the model in
// dir: its sample files in dir, and every directory just below dir that
// holds nothing but sample files (as --out dir/samples makes). Each
// removal is named on stderr.
func removeSamples(dir string) error {
	isSample := func(name string) bool { return slices.Contains(sampleFiles, name) }
	for _, name := range sampleFiles {
		p := filepath.Join(dir, name)
		if err := os.Remove(p); err == nil {
			fmt.Fprintf(os.Stderr, "removed the old model's %s\n", p)
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		sub := filepath.Join(dir, e.Name())
		inside, err := os.ReadDir(sub)
		if err != nil || len(inside) == 0 || slices.ContainsFunc(inside, func(f os.DirEntry) bool { return f.IsDir() || !isSample(f.Name()) }) {
			continue
		}
		if err := os.RemoveAll(sub); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "removed the old model's samples %s\n", sub)
	}
	return nil
}
