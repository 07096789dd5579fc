// Command sampler is a levy sampling worker: it watches for new
// checkpoints, samples them with their job's sampler and writes
// samples.safetensors, samples.png and metrics.json for each one to
// <run>/samples/step-N and, for the newest, into the run directory.
//
//	sampler --nats nats://head:4222 [--job NAME]
//	sampler --checkpoint runs/dlpm-grid9/checkpoints/step-00002000   # one checkpoint, no NATS
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/levy-ml/levy/internal/cli"
	"github.com/levy-ml/levy/worker"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sampler:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		natsURL  = flag.String("nats", "nats://127.0.0.1:4222", "NATS server URL")
		jobName  = flag.String("job", "", "sample only this job's checkpoints (default: every job)")
		ckpt     = flag.String("checkpoint", "", "sample this one checkpoint directory and exit (no NATS)")
		seed     = flag.Uint64("seed", 1, "seed of the sampler's draws")
		runsDir  = flag.String("runs-dir", "runs", "where this machine sees the cluster's run directories (the coordinator's --runs-dir)")
		sid      = flag.String("id", "sampler", "this sampler's ID (letters, digits, '_' and '-')")
		logLevel = flag.String("log-level", "info", "log level on stderr: debug, info, warn, error")
	)
	logFormat := flag.String("log-format", "console", "log format on stderr: console or json")
	var auth cli.NATSAuth
	auth.AddFlags(flag.CommandLine)
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (flags start with --)", flag.Args())
	}
	log, err := cli.Logger(*logLevel, *logFormat)
	if err != nil {
		return err
	}
	defer log.Sync()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := worker.SamplerConfig{Log: log, Job: *jobName, Seed: *seed, RunsRoot: *runsDir, ID: *sid}
	if *ckpt != "" {
		s := worker.NewOfflineSampler(cfg)
		m, err := s.SampleCheckpoint(ctx, *ckpt)
		if err != nil {
			return err
		}
		b, _ := json.MarshalIndent(m, "", "  ")
		fmt.Println(string(b))
		return nil
	}
	nc, err := cli.Connect(*natsURL, "levy-sampler", auth, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	cfg.NATS = nc
	s, err := worker.NewSampler(cfg)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}
