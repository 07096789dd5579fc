// Command worker is a levy training worker: it joins the coordinator
// through NATS and trains the jobs it is given.
//
//	worker --nats nats://head:4222 --gpu -1
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/levy-ml/levy/internal/cli"
	"github.com/levy-ml/levy/internal/obs"
	"github.com/levy-ml/levy/worker"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run() error {
	def := worker.DefaultConfig()
	host, _ := os.Hostname()
	var (
		natsURL  = flag.String("nats", "nats://127.0.0.1:4222", "NATS server URL")
		gpu      = flag.Int("gpu", def.GPU, "GPU to train on; −1 trains on the CPU (GPU support needs a build with -tags cuda)")
		id       = flag.String("id", "", "unique worker ID, letters, digits, '_' and '-' (default: host-pid)")
		once     = flag.Bool("once", false, "exit after one job")
		runsDir  = flag.String("runs-dir", def.RunsRoot, "where this machine sees the cluster's run directories (the coordinator's --runs-dir, on storage every machine shares)")
		timeout  = flag.Duration("ring-timeout", def.RingTimeout, "all-reduce deadline: a peer silent for this long fails the job")
		logLevel = flag.String("log-level", "info", "log level on stderr: debug, info, warn, error")
	)
	metricsAddr := flag.String("metrics-addr", "", "serve Prometheus metrics on this address, e.g. :9101 (empty: off)")
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
	cfg := def
	cfg.GPU, cfg.Once, cfg.RingTimeout, cfg.Log, cfg.RunsRoot = *gpu, *once, *timeout, log, *runsDir
	cfg.ID = *id
	if cfg.ID == "" {
		cfg.ID = cli.SafeID(fmt.Sprintf("%s-%d", host, os.Getpid()))
	}
	// Refuse a GPU this build cannot use before connecting anywhere.
	if err := worker.CheckGPU(cfg.GPU); err != nil {
		return err
	}
	reg := obs.NewRegistry()
	nc, err := cli.ConnectObserved(*natsURL, "levy-worker-"+cfg.ID, auth, log, reg)
	if err != nil {
		return err
	}
	defer nc.Close()
	cfg.NATS = nc
	cfg.Metrics = worker.NewMetrics(reg, cfg.ID)
	w, err := worker.New(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *metricsAddr != "" {
		addr, _, err := obs.Serve(ctx, *metricsAddr, reg)
		if err != nil {
			return err
		}
		log.Info("serving metrics", zap.String("url", "http://"+addr+"/metrics"))
	}
	if err := w.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
