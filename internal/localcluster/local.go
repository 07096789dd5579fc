package localcluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/levy-ml/levy/coordinator"
	"github.com/levy-ml/levy/internal/natsauth"
	"github.com/levy-ml/levy/internal/natsembed"
	"github.com/levy-ml/levy/internal/obs"
	"github.com/levy-ml/levy/worker"
)

// MaxPayload is the embedded server's max_payload (natsembed.MaxPayload,
// 8 MiB): the largest the server accepts without a warning; the
// all-reduce chunks stay below it.
const MaxPayload = natsembed.MaxPayload

// Config configures a local cluster.
type Config struct {
	Coordinator coordinator.Config // NATS is filled in
	// Sampler runs a sampling worker (and the coordinator waits for its
	// report on the final checkpoint).
	Sampler bool
	Log     *zap.Logger
	// RingTimeout overrides the workers' all-reduce deadline (0: default).
	RingTimeout time.Duration
	// Registry, if not nil, receives the coordinator's and every worker's
	// Prometheus series (workers are told apart by their "worker" label).
	Registry *prometheus.Registry
	// User and Password, when set, are required by the embedded server
	// from every client, and used by the cluster's own connections.
	User, Password string
}

// StartServer starts an embedded NATS server (natsembed) on a random
// loopback port with MaxPayload; with a user, every client must give that
// user and password.
func StartServer(user, password string) (*server.Server, error) {
	ns, err := natsembed.Start(&server.Options{MaxPayload: MaxPayload, Username: user, Password: password})
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	return ns, nil
}

// startRoleServer starts the embedded server. With a user, the server
// takes the roles of docs/security.md: user and password are the
// operator's (levyctl's), and the coordinator, every worker (w0, w1, …)
// and the sampler get users of their own with random passwords, each
// allowed only its role's subjects. creds maps "coordinator", "w<i>" and
// "sampler" to those identities (empty without a user).
func startRoleServer(user, password string, workers int, sampler bool) (*server.Server, map[string]natsauth.Identity, error) {
	if user == "" {
		ns, err := StartServer("", "")
		return ns, nil, err
	}
	creds := map[string]natsauth.Identity{"coordinator": {Role: natsauth.Coordinator, Name: "c0", Password: natsauth.NewPassword()}}
	for i := range workers {
		name := fmt.Sprintf("w%d", i)
		creds[name] = natsauth.Identity{Role: natsauth.Worker, Name: name, Password: natsauth.NewPassword()}
	}
	if sampler {
		creds["sampler"] = natsauth.Identity{Role: natsauth.Sampler, Name: "sampler", Password: natsauth.NewPassword()}
	}
	ids := make([]natsauth.Identity, 0, len(creds))
	for _, id := range creds {
		ids = append(ids, id)
	}
	users, err := natsauth.Users(ids)
	if err != nil {
		return nil, nil, fmt.Errorf("local: %w", err)
	}
	op := natsauth.Identity{Role: natsauth.Operator, Name: "levyctl", Password: password}
	users = append(users, &server.User{Username: user, Password: password, Permissions: op.Permissions()})
	ns, err := natsembed.Start(&server.Options{MaxPayload: MaxPayload, Users: users})
	if err != nil {
		return nil, nil, fmt.Errorf("local: %w", err)
	}
	return ns, creds, nil
}

// Run starts the cluster, runs the coordinator's job and shuts everything
// down. Cancelling ctx stops the job gracefully (checkpoint first).
func Run(ctx context.Context, cfg Config) (*coordinator.Result, error) {
	log := cfg.Log
	if log == nil {
		log = zap.NewNop()
	}
	cc := cfg.Coordinator
	ns, creds, err := startRoleServer(cfg.User, cfg.Password, cc.Workers, cfg.Sampler)
	if err != nil {
		return nil, err
	}
	defer ns.Shutdown()
	var conns []*nats.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	var reg prometheus.Registerer // a nil *Registry would not be a nil Registerer
	if cfg.Registry != nil {
		reg = cfg.Registry
	}
	connect := func(name string) (*nats.Conn, error) {
		opts := append([]nats.Option{nats.Name(name), nats.InProcessServer(ns)}, obs.ConnOptions(log, reg)...)
		if id, ok := creds[name]; ok {
			opts = append(opts, nats.UserInfo(id.Username(), id.Password))
		}
		c, err := nats.Connect(ns.ClientURL(), opts...)
		if err != nil {
			return nil, fmt.Errorf("local: connecting %s: %w", name, err)
		}
		conns = append(conns, c)
		return c, nil
	}
	if cc.NATS, err = connect("coordinator"); err != nil {
		return nil, err
	}
	cc.Log = log
	cc.WaitSamples = cfg.Sampler
	if cfg.Registry != nil {
		cc.Metrics = coordinator.NewMetrics(cfg.Registry)
	}
	coord, err := coordinator.NewJobRunner(cc)
	if err != nil {
		return nil, err
	}

	// Workers and the sampler run until their context ends; the
	// coordinator's Run is what we wait for.
	wctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, cc.Workers+1)
	for i := range cc.Workers {
		nc, err := connect(fmt.Sprintf("w%d", i))
		if err != nil {
			return nil, err
		}
		wc := worker.DefaultConfig()
		wc.ID, wc.NATS, wc.Log, wc.Once, wc.RunsRoot = fmt.Sprintf("w%d", i), nc, log, true, cc.RunsDir
		wc.JoinRetry = 100 * time.Millisecond // the coordinator subscribes a moment later
		if cfg.Registry != nil {
			wc.Metrics = worker.NewMetrics(cfg.Registry, wc.ID)
		}
		if cfg.RingTimeout > 0 {
			wc.RingTimeout = cfg.RingTimeout
		}
		w, err := worker.New(wc)
		if err != nil {
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(wctx); err != nil && !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("worker %s: %w", wc.ID, err)
			}
		}()
	}
	if cfg.Sampler {
		nc, err := connect("sampler")
		if err != nil {
			return nil, err
		}
		ready := make(chan struct{})
		sp, err := worker.NewSampler(worker.SamplerConfig{NATS: nc, Log: log, Job: coord.Spec().Name, Seed: coord.Spec().Seed, Ready: ready, RunsRoot: cc.RunsDir})
		if err != nil {
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sp.Run(wctx); err != nil {
				errs <- fmt.Errorf("sampler: %w", err)
			}
		}()
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	res, err := coord.Run(ctx)
	cancel()
	wg.Wait()
	close(errs)
	if err == nil {
		for e := range errs {
			log.Warn("after the job", zap.Error(e))
		}
	}
	return res, err
}
