package worker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/levy-ml/levy/internal/wire"
	"github.com/levy-ml/levy/job"
)

// Config configures a training worker.
type Config struct {
	ID   string     // unique worker ID (one NATS token)
	GPU  int        // −1: CPU; ≥ 0: that GPU (needs a cuda build)
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

	// Metrics, if not nil, receives the worker's Prometheus series.
	Metrics *Metrics

	// wrapEngine, if set (tests only), wraps the engine to inject faults.
	wrapEngine func(rank int, e Engine) Engine
}

// DefaultConfig returns a CPU worker with the default timeouts; ID and
// NATS must still be set.
func DefaultConfig() Config {
	return Config{GPU: -1, RingTimeout: 30 * time.Second, JoinRetry: time.Second, StartTimeout: 2 * time.Minute,
		HeartbeatEvery: time.Second}
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
	}
	return nil
}

// Worker is a training worker.
type Worker struct {
	cfg Config
	log *zap.Logger
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
	return &Worker{cfg: cfg, log: log.With(zap.String("worker", cfg.ID))}, nil
}

// CheckGPU reports whether this build can train on gpu (−1: the CPU).
func CheckGPU(gpu int) error {
	if gpu < -1 {
		return fmt.Errorf("worker: --gpu %d: want a device number ≥ 0, or −1 for the CPU", gpu)
	}
	if gpu >= 0 {
		e, err := newGPUEngine(gpu, job.Default(), 0)
		if err != nil {
			return err
		}
		e.Close()
	}
	return nil
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
		if err := w.join(ctx); err != nil {
			return err
		}
		a, err := w.awaitAssign(ctx, sub)
		if errors.Is(err, errNoAssign) {
			continue // join again: the job may have ended while this worker waited
		}
		if err != nil {
			return err
		}
		w.log.Info("assigned", zap.String("job", a.Job), zap.Int("rank", a.Rank), zap.Int("world", a.World),
			zap.Uint64("generation", a.Generation), zap.String("resume", a.Resume))
		jerr := w.runJob(ctx, a)
		if errors.Is(jerr, errRegroup) && ctx.Err() == nil {
			w.log.Info("joining again for the job's next ring (it grows)", zap.String("job", a.Job))
			continue
		}
		if jerr != nil {
			w.log.Error("job failed", zap.String("job", a.Job), zap.Error(jerr))
			if a.Elastic && ctx.Err() == nil {
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

// heartbeat publishes the worker's heartbeat until ctx is done.
func (w *Worker) heartbeat(ctx context.Context) {
	msg, err := wire.Encode(&wire.Heartbeat{Worker: w.cfg.ID})
	if err != nil {
		return
	}
	t := time.NewTicker(w.cfg.HeartbeatEvery)
	defer t.Stop()
	for {
		w.cfg.NATS.Publish(wire.HeartbeatSubject, msg)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// join announces the worker until a coordinator accepts it.
func (w *Worker) join(ctx context.Context) error {
	host, _ := os.Hostname()
	msg, err := wire.Encode(&wire.Join{Worker: w.cfg.ID, Role: wire.RoleWorker, Host: host, PID: os.Getpid(), GPU: w.cfg.GPU})
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		reply, err := w.cfg.NATS.RequestWithContext(rctx, wire.JoinSubject, msg)
		cancel()
		if err == nil {
			var r wire.JoinReply
			if err := wire.Decode(reply.Data, &r); err != nil {
				return fmt.Errorf("worker: join reply: %w", err)
			}
			if r.OK {
				return nil
			}
			// No job wants workers now (full, or finished): wait for the
			// next one rather than leave.
			if attempt == 0 || attempt%30 == 29 {
				w.log.Info("the coordinator has no place for this worker yet", zap.String("reason", r.Error))
			}
			err = errors.New(r.Error)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil && (attempt == 0 || attempt%30 == 29) {
			w.log.Info("waiting for a coordinator", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(w.cfg.JoinRetry):
		}
	}
}

// assignWait is how long a worker that a coordinator accepted waits for
// its assignment before it joins again (which is idempotent): a worker
// waiting for a running ring's next generation must not be stranded if
// the job ends first.
const assignWait = 15 * time.Second

// errNoAssign: no assignment came within assignWait.
var errNoAssign = errors.New("worker: no assignment yet")

func (w *Worker) awaitAssign(ctx context.Context, sub *nats.Subscription) (wire.Assign, error) {
	for {
		actx, cancel := context.WithTimeout(ctx, assignWait)
		m, err := sub.NextMsgWithContext(actx)
		cancel()
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return wire.Assign{}, errNoAssign
		}
		if err != nil {
			return wire.Assign{}, err
		}
		var a wire.Assign
		if err := wire.Decode(m.Data, &a); err != nil {
			w.log.Warn("ignoring a bad assignment", zap.Error(err))
			continue
		}
		if a.Ring[a.Rank] != w.cfg.ID {
			w.log.Warn("ignoring an assignment for another worker", zap.String("ring_member", a.Ring[a.Rank]))
			continue
		}
		return a, nil
	}
}
