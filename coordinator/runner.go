package coordinator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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

// Config configures a JobRunner (one job) or a Service (the queue of a
// standing raft group, which takes Job, Resume, StopAt and RunDir from
// each queued job instead).
type Config struct {
	NATS    *nats.Conn
	Log     *zap.Logger
	Workers int      // workers to wait for
	Job     job.Spec // the job (ignored when Resume is set: the checkpoint's spec is used)
	RunsDir string   // parent of the run directories (runs/<job>)
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
	// ID names this coordinator in its commands (default: the raft ID,
	// or "c0").
	ID string
	// RunDir is the job's run directory (empty: RunsDir/<job name>). It
	// must lie inside RunsDir: workers find it under their own runs root
	// by its path relative to RunsDir.
	RunDir string
	// HandshakeEvery is how often an unanswered step of ring formation
	// is repeated (an Assign without a Ready; default 1 s).
	HandshakeEvery time.Duration
	// StartTimeout: a ring whose ranks are not all ready this long after
	// it was formed fails (retryably) and is formed again (default 1 min).
	StartTimeout time.Duration

	// faults, if not nil (tests only), may refuse ops and drop messages.
	faults *Faults
}

// Faults injects failures into a coordinator (tests only).
type Faults struct {
	// Apply, if not nil, may refuse an op before it is applied.
	Apply func(op Op) error
	// Publish, if not nil, may drop a message (return true).
	Publish func(subject string, m wire.Message) bool
	// Stall, if not nil, is called by the job loop at every event; a
	// test blocks in it to stall the loop.
	Stall func()
}

// WithFaults returns cfg with faults injected (for tests of this and
// other packages).
func (c Config) WithFaults(f *Faults) Config { c.faults = f; return c }

// DefaultConfig returns a one-worker configuration of the default job.
func DefaultConfig() Config {
	return Config{Workers: 1, Job: job.Default(), RunsDir: "runs", SamplesTimeout: 5 * time.Minute,
		Progress: os.Stdout, ProgressEvery: 3 * time.Second, StopGrace: 2 * time.Minute,
		MaxRestarts: 3, DeadAfter: 5 * time.Second, RejoinWindow: 3 * time.Second,
		HandshakeEvery: time.Second, StartTimeout: time.Minute}
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
	case c.HandshakeEvery <= 0 || c.StartTimeout <= 0:
		return fmt.Errorf("coordinator: HandshakeEvery %v, StartTimeout %v: want > 0", c.HandshakeEvery, c.StartTimeout)
	case c.ID != "" && !wire.ValidID(c.ID):
		return fmt.Errorf("coordinator: ID %q: want 1–64 of [A-Za-z0-9_-]", c.ID)
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
	Latest     string             // the newest checkpoint's directory (RunDir/Job.Latest; "" if none)
	Metrics    map[string]float64 // the sampler's metrics of the final checkpoint (with WaitSamples)
	Elapsed    time.Duration
	StepsRun   int // steps trained in this run
	FirstStep  int // step the run started from
	TotalSteps int
}

// JobRunner runs one job: it waits for the job's workers, forms their
// ring, follows their reports, re-forms the ring when it fails, and
// returns how the job ended (Run). With Config.Raft it acts only while its
// node leads. A Service runs each of its queued jobs with a JobRunner.
type JobRunner struct {
	cfg    Config
	log    *zap.Logger
	store  store
	spec   job.Spec
	runDir string // as this coordinator sees it
	relRun string // runDir relative to RunsDir: what workers are told
	jobID  string
	resume string // checkpoint dir, relative to runDir
	start  int
	// target is the ring size the job starts with; lo and hi bound it
	// (job.Spec.Workers).
	target, lo, hi int
}

// NewJobRunner validates cfg and prepares the run directory: for a fresh job it
// must not hold checkpoints yet; for a resume it must hold a good one.
func NewJobRunner(cfg Config) (*JobRunner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Log
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.ID == "" {
		cfg.ID = "c0"
		if cfg.Raft != nil {
			cfg.ID = cfg.Raft.cfg.ID
		}
	}
	s := &JobRunner{cfg: cfg, log: log.With(zap.String("role", "coordinator"), zap.String("coordinator", cfg.ID))}
	if cfg.Raft != nil {
		s.store = raftStore{n: cfg.Raft, timeout: 10 * time.Second}
	} else {
		s.store = &memStore{st: newState()}
	}
	if f := cfg.faults; f != nil && f.Apply != nil {
		s.store = faultStore{store: s.store, fail: f.Apply}
	}
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
		s.runDir, s.start = cfg.Resume, int(c.Manifest.Step)
		if s.resume, err = filepath.Rel(s.runDir, c.Dir); err != nil {
			return nil, fmt.Errorf("coordinator: --resume %s: %w", cfg.Resume, err)
		}
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
	rel, err := relInside(cfg.RunsDir, s.runDir)
	if err != nil {
		return nil, err
	}
	s.relRun = rel
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
	if err := checkpoint.WriteFileAtomic(filepath.Join(s.runDir, "job.json"), append(s.spec.JSON(), '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	return s, nil
}

// relInside returns dir relative to root, or an error when dir is not
// inside root: workers and samplers find a run directory under their own
// runs root by this relative path, and accept no other.
func relInside(root, dir string) (string, error) {
	ar, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("coordinator: --runs-dir %s: %w", root, err)
	}
	ad, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("coordinator: %s: %w", dir, err)
	}
	rel, err := filepath.Rel(ar, ad)
	if err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("coordinator: the run directory %s is not inside --runs-dir %s: workers find runs under their own runs root, so a run must lie inside it", dir, root)
	}
	return rel, nil
}

// RunDir is the job's run directory.
func (s *JobRunner) RunDir() string { return s.runDir }

// Spec is the job being run.
func (s *JobRunner) Spec() job.Spec { return s.spec }

// Run waits for the workers, runs the job and returns when it is done,
// stopped or failed. Cancelling ctx asks the workers to checkpoint and
// stop, waits for them (up to StopGrace) and returns ctx's error.
//
// With Raft, Run first waits until this node leads; if the replicated
// state already holds the job (a previous leader started it), Run takes
// it over where it is, after reconciling the record with the storage. If
// this node stops leading, Run returns an error wrapping ErrNotLeader
// without touching the job; call it again to wait for the next term.
func (s *JobRunner) Run(ctx context.Context) (*Result, error) {
	started := time.Now()
	term, lost := uint64(1), (<-chan struct{})(nil)
	if r := s.cfg.Raft; r != nil {
		var err error
		if term, lost, err = r.WaitLeading(ctx); err != nil {
			return nil, err
		}
		if err := r.raft.Barrier(10 * time.Second).Error(); err != nil { // apply everything committed before leading
			return nil, fmt.Errorf("coordinator: catching up as the new leader: %w", err)
		}
		s.log.Info("leading", zap.Uint64("term", term))
		s.printf("coordinator %s leads (term %d)\n", s.cfg.ID, term)
	}
	j, ok := s.store.job(s.jobID)
	if !ok || (s.cfg.Raft == nil && j.Finished()) {
		if err := s.store.apply(Op{Kind: opSubmit, Job: s.jobID, Spec: s.spec.JSON(), Want: s.target,
			Min: s.lo, Max: s.hi, Resume: s.resume, Step: s.start}); err != nil {
			return nil, err
		}
	} else if j.Finished() {
		return s.result(j, started, nil), nil
	}
	l, err := newLoop(ctx, s, term, lost)
	if err != nil {
		return nil, err
	}
	defer l.close()
	return l.run(started)
}

func (s *JobRunner) result(j Job, started time.Time, metrics map[string]float64) *Result {
	r := &Result{Job: j, RunDir: s.runDir, Metrics: metrics, Elapsed: time.Since(started),
		StepsRun: j.Step - s.start, FirstStep: s.start, TotalSteps: s.spec.Steps}
	if j.Latest != "" {
		r.Latest = filepath.Join(s.runDir, j.Latest)
	}
	return r
}

func (s *JobRunner) printf(format string, a ...any) {
	if s.cfg.Progress != nil {
		_, _ = fmt.Fprintf(s.cfg.Progress, format, a...) // lines for a person; a broken writer must not stop the job
	}
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
