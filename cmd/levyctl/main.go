// Command levyctl trains and samples the 2-D models, dumps α-stable noise
// and reproduces the DLPM paper's 2-D tables. Results go to stdout, logs
// and progress to stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `levyctl — heavy-tailed diffusion models (DLPM, DLIM, LIM, DDPM)

usage:
  levyctl train  --method dlpm|lim|ddpm --alpha 1.7 --dataset grid9|sas2d [--steps N | --epochs E] --seed S --out DIR
  levyctl sample --model DIR --sampler dlpm|dlim|lim-sde|lim-ode|ddpm|ddim --steps K --n 15000 --seed S --out DIR2
  levyctl noise  --alpha A --n N --dim D [--non-isotropic] --seed S
  levyctl classifier [--data DIR] [--epochs 3] [--out weights/fashion-mnist-classifier.safetensors]
                 train the Fashion-MNIST classifier whose features score image samples (FD, precision/recall)
  levyctl repro  --table 1|2 --alpha 1.5,1.6,1.7,1.8,1.9,2.0 --methods dlpm,dlim,lim,ddpm --runs R [--json]
  levyctl verify CHECKPOINT|RUNDIR...
                 check checkpoints against their manifests (sizes, SHA-256): one line each, exit 1 if any is bad

cluster (the raft leader answers; --nats URL or LEVY_NATS_URL, credentials as for the other commands):
  levyctl submit JOB.yaml      queue a job, print its id
  levyctl status [JOB]         state, step, loss, speed, ETA, workers, newest checkpoint
  levyctl cancel JOB           stop a job (its workers checkpoint first)
  levyctl resume JOB [--from CHECKPOINT]   run a stopped or failed job again from a checkpoint
  levyctl logs JOB [--for D]   follow a job's progress, checkpoints, samples

Run "levyctl COMMAND -h" for the flags of a command.
`

var commands = map[string]func(ctx context.Context, args []string) error{
	"train":  runTrain,
	"sample": runSample,
	"noise":  runNoise,
	"repro":  runRepro,
	"submit": runSubmit,
	"status": runStatus,
	"cancel": runCancel,
	"resume": runResume,
	"logs":   runLogs,

	"classifier": runClassifier,
	"verify":     runVerify,

	"nats-config": runNATSConfig,
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		fmt.Fprint(os.Stderr, usage)
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "levyctl: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd(ctx, os.Args[2:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		if errors.Is(err, errFlags) {
			os.Exit(2) // the flag set has printed the error and the usage
		}
		fmt.Fprintf(os.Stderr, "levyctl %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// newFlags makes a flag set whose parse errors are returned, not exited
// on, so that every error goes through main's one exit path. The set
// prints a parse error itself, above the usage; parseFlags marks it so
// that main does not print it a second time.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("levyctl "+name, flag.ContinueOnError)
	return fs
}

// errFlags is wrapped by the error of a flag set's Parse, which the set
// has printed already, above the command's usage: main exits 2 without
// printing it again.
var errFlags = errors.New("levyctl: bad flags")

// parseFlags is fs.Parse with its errors (but -h's flag.ErrHelp) wrapping
// errFlags.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return fmt.Errorf("%w: %w", errFlags, err)
	}
	return err
}

// parse parses args and refuses stray positional arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags are --name value)", fs.Arg(0))
	}
	return nil
}

// flagError names a flag and its bad value.
func flagError(name string, value any, why string) error {
	return fmt.Errorf("--%s %v: %s", name, value, why)
}
