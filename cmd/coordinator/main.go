// Command coordinator runs a training job over levy workers that talk
// through NATS.
//
//	coordinator --local --workers 2                   # everything in this process, embedded NATS
//	coordinator --local --workers 2 --job job.yaml    # a job spec (YAML or JSON)
//	coordinator --local --workers 2 --resume runs/dlpm-grid9
//	coordinator --nats nats://head:4222 --workers 8 --job job.yaml   # workers run `worker --nats …`
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/levy-ml/levy/coordinator"
	"github.com/levy-ml/levy/internal/cli"
	"github.com/levy-ml/levy/internal/localcluster"
	"github.com/levy-ml/levy/internal/obs"
	"github.com/levy-ml/levy/job"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "coordinator:", err)
		os.Exit(1)
	}
}

func run() error {
	def := coordinator.DefaultConfig()
	var (
		localMode = flag.Bool("local", false, "run the whole cluster in this process: embedded NATS server, coordinator, the workers and a sampler")
		workers   = flag.Int("workers", 2, "number of training workers")
		jobFile   = flag.String("job", "", "job spec file, YAML or JSON (default: DLPM α=1.7 on the 9-Gaussian grid, 2000 steps)")
		resume    = flag.String("resume", "", "continue the run in this directory (runs/<job>) from its newest good checkpoint")
		natsURL   = flag.String("nats", "nats://127.0.0.1:4222", "NATS server URL (not with --local)")
		runsDir   = flag.String("runs-dir", def.RunsDir, "parent directory of the run directories, on storage every worker and sampler sees")
		stopAt    = flag.Int("stop-at", 0, "checkpoint and stop after this many steps (0: run the job to the end)")
		every     = flag.Duration("progress-every", def.ProgressEvery, "interval of the progress lines")
		noSampler = flag.Bool("no-sampler", false, "with --local: run no sampler (no samples.png, no metrics.json)")
		waitSamp  = flag.Bool("wait-samples", false, "without --local: wait for a sampler's report on the final checkpoint")
		logLevel  = flag.String("log-level", "", "log level on stderr: debug, info, warn, error (default: info; warn with --local, whose stdout shows the events)")
		restarts  = flag.Int("max-restarts", def.MaxRestarts, "re-form a failed ring (a worker died or hung) from the newest checkpoint up to this many times; 0 fails the job at once")
		deadAfter = flag.Duration("dead-after", def.DeadAfter, "declare a worker dead when its heartbeats stop for this long")
		id        = flag.String("id", "", "this coordinator's ID in the raft group (with --peers)")
		raftBind  = flag.String("raft-bind", "", "raft address to listen on, host:port (with --peers)")
		peersFlag = flag.String("peers", "", "the raft group: c1=host:port,c2=host:port,c3=host:port (this one included)")
		dataDir   = flag.String("data-dir", "", "directory of this coordinator's raft log and snapshots (with --peers)")
		raftCA    = flag.String("raft-tls-ca", "", "PEM CA certificate: run raft over mutual TLS 1.3, accepting only peers it signed (with --raft-tls-cert and --raft-tls-key)")
		raftCert  = flag.String("raft-tls-cert", "", "PEM certificate of this coordinator for raft's mutual TLS; its SANs must name the host in --peers")
		raftKey   = flag.String("raft-tls-key", "", "PEM private key of --raft-tls-cert")
		// For tests and small clusters: snapshots much more often than
		// raft's defaults (a test can then see several in a short run).
		snapThreshold = flag.Uint64("raft-snapshot-threshold", 0, "take a raft snapshot after this many log entries (0: raft's default, 8192); for tests and small clusters")
		snapInterval  = flag.Duration("raft-snapshot-interval", 0, "how often raft checks whether to snapshot (0: raft's default, 2m); for tests and small clusters")
	)
	metricsAddr := flag.String("metrics-addr", "", "serve Prometheus metrics on this address, e.g. :9100 (empty: off); with --local, the workers' series too")
	logFormat := flag.String("log-format", "console", "log format on stderr: console or json")
	var auth cli.NATSAuth
	auth.AddFlags(flag.CommandLine)
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (flags start with --)", flag.Args())
	}
	if err := (coordinator.NodeConfig{TLSCAFile: *raftCA, TLSCertFile: *raftCert, TLSKeyFile: *raftKey}).ValidateTLS(); err != nil {
		return err
	}
	if *logLevel == "" {
		*logLevel = "info"
		if *localMode {
			*logLevel = "warn"
		}
	}
	log, err := cli.Logger(*logLevel, *logFormat)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }() // stderr may refuse to sync (a terminal or a pipe); nothing to do about it at exit

	cfg := def
	cfg.Workers, cfg.RunsDir, cfg.Resume, cfg.StopAt, cfg.ProgressEvery, cfg.Log = *workers, *runsDir, *resume, *stopAt, *every, log
	cfg.MaxRestarts, cfg.DeadAfter = *restarts, *deadAfter
	if *jobFile != "" {
		if *resume != "" {
			return errors.New("--job and --resume: a resumed run keeps the spec stored in its checkpoint; give one of them")
		}
		if cfg.Job, err = job.ReadFile(*jobFile); err != nil {
			return err
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() { <-ctx.Done(); stop() }() // a second Ctrl-C kills at once
	reg := obs.NewRegistry()
	if *metricsAddr != "" {
		mctx, mcancel := context.WithCancel(context.Background())
		defer mcancel()
		addr, _, err := obs.Serve(mctx, *metricsAddr, reg)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "metrics: http://%s/metrics\n", addr)
	}
	var res *coordinator.Result
	if *localMode {
		if auth.NKeyFile != "" || auth.CertFile != "" || auth.CAFile != "" {
			return errors.New("--local supports --nats-user/--nats-password only (the embedded server then requires them)")
		}
		if *resume == "" {
			// A fresh run: runs/<job>, or runs/<job>-2, -3 … when an
			// earlier run holds it.
			if cfg.RunDir, err = coordinator.FreshRunDir(cfg.RunsDir, cfg.Job.Name); err != nil {
				return err
			}
			if earlier := filepath.Join(cfg.RunsDir, cfg.Job.Name); cfg.RunDir != earlier {
				fmt.Printf("run directory %s (%s holds an earlier run; continue that one with --resume %s)\n", cfg.RunDir, earlier, earlier)
			}
		}
		res, err = localcluster.Run(ctx, localcluster.Config{Coordinator: cfg, Sampler: !*noSampler, Log: log, User: auth.User, Password: auth.Password, Registry: reg})
		if err != nil && cfg.RunDir != "" {
			// If empty, the next run may use the directory again; if not (or
			// on any failure), it stays as it is.
			_ = os.Remove(filepath.Join(cfg.RunDir, "checkpoints"))
		}
	} else {
		nc, cerr := cli.ConnectObserved(*natsURL, "levy-coordinator", auth, log, reg)
		if cerr != nil {
			return cerr
		}
		defer nc.Close()
		cfg.NATS, cfg.WaitSamples, cfg.Metrics = nc, *waitSamp, coordinator.NewMetrics(reg)
		if *peersFlag != "" {
			peers, perr := coordinator.ParsePeers(*peersFlag)
			if perr != nil {
				return perr
			}
			node, nerr := coordinator.NewNode(coordinator.NodeConfig{ID: *id, Bind: *raftBind, Peers: peers, DataDir: *dataDir, Log: log,
				TLSCAFile: *raftCA, TLSCertFile: *raftCert, TLSKeyFile: *raftKey,
				SnapshotThreshold: *snapThreshold, SnapshotInterval: *snapInterval})
			if nerr != nil {
				return nerr
			}
			defer func() {
				if err := node.Shutdown(); err != nil {
					fmt.Fprintln(os.Stderr, "coordinator: shutting down raft:", err)
				}
			}()
			node.RegisterMetrics(reg)
			cfg.Raft = node
		} else if *id != "" || *raftBind != "" || *dataDir != "" || *raftCA != "" || *raftCert != "" || *raftKey != "" ||
			*snapThreshold != 0 || *snapInterval != 0 {
			return errors.New("--id, --raft-bind, --data-dir, --raft-tls-* and --raft-snapshot-* need --peers")
		}
		if cfg.Raft != nil && *jobFile == "" && *resume == "" {
			// A standing cluster: jobs come from `levyctl submit`.
			sv, serr := coordinator.NewService(cfg)
			if serr != nil {
				return serr
			}
			fmt.Fprintf(os.Stderr, "coordinator %s: serving; submit jobs with levyctl submit JOB.yaml --nats %s\n", *id, cli.Redact(*natsURL))
			return sv.Run(ctx)
		}
		s, nerr := coordinator.NewJobRunner(cfg)
		if nerr != nil {
			return nerr
		}
		for {
			res, err = s.Run(ctx)
			if !errors.Is(err, coordinator.ErrNotLeader) {
				break
			}
			fmt.Fprintln(os.Stderr, "coordinator: no longer the leader; standing by")
		}
	}
	if res != nil && res.Metrics != nil {
		fmt.Printf("metrics: %s/metrics.json\n", res.RunDir)
	}
	return err
}
