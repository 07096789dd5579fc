package worker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/levy-ml/levy/allreduce"
	"github.com/levy-ml/levy/engine"
	"github.com/levy-ml/levy/internal/preflight"
	"github.com/levy-ml/levy/internal/wire"
)

// Config configures a training worker.
type Config struct {
	ID   string     // unique worker ID (one NATS token)
	GPU  int        // −1: CPU; ≥ 0: that GPU (engine.New probes for it)
	NATS *nats.Conn // connection to the cluster's NATS
	Log  *zap.Logger
	// Once makes Run return after one job; otherwise the worker joins
	// again for the next job.
	Once bool
	// RingTimeout is the all-reduce's deadline for each expected chunk:
	// a peer silent for this long breaks the ring (default 30 s).
	RingTimeout time.Duration
	// JoinRetry is the wait between join attempts while no coordinator
	// answers (default 1 s).
	JoinRetry time.Duration
	// StartTimeout bounds the wait for the coordinator's start once the
	// worker has its assignment (default 2 min).
	StartTimeout time.Duration
	// HeartbeatEvery is the interval of the worker's heartbeats (default
	// 1 s); the coordinator declares a worker dead after a few missed.
	HeartbeatEvery time.Duration
	// RunsRoot is where this machine sees the cluster's run directories
	// (the coordinator's --runs-dir, on shared storage; default "runs").
	// Run and checkpoint paths from the wire are relative to it, and a
	// worker reads and writes nothing outside it.
	RunsRoot string
	// DuplicateGrace: a worker refused because another live process uses
	// its ID keeps asking this long (the other may have just died) before
	// Run returns ErrDuplicateID (default 15 s).
	DuplicateGrace time.Duration

	// Metrics, if not nil, receives the worker's Prometheus series.
	Metrics *Metrics

	// wrapEngine, if set (tests only), wraps the engine to inject faults.
	wrapEngine func(rank int, e engine.Engine) engine.Engine
	// faults, if not nil (tests only), may drop messages.
	faults *Faults
}

// Faults injects failures into a worker (tests only).
type Faults struct {
	// Publish, if not nil, may drop a message the worker sends (return
	// true).
	Publish func(subject string, m wire.Message) bool
	// Engine, if not nil, wraps the engine of each job (to hang or fail
	// it).
	Engine func(rank int, e engine.Engine) engine.Engine
}

// WithFaults returns c with faults injected (for tests of this and other
// packages).
func (c Config) WithFaults(f *Faults) Config {
	c.faults = f
	if f.Engine != nil {
		c.wrapEngine = f.Engine
	}
	return c
}

// DefaultConfig returns a CPU worker with the default timeouts; ID and
// NATS must still be set.
func DefaultConfig() Config {
	return Config{GPU: -1, RingTimeout: 30 * time.Second, JoinRetry: time.Second, StartTimeout: 2 * time.Minute,
		HeartbeatEvery: time.Second, RunsRoot: "runs", DuplicateGrace: 15 * time.Second}
}

// Validate reports the first bad field.
func (c Config) Validate() error {
	switch {
	case !wire.ValidID(c.ID):
		return fmt.Errorf("worker: Config.ID = %q: want 1–64 of [A-Za-z0-9_-]", c.ID)
	case c.GPU < -1:
		return fmt.Errorf("worker: Config.GPU = %d: want −1 (CPU) or a device number", c.GPU)
	case c.NATS == nil:
		return errors.New("worker: Config.NATS is nil")
	case c.RingTimeout <= 0:
		return fmt.Errorf("worker: Config.RingTimeout = %v: want > 0", c.RingTimeout)
	case c.JoinRetry <= 0:
		return fmt.Errorf("worker: Config.JoinRetry = %v: want > 0", c.JoinRetry)
	case c.StartTimeout <= 0:
		return fmt.Errorf("worker: Config.StartTimeout = %v: want > 0", c.StartTimeout)
	case c.HeartbeatEvery <= 0:
		return fmt.Errorf("worker: Config.HeartbeatEvery = %v: want > 0", c.HeartbeatEvery)
	case c.RunsRoot == "":
		return errors.New("worker: Config.RunsRoot is empty")
	case c.DuplicateGrace < 0:
		return fmt.Errorf("worker: Config.DuplicateGrace = %v: want ≥ 0", c.DuplicateGrace)
	}
	return nil
}

// Worker is a training worker.
type Worker struct {
	cfg Config
	log *zap.Logger
	inc string // this process's incarnation
	// maxTerm is the highest coordinator term seen: commands and
	// assignments of a lower one come from a deposed leader and are
	// dropped.
	maxTerm atomic.Uint64
	// where is the ring this worker trains in, for its heartbeats (nil:
	// none).
	where atomic.Pointer[wire.Heartbeat]
	// ended holds the last generation of each job this worker left: a
	// repeated assignment to it is stale.
	ended map[string]uint64
}

// ErrDuplicateID is returned by Run when another live process uses this
// worker's ID.
var ErrDuplicateID = errors.New("worker: another live process uses this worker ID")

// fenced reports whether a message of term t comes from a deposed leader
// (and raises the highest term seen otherwise).
func (w *Worker) fenced(t uint64) bool {
	for {
		cur := w.maxTerm.Load()
		if t < cur {
			return true
		}
		if t == cur || w.maxTerm.CompareAndSwap(cur, t) {
			return false
		}
	}
}

// New validates cfg. A GPU request on a build without GPU support fails
// here, before the worker joins anything.
func New(cfg Config) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := CheckGPU(cfg.GPU); err != nil {
		return nil, err
	}
	log := cfg.Log
	if log == nil {
		log = zap.NewNop()
	}
	inc := wire.NewIncarnation()
	return &Worker{cfg: cfg, inc: inc, ended: map[string]uint64{},
		log: log.With(zap.String("worker", cfg.ID), zap.String("incarnation", inc))}, nil
}

// CheckGPU reports whether this process can train on gpu (−1: the
// CPU): engine.CheckDevice.
func CheckGPU(gpu int) error {
	return engine.CheckDevice(gpu)
}

// Run joins the coordinator and works on the jobs it assigns until ctx is
// done (or after one job with Once). A job that fails returns its error
// with Once, and is logged otherwise.
func (w *Worker) Run(ctx context.Context) error {
	sub, err := w.cfg.NATS.SubscribeSync(wire.AssignSubject(w.cfg.ID))
	if err != nil {
		return fmt.Errorf("worker: subscribing to assignments: %w", err)
	}
	defer sub.Unsubscribe()
	hbCtx, stopHB := context.WithCancel(ctx)
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); w.heartbeat(hbCtx) }()
	defer func() { stopHB(); <-hbDone }()
	for {
		a, err := w.join(ctx, sub)
		if err != nil {
			return err
		}
		if a == nil {
			got, err := w.awaitAssign(ctx, sub)
			if errors.Is(err, errNoAssign) {
				continue // join again: the job may have ended while this worker waited
			}
			if err != nil {
				return err
			}
			a = &got
		}
		w.log.Info("assigned", zap.String("job", a.Job), zap.Int("rank", a.Rank), zap.Int("world", a.World),
			zap.Uint64("generation", a.Generation), zap.String("resume", a.Resume), zap.Uint64("term", a.Term))
		jerr := w.runJob(ctx, *a)
		w.ended[a.Job] = max(w.ended[a.Job], a.Generation)
		if errors.Is(jerr, errRegroup) && ctx.Err() == nil {
			w.log.Info("joining again for the job's next ring (it grows)", zap.String("job", a.Job))
			continue
		}
		if errors.Is(jerr, errEnded) && ctx.Err() == nil {
			w.log.Info("the coordinator ended the job", zap.String("job", a.Job))
			if w.cfg.Once {
				return nil
			}
			continue
		}
		if jerr != nil {
			w.log.Error("job failed", zap.String("job", a.Job), zap.Error(jerr))
			if a.Elastic && ctx.Err() == nil && retryable(jerr) {
				w.log.Info("joining again for the job's next ring", zap.String("job", a.Job))
				continue
			}
		}
		if w.cfg.Once || ctx.Err() != nil {
			if ctx.Err() != nil && jerr == nil {
				return ctx.Err()
			}
			return jerr
		}
	}
}

// retryable reports whether a new ring of the job may not meet err (a
// peer died or hung, the ring was aborted, no start came, storage
// trouble): the worker joins the job again. Other errors (bad data,
// non-finite gradients) fail the job.
func retryable(err error) bool {
	return errors.Is(err, allreduce.ErrRingBroken) || errors.Is(err, errAborted) || errors.Is(err, errRetryable)
}

// heartbeat publishes the worker's heartbeat until ctx is done.
func (w *Worker) heartbeat(ctx context.Context) {
	t := time.NewTicker(w.cfg.HeartbeatEvery)
	defer t.Stop()
	subj := wire.HeartbeatSubject(w.cfg.ID)
	for {
		hb := wire.Heartbeat{Worker: w.cfg.ID, Incarnation: w.inc}
		if p := w.where.Load(); p != nil {
			hb.Job, hb.Generation, hb.Rank, hb.Step = p.Job, p.Generation, p.Rank, p.Step
		}
		if msg, err := wire.Encode(&hb); err == nil {
			w.cfg.NATS.Publish(subj, msg)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// join announces the worker until a coordinator accepts it, answering
// the coordinator's preflight (it must see the run directory). An
// assignment that arrives meanwhile (a coordinator re-sends those of a
// ring this worker is a member of) is returned at once.
func (w *Worker) join(ctx context.Context, sub *nats.Subscription) (*wire.Assign, error) {
	host, _ := os.Hostname()
	base := wire.Join{Worker: w.cfg.ID, Incarnation: w.inc, Role: wire.RoleWorker, Host: host, PID: os.Getpid(), GPU: w.cfg.GPU}
	msg := base
	var dupSince time.Time
	for attempt := 0; ; attempt++ {
		b, err := wire.Encode(&msg)
		if err != nil {
			return nil, err
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		reply, err := w.cfg.NATS.RequestWithContext(rctx, wire.JoinSubject(w.cfg.ID), b)
		cancel()
		msg = base
		if err == nil {
			var r wire.JoinReply
			if err := wire.Decode(reply.Data, &r); err != nil {
				return nil, fmt.Errorf("worker: join reply: %w", err)
			}
			switch {
			case r.OK:
				return nil, nil
			case r.Preflight != nil:
				msg = w.answerPreflight(base, r.Preflight)
				continue // at once
			case r.Fatal:
				if dupSince.IsZero() {
					dupSince = time.Now()
				}
				if time.Since(dupSince) >= w.cfg.DuplicateGrace {
					return nil, fmt.Errorf("%w: %s", ErrDuplicateID, r.Error)
				}
				w.log.Error("refused", zap.String("reason", r.Error))
			default:
				dupSince = time.Time{}
				// No job wants workers now (full, or finished): wait for
				// the next one rather than leave.
				if attempt == 0 || attempt%30 == 29 {
					w.log.Info("the coordinator has no place for this worker yet", zap.String("reason", r.Error))
				}
			}
		} else if attempt == 0 || attempt%30 == 29 {
			w.log.Info("waiting for a coordinator", zap.Error(err))
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// Wait, watching for an assignment.
		wctx, cancel := context.WithTimeout(ctx, w.cfg.JoinRetry)
		a, err := w.nextAssign(wctx, sub)
		cancel()
		if err == nil {
			return &a, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

// answerPreflight reads the token of the job's run directory (and hashes
// its data directory) and returns the join that proves it, or says why
// it cannot.
func (w *Worker) answerPreflight(base wire.Join, p *wire.Preflight) wire.Join {
	base.Job = p.Job
	runDir := filepath.Join(w.cfg.RunsRoot, p.RunDir)
	tok, err := preflight.ReadToken(runDir)
	if err == nil && p.DataDir != "" {
		var d string
		if d, err = preflight.DataDigest(p.DataDir); err == nil && d != p.DataDigest {
			err = fmt.Errorf("the data directory is not shared: %s on this machine differs from the coordinator's (%w)", p.DataDir, preflight.ErrNotShared)
		}
		if err != nil && !errors.Is(err, preflight.ErrNotShared) {
			err = fmt.Errorf("the data directory is not shared: %w", err)
		}
	}
	if err != nil {
		host, _ := os.Hostname()
		base.PreflightError = fmt.Sprintf("worker %s on %s (runs root %s): %v", w.cfg.ID, host, w.cfg.RunsRoot, err)
		w.log.Error("cannot join the job", zap.String("job", p.Job), zap.Error(err))
		return base
	}
	base.Proof = tok
	return base
}

// assignWait is how long a worker that a coordinator accepted waits for
// its assignment before it joins again (which is idempotent): a worker
// waiting for a running ring's next generation must not be stranded if
// the job ends first.
const assignWait = 15 * time.Second

// errNoAssign: no assignment came within assignWait.
var errNoAssign = errors.New("worker: no assignment yet")

func (w *Worker) awaitAssign(ctx context.Context, sub *nats.Subscription) (wire.Assign, error) {
	actx, cancel := context.WithTimeout(ctx, assignWait)
	defer cancel()
	a, err := w.nextAssign(actx, sub)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return wire.Assign{}, errNoAssign
	}
	return a, err
}

// nextAssign returns the next assignment that is for this process, from
// a leader not deposed, and for a ring this worker has not left yet.
func (w *Worker) nextAssign(ctx context.Context, sub *nats.Subscription) (wire.Assign, error) {
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return wire.Assign{}, err
		}
		var a wire.Assign
		if err := wire.Decode(m.Data, &a); err != nil {
			w.log.Warn("ignoring a bad assignment", zap.Error(err))
			continue
		}
		switch {
		case a.Ring[a.Rank] != w.cfg.ID || a.Incarnation != w.inc:
			w.log.Warn("ignoring an assignment for another worker process", zap.String("ring_member", a.Ring[a.Rank]), zap.String("of_incarnation", a.Incarnation))
		case w.fenced(a.Term):
			w.log.Warn("ignoring an assignment from a deposed leader", zap.Uint64("term", a.Term), zap.Uint64("newest_term", w.maxTerm.Load()))
		case a.Generation <= w.ended[a.Job]:
			// A re-sent assignment of a ring this worker already left.
		default:
			return a, nil
		}
	}
}
