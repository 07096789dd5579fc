package coordinator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/levy-ml/levy/checkpoint"
	"github.com/levy-ml/levy/internal/wire"
	"github.com/levy-ml/levy/job"
)

// ErrJobFailed is wrapped by Run's error when a worker failed the job.
var ErrJobFailed = errors.New("coordinator: job failed")

// ErrRunExists is returned when a fresh job would write into a run
// directory that already holds checkpoints.
var ErrRunExists = errors.New("coordinator: run directory already holds checkpoints")

// Config configures a coordinator for one job.
type Config struct {
	NATS    *nats.Conn
	Log     *zap.Logger
	Workers int      // workers to wait for
	Job     job.Spec // the job (ignored when Resume is set: the checkpoint's spec is used)
	RunsDir string   // parent of the run directories (runs/<job>)
	RunDir  string   // the run directory; empty: RunsDir/<job name>
	// Resume is a run directory (runs/<job>) whose newest good checkpoint
	// the job continues from.
	Resume string
	// StopAt, when > 0, has the workers checkpoint and stop after that
	// many steps in all (the job can then be resumed).
	StopAt int
	// WaitSamples makes Run wait for a sampler's report on the final
	// checkpoint before returning (up to SamplesTimeout).
	WaitSamples    bool
	SamplesTimeout time.Duration
	// Progress receives the human-readable progress lines (nil: none),
	// every ProgressEvery.
	Progress      io.Writer
	ProgressEvery time.Duration
	// StopGrace is how long a stop (Ctrl-C) waits for the workers'
	// checkpoint before giving up.
	StopGrace time.Duration
	// Metrics, if not nil, receives the coordinator's Prometheus series.
	Metrics *Metrics
	// MaxRestarts is how many times a failed ring (a worker died or
	// hung) is re-formed from the newest checkpoint with the workers that
	// are left, before the job fails (0: fail at once).
	MaxRestarts int
	// DeadAfter declares a worker dead when its heartbeats stop for this
	// long.
	DeadAfter time.Duration
	// RejoinWindow is how long a re-forming ring waits for workers to
	// join again before it starts with those it has.
	RejoinWindow time.Duration
	// Raft, if not nil, replicates the state over the coordinators' raft
	// group: Run then acts only while this node leads, and a new leader
	// takes over a running job where the last one left it.
	Raft *Node
}

// DefaultConfig returns a one-worker configuration of the default job.
func DefaultConfig() Config {
	return Config{Workers: 1, Job: job.Default(), RunsDir: "runs", SamplesTimeout: 5 * time.Minute,
		Progress: os.Stdout, ProgressEvery: 3 * time.Second, StopGrace: 2 * time.Minute,
		MaxRestarts: 3, DeadAfter: 5 * time.Second, RejoinWindow: 3 * time.Second}
}

// Validate reports the first bad field.
func (c Config) Validate() error {
	switch {
	case c.NATS == nil:
		return errors.New("coordinator: Config.NATS is nil")
	case c.Workers < 1 || c.Workers > wire.MaxWorld:
		return fmt.Errorf("coordinator: --workers %d: want 1 … %d", c.Workers, wire.MaxWorld)
	case c.RunsDir == "":
		return errors.New("coordinator: Config.RunsDir is empty")
	case c.StopAt < 0:
		return fmt.Errorf("coordinator: --stop-at %d: want ≥ 0", c.StopAt)
	case c.ProgressEvery <= 0 || c.SamplesTimeout <= 0 || c.StopGrace <= 0 || c.DeadAfter <= 0 || c.RejoinWindow <= 0:
		return fmt.Errorf("coordinator: ProgressEvery %v, SamplesTimeout %v, StopGrace %v, DeadAfter %v, RejoinWindow %v: want > 0",
			c.ProgressEvery, c.SamplesTimeout, c.StopGrace, c.DeadAfter, c.RejoinWindow)
	case c.MaxRestarts < 0:
		return fmt.Errorf("coordinator: --max-restarts %d: want ≥ 0", c.MaxRestarts)
	}
	if c.Resume == "" {
		if err := c.Job.Validate(); err != nil {
			return err
		}
		target, _, _ := c.Job.Workers(c.Workers)
		return c.Job.CheckWorkers(target)
	}
	return nil
}

// Result is how a job ended.
type Result struct {
	Job        Job                // the final record
	RunDir     string             // runs/<job>
	Metrics    map[string]float64 // the sampler's metrics of the final checkpoint (with WaitSamples)
	Elapsed    time.Duration
	StepsRun   int // steps trained in this run
	FirstStep  int // step the run started from
	TotalSteps int
}

// Server coordinates one job.
type Server struct {
	term   atomic.Pointer[term] // the current Run's leadership term
	cfg    Config
	log    *zap.Logger
	state  *State
	spec   job.Spec
	runDir string
	jobID  string
	resume string // checkpoint dir
	start  int
	// target is the ring size the job starts with; lo and hi bound it
	// (job.Spec.Workers).
	target, lo, hi int
}

// New validates cfg and prepares the run directory: for a fresh job it
// must not hold checkpoints yet; for a resume it must hold a good one.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Log
	if log == nil {
		log = zap.NewNop()
	}
	s := &Server{cfg: cfg, log: log.With(zap.String("role", "coordinator")), state: NewState()}
	if cfg.Resume != "" {
		c, skipped, err := checkpoint.Latest(filepath.Join(cfg.Resume, "checkpoints"))
		for _, e := range skipped {
			s.log.Warn("skipping a bad checkpoint", zap.Error(e))
			fmt.Fprintf(os.Stderr, "warning: %v\n", e)
		}
		if err != nil {
			return nil, fmt.Errorf("coordinator: --resume %s: %w", cfg.Resume, err)
		}
		if s.spec, err = job.FromJSON(c.Manifest.Job); err != nil {
			return nil, fmt.Errorf("coordinator: %s: %w", c.Dir, err)
		}
		s.runDir, s.resume, s.start = cfg.Resume, c.Dir, int(c.Manifest.Step)
		if s.start >= s.spec.Steps {
			return nil, fmt.Errorf("coordinator: --resume %s: the newest checkpoint is at step %d, the end of the job (%d steps)", cfg.Resume, s.start, s.spec.Steps)
		}
	} else {
		s.spec = cfg.Job
		s.runDir = cfg.RunDir
		if s.runDir == "" {
			s.runDir = filepath.Join(cfg.RunsDir, s.spec.Name)
		}
		if dirs, _ := checkpoint.List(filepath.Join(s.runDir, "checkpoints")); len(dirs) > 0 && cfg.Raft == nil {
			return nil, fmt.Errorf("%w: %s (newest %s); continue it with --resume %s, or give the job another name",
				ErrRunExists, s.runDir, filepath.Base(dirs[len(dirs)-1]), s.runDir)
		}
	}
	s.target, s.lo, s.hi = s.spec.Workers(cfg.Workers)
	if err := s.spec.CheckWorkers(s.target); err != nil {
		return nil, err
	}
	if cfg.StopAt > 0 && cfg.StopAt <= s.start {
		return nil, fmt.Errorf("coordinator: --stop-at %d: the job is already at step %d", cfg.StopAt, s.start)
	}
	s.jobID = s.spec.Name
	if !wire.ValidID(s.jobID) {
		return nil, fmt.Errorf("coordinator: job name %q cannot be a NATS token: use letters, digits, '_' and '-'", s.jobID)
	}
	if err := os.MkdirAll(s.runDir, 0o755); err != nil {
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.runDir, "job.json"), append(s.spec.JSON(), '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	return s, nil
}

// RunDir is the job's run directory.
func (s *Server) RunDir() string { return s.runDir }

// Spec is the job being run.
func (s *Server) Spec() job.Spec { return s.spec }

func (s *Server) apply(op Op) error {
	var err error
	if s.cfg.Raft != nil {
		err = s.cfg.Raft.Apply(op, 10*time.Second)
		if errors.Is(err, ErrNotLeader) {
			s.lostLeadership()
		}
	} else {
		err = s.state.Apply(op)
	}
	if err != nil {
		s.log.Debug("op refused", zap.Any("op", op), zap.Error(err))
	}
	return err
}

func (s *Server) printf(format string, a ...any) {
	if s.cfg.Progress != nil {
		fmt.Fprintf(s.cfg.Progress, format, a...)
	}
}

// job returns the job's record (nil if unknown). With raft the record
// lives in the FSM; this node's own Apply calls are its only writers
// while it leads, and each returns after the FSM has applied it.
func (s *Server) job() *Job {
	if s.cfg.Raft == nil {
		return s.state.Jobs[s.jobID]
	}
	var j *Job
	s.cfg.Raft.FSM.Read(func(st *State) { j = st.Jobs[s.jobID] })
	return j
}

// term is one Run's hold on leadership; lost is closed when it ends.
type term struct {
	lost chan struct{}
	once sync.Once
}

func (t *term) end() { t.once.Do(func() { close(t.lost) }) }

func (s *Server) lostLeadership() {
	if t := s.term.Load(); t != nil {
		t.end()
	}
}

// Run waits for the workers, runs the job and returns when it is done,
// stopped or failed. Cancelling ctx asks the workers to checkpoint and
// stop, waits for them (up to StopGrace) and returns ctx's error.
//
// With Raft, Run first waits until this node leads; if the replicated
// state already holds the job (a previous leader started it), Run takes
// it over where it is. If this node stops leading, Run returns an error
// wrapping ErrNotLeader without touching the job; call it again to wait
// for the next term.
func (s *Server) Run(ctx context.Context) (*Result, error) {
	nc := s.cfg.NATS
	started := time.Now()
	tm := &term{lost: make(chan struct{})}
	s.term.Store(tm)
	if r := s.cfg.Raft; r != nil {
		for !r.IsLeader() {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
		if err := r.Raft.Barrier(10 * time.Second).Error(); err != nil { // apply everything committed before leading
			return nil, fmt.Errorf("coordinator: catching up as the new leader: %w", err)
		}
		go func() {
			for r.IsLeader() {
				select {
				case <-tm.lost:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
			tm.end()
		}()
		defer tm.end() // stops the watcher
		s.log.Info("leading", zap.String("id", r.cfg.ID))
		s.printf("coordinator %s leads\n", r.cfg.ID)
	}
	if j := s.job(); j == nil || (s.cfg.Raft == nil && j.Finished()) {
		if err := s.apply(Op{Kind: OpSubmit, Job: s.jobID, Spec: s.spec.JSON(), Want: s.target,
			Min: s.lo, Max: s.hi, Resume: s.resume, Step: s.start}); err != nil {
			return nil, err
		}
	} else if j.Finished() {
		return &Result{Job: *j, RunDir: s.runDir, FirstStep: s.start, TotalSteps: s.spec.Steps}, nil
	}
	joins := make(chan *nats.Msg, 64)
	events := make(chan *nats.Msg, 1024)
	var subs []*nats.Subscription
	defer func() {
		for _, sub := range subs {
			sub.Unsubscribe()
		}
	}()
	sub, err := nc.ChanSubscribe(wire.JoinSubject, joins)
	if err != nil {
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	subs = append(subs, sub)
	beats := make(chan *nats.Msg, 256)
	if sub, err = nc.ChanSubscribe(wire.HeartbeatSubject, beats); err != nil {
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	sub.SetPendingLimits(-1, -1)
	subs = append(subs, sub)
	lastBeat := map[string]time.Time{}
	for _, what := range []string{"progress", "ckpt", "done", "samples", "ready"} {
		sub, err := nc.ChanSubscribe(wire.JobSubject(s.jobID, what), events)
		if err != nil {
			return nil, fmt.Errorf("coordinator: %w", err)
		}
		sub.SetPendingLimits(-1, -1)
		subs = append(subs, sub)
	}
	if err := nc.Flush(); err != nil {
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	s.printf("job %s: %s α=%g on %s, %d steps, global batch %d over %d workers; waiting for workers\n",
		s.jobID, s.spec.Method, s.spec.Alpha, s.spec.Dataset, s.spec.Steps, s.spec.GlobalBatch, s.target)
	if s.resume != "" {
		s.printf("resuming from %s (step %d)\n", s.resume, s.start)
	}

	j := s.job()
	if j.Phase == PhaseRunning {
		s.printf("taking over ring generation %d %v at step %d\n", j.Generation, j.Members, j.Step)
	}
	tick := time.NewTicker(s.cfg.ProgressEvery)
	defer tick.Stop()
	beatCheck := time.NewTicker(s.cfg.DeadAfter / 5)
	defer beatCheck.Stop()
	var (
		last         wire.Progress
		haveProgress bool
		runStart     time.Time
		metrics      map[string]float64
		finalCkpt    = -1
		stopDeadline <-chan time.Time
		sampleWait   <-chan time.Time
		regroupAt    <-chan time.Time
		windowOver   bool        // the rejoin window of a re-forming ring has passed
		growAsked    uint64      // the generation asked to regroup for new workers
		held         []*nats.Msg // Done reports of a regrouping ring, answered once it re-formed
		ctxDone      = ctx.Done()
	)
	// ringSize is the largest ring of at most n workers that splits the
	// global batch evenly (0 if under the job's minimum).
	ringSize := func(n int) int {
		for n > 0 && s.spec.GlobalBatch%n != 0 {
			n--
		}
		if lo, _ := j.Bounds(); n < lo {
			return 0
		}
		return n
	}
	// grow asks a running ring to checkpoint and regroup when workers
	// wait to join it and the larger ring splits the batch evenly.
	grow := func() {
		if j.Phase != PhaseRunning || len(j.Pending) == 0 || growAsked == j.Generation || j.StopAsked {
			return
		}
		n := len(j.Members) + len(j.Pending)
		if ringSize(n) != n {
			s.printf("workers %v wait: a ring of %d would not split the global batch of %d evenly\n", j.Pending, n, s.spec.GlobalBatch)
			return
		}
		growAsked = j.Generation
		s.printf("workers %v join the running job: ring generation %d checkpoints and regroups (%d workers)\n", j.Pending, j.Generation, n)
		s.publish(wire.JobSubject(s.jobID, "ctl"), &wire.Command{Job: s.jobID, Kind: wire.CmdRegroup, Generation: j.Generation})
	}
	// fail ends the current ring: elastically (a new ring from the newest
	// checkpoint) while restarts are left, else by failing the job.
	fail := func(rank, step int, reason string, retry bool) {
		if j.Phase != PhaseRunning {
			return
		}
		if retry && j.Restarts < s.cfg.MaxRestarts && !j.StopAsked {
			old := j.Generation
			windowOver = false
			s.apply(Op{Kind: OpRegroup, Job: s.jobID, Want: s.target, Resume: j.Latest, Step: j.LatestStep,
				Error: fmt.Sprintf("generation %d, rank %d at step %d: %s", old, rank, step, reason)})
			s.publish(wire.JobSubject(s.jobID, "ctl"), &wire.Command{Job: s.jobID, Kind: wire.CmdAbort, Generation: old})
			from := "the start"
			if j.Resume != "" {
				from = fmt.Sprintf("checkpoint step %d", j.Step)
			}
			s.printf("ring generation %d failed (rank %d at step %d: %s); re-forming it from %s (restart %d of %d)\n",
				old, rank, step, reason, from, j.Restarts, s.cfg.MaxRestarts)
			if m := s.cfg.Metrics; m != nil {
				m.Failures.Inc()
			}
			regroupAt = time.After(s.cfg.RejoinWindow)
			return
		}
		if err := s.apply(Op{Kind: OpRankDone, Job: s.jobID, Rank: rank, Step: step, Error: reason}); err == nil {
			s.printf("rank %d failed at step %d: %s\n", rank, step, reason)
			if m := s.cfg.Metrics; m != nil {
				m.Failures.Inc()
			}
		}
	}
	result := func() *Result {
		return &Result{Job: *j, RunDir: s.runDir, Metrics: metrics, Elapsed: time.Since(started),
			StepsRun: j.Step - s.start, FirstStep: s.start, TotalSteps: s.spec.Steps}
	}
	for {
		if j.Finished() {
			needSamples := s.cfg.WaitSamples && j.Phase == PhaseDone && metrics == nil
			if !needSamples {
				break
			}
			if sampleWait == nil {
				sampleWait = time.After(s.cfg.SamplesTimeout)
				s.printf("training done; waiting for the sampler\n")
			}
		}
		if len(held) > 0 && j.Phase != PhaseRunning {
			for _, m := range held {
				m.Respond([]byte("ok"))
			}
			held = nil
		}
		select {
		case <-tm.lost:
			return result(), &NotLeaderError{}
		case <-ctxDone:
			ctxDone = nil
			if j.Phase == PhaseWaiting {
				return result(), ctx.Err()
			}
			if j.Finished() {
				return result(), ctx.Err()
			}
			s.apply(Op{Kind: OpStopAsked, Job: s.jobID})
			s.printf("stopping: asking the workers to checkpoint (Ctrl-C again to quit at once)\n")
			s.publish(wire.JobSubject(s.jobID, "ctl"), &wire.Command{Job: s.jobID, Kind: wire.CmdStop})
			stopDeadline = time.After(s.cfg.StopGrace)
		case <-stopDeadline:
			return result(), fmt.Errorf("coordinator: the workers did not stop within %v; newest checkpoint %s: %w", s.cfg.StopGrace, j.Latest, ctx.Err())
		case <-sampleWait:
			return result(), fmt.Errorf("coordinator: no sampler reported on the final checkpoint within %v", s.cfg.SamplesTimeout)
		case m := <-beats:
			var hb wire.Heartbeat
			if wire.Decode(m.Data, &hb) == nil {
				lastBeat[hb.Worker] = time.Now()
			}
		case m := <-joins:
			s.handleJoin(m, j)
			switch {
			case j.Phase == PhaseRunning:
				grow()
			case j.Phase != PhaseWaiting:
			case len(j.Members) == j.Want:
				regroupAt = nil
				if err := s.startRing(j, 0); err != nil {
					return result(), err
				}
				if runStart.IsZero() {
					runStart = time.Now()
				}
			case windowOver && ringSize(len(j.Members)) > 0:
				// The rejoin window passed with too few workers; this one
				// brings the ring to its minimum.
				if err := s.startRing(j, ringSize(len(j.Members))); err != nil {
					return result(), err
				}
			}
		case <-regroupAt:
			regroupAt = nil
			windowOver = true
			n := ringSize(len(j.Members))
			if n == 0 {
				lo, _ := j.Bounds()
				s.printf("%d of the %d workers a ring needs at least (min_workers) are here; waiting for more to join\n", len(j.Members), lo)
				continue
			}
			if err := s.startRing(j, n); err != nil {
				return result(), err
			}
		case m := <-events:
			switch {
			case m.Subject == wire.JobSubject(s.jobID, "progress"):
				var p wire.Progress
				if wire.Decode(m.Data, &p) == nil {
					last, haveProgress = p, true
					s.apply(Op{Kind: OpProgress, Job: s.jobID, Step: p.Step, Loss: p.Loss, Rate: p.StepsPerSec})
					if m := s.cfg.Metrics; m != nil {
						m.Step.Set(float64(p.Step))
						m.Loss.Set(p.Loss)
						m.StepsPerSec.Set(p.StepsPerSec)
						m.AllReduceMS.Set(p.AllReduceMS)
					}
				}
			case m.Subject == wire.JobSubject(s.jobID, "ckpt"):
				var c wire.Checkpoint
				if wire.Decode(m.Data, &c) == nil {
					s.apply(Op{Kind: OpCheckpoint, Job: s.jobID, Step: c.Step, Dir: c.Dir})
					if m := s.cfg.Metrics; m != nil {
						m.Checkpoint.Set(float64(c.Step))
					}
					s.printf("checkpoint: step %d → %s\n", c.Step, c.Dir)
					if c.Last {
						finalCkpt = c.Step
					}
				}
			case m.Subject == wire.JobSubject(s.jobID, "done"):
				var d wire.Done
				if wire.Decode(m.Data, &d) == nil && (d.Generation == 0 || d.Generation == j.Generation) {
					if d.Regroup {
						// Every rank left at the same step; rank 0 saved
						// the checkpoint of that step (announced before
						// its Done, on the same connection).
						if d.Rank == 0 && j.Phase == PhaseRunning {
							if err := s.regroup(j, d.Step, ringSize(len(j.Members)+len(j.Pending))); err != nil {
								return result(), err
							}
							windowOver = false
							regroupAt = time.After(s.cfg.RejoinWindow)
						}
					} else if d.Error != "" {
						fail(d.Rank, d.Step, d.Error, d.Retry)
					} else {
						s.apply(Op{Kind: OpRankDone, Job: s.jobID, Rank: d.Rank, Step: d.Step})
					}
				}
				switch {
				case m.Reply == "":
				case d.Regroup && d.Rank != 0 && j.Phase == PhaseRunning && d.Generation == j.Generation:
					// Hold the answer until rank 0's report has re-formed
					// the ring: the rank joins again once answered, and
					// must find the next generation collecting workers.
					held = append(held, m)
				default:
					m.Respond([]byte("ok")) // the rank can stop re-sending
				}
			case m.Subject == wire.JobSubject(s.jobID, "ready"):
				var r wire.Ready
				if wire.Decode(m.Data, &r) == nil && r.Generation == j.Generation && !j.Ready[r.Rank] {
					if s.apply(Op{Kind: OpReady, Job: s.jobID, Rank: r.Rank}) == nil && len(j.Ready) == j.Want {
						s.publish(wire.JobSubject(s.jobID, "ctl"), &wire.Command{Job: s.jobID, Kind: wire.CmdStart, Generation: j.Generation})
						s.log.Info("all ranks ready; start", zap.Uint64("generation", j.Generation))
					}
				}
			case m.Subject == wire.JobSubject(s.jobID, "samples"):
				var r wire.Samples
				if wire.Decode(m.Data, &r) == nil {
					if r.Error != "" {
						s.printf("sampler on step %d: %s\n", r.Step, r.Error)
						if r.Step == finalCkpt {
							return result(), fmt.Errorf("coordinator: the sampler failed on the final checkpoint: %s", r.Error)
						}
					} else {
						s.printf("samples of step %d: %s\n", r.Step, formatMetrics(r.Metrics))
						if r.Step == finalCkpt || (finalCkpt < 0 && r.Step == s.spec.Steps) {
							metrics = r.Metrics
						}
					}
				}
			}
		case <-tick.C:
			if j.Phase == PhaseRunning && haveProgress {
				s.printProgress(last, runStart)
			}
		case <-beatCheck.C:
			if j.Phase != PhaseRunning {
				continue
			}
			for r, w := range j.Members {
				if seen, ok := lastBeat[w]; ok && time.Since(seen) > s.cfg.DeadAfter {
					delete(lastBeat, w)
					fail(r, j.Step, fmt.Sprintf("worker %s: no heartbeat for %v", w, s.cfg.DeadAfter), true)
					break
				}
			}
		}
	}
	if j.Phase == PhaseRunning || j.Phase == PhaseWaiting {
		return result(), fmt.Errorf("coordinator: job %s ended in phase %s", s.jobID, j.Phase)
	}
	if j.Phase == PhaseDone {
		// A checkpoint announced while no coordinator led (failover) was
		// not heard: the storage is the authority.
		if c, _, err := checkpoint.Latest(filepath.Join(s.runDir, "checkpoints")); err == nil && int(c.Manifest.Step) > j.LatestStep {
			s.apply(Op{Kind: OpCheckpoint, Job: s.jobID, Step: int(c.Manifest.Step), Dir: c.Dir})
		}
	}
	res := result()
	switch j.Phase {
	case PhaseFailed:
		hint := ""
		if j.Latest != "" {
			hint = fmt.Sprintf("; newest checkpoint %s (step %d): resume with --resume %s", j.Latest, j.LatestStep, s.runDir)
		}
		return res, fmt.Errorf("%w: %s%s", ErrJobFailed, j.Error, hint)
	case PhaseStopped:
		s.printf("stopped at step %d; checkpoint %s; resume with --resume %s\n", j.Step, j.Latest, s.runDir)
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	default:
		s.printf("done: %d steps in %.1fs; checkpoint %s\n", j.Step, res.Elapsed.Seconds(), j.Latest)
	}
	return res, nil
}

// regroup re-forms the ring with want workers from the checkpoint of
// step, which the ring saved before leaving.
func (s *Server) regroup(j *Job, step, want int) error {
	dir := j.Latest
	if j.LatestStep != step {
		// The announcement was lost (say, in a failover): the storage is
		// the authority.
		c, _, err := checkpoint.Latest(filepath.Join(s.runDir, "checkpoints"))
		if err != nil || int(c.Manifest.Step) != step {
			return fmt.Errorf("coordinator: the ring regrouped at step %d but its checkpoint is not on storage: %v", step, err)
		}
		dir = c.Dir
	}
	if want == 0 {
		want = len(j.Members)
	}
	if err := s.apply(Op{Kind: OpRegroup, Job: s.jobID, Want: want, Resume: dir, Step: step}); err != nil {
		return err
	}
	s.printf("ring regroups at step %d from %s: %d workers, %v first\n", step, dir, want, j.Members)
	return nil
}

func (s *Server) handleJoin(m *nats.Msg, j *Job) {
	var jn wire.Join
	reply := &wire.JoinReply{OK: true}
	if err := wire.Decode(m.Data, &jn); err != nil {
		reply = &wire.JoinReply{Error: err.Error()}
	} else if jn.Role != wire.RoleWorker {
		reply = &wire.JoinReply{Error: "this coordinator takes training workers only"}
	} else if err := s.apply(Op{Kind: OpJoin, Job: s.jobID, Worker: jn.Worker}); err != nil {
		reply = &wire.JoinReply{Error: err.Error()}
	} else if slices.Contains(j.Pending, jn.Worker) {
		s.log.Info("worker waits to join the running ring", zap.String("worker", jn.Worker), zap.String("host", jn.Host))
	} else {
		s.log.Info("worker joined", zap.String("worker", jn.Worker), zap.String("host", jn.Host), zap.Int("gpu", jn.GPU))
		s.printf("worker %s joined (%d/%d)\n", jn.Worker, len(j.Members), j.Want)
	}
	if m.Reply != "" {
		if b, err := wire.Encode(reply); err == nil {
			m.Respond(b)
		}
	}
}

// startRing starts the next ring generation with the members (the first
// want of them when want > 0).
func (s *Server) startRing(j *Job, want int) error {
	if err := s.apply(Op{Kind: OpStart, Job: s.jobID, Want: want}); err != nil {
		return err
	}
	absRun, err := filepath.Abs(s.runDir)
	if err != nil {
		return err
	}
	for r, w := range j.Members {
		a := &wire.Assign{Job: s.jobID, Spec: s.spec.JSON(), Rank: r, World: j.Want, Ring: j.Members,
			Generation: j.Generation, RunDir: absRun, Resume: j.Resume, StopAt: s.cfg.StopAt,
			Elastic: s.cfg.MaxRestarts > 0}
		if err := s.publish(wire.AssignSubject(w), a); err != nil {
			return err
		}
	}
	s.printf("ring generation %d: %v; training from step %d\n", j.Generation, j.Members, j.Step)
	if m := s.cfg.Metrics; m != nil {
		m.Workers.Set(float64(len(j.Members)))
		m.Generation.Set(float64(j.Generation))
	}
	return s.cfg.NATS.Flush()
}

func (s *Server) printProgress(p wire.Progress, since time.Time) {
	eta := "?"
	if p.StepsPerSec > 0 {
		eta = (time.Duration(float64(p.Total-p.Step)/p.StepsPerSec) * time.Second).Round(time.Second).String()
	}
	skipped := ""
	if p.Skipped > 0 {
		skipped = fmt.Sprintf("  skipped %d", p.Skipped)
	}
	s.printf("step %d/%d  loss %.4f  %.1f steps/s  all-reduce %.2f ms  elapsed %s  ETA %s%s\n",
		p.Step, p.Total, p.Loss, p.StepsPerSec, p.AllReduceMS, time.Since(since).Round(time.Second), eta, skipped)
}

func (s *Server) publish(subject string, m wire.Message) error {
	b, err := wire.Encode(m)
	if err != nil {
		return err
	}
	return s.cfg.NATS.Publish(subject, b)
}

func formatMetrics(m map[string]float64) string {
	out := ""
	for _, k := range []string{"prd_f1", "prd_f8", "prd_f1_8", "msle", "fd", "precision", "recall", "sample_seconds"} {
		if v, ok := m[k]; ok {
			out += fmt.Sprintf("%s %.4g  ", k, v)
		}
	}
	return out
}
