package coordinator

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/levy-ml/levy/checkpoint"
	"github.com/levy-ml/levy/internal/wire"
	"github.com/levy-ml/levy/job"
)

// Service is the long-running coordinator of a standing raft group:
// while its node leads, it answers the job API (submit, status, cancel,
// resume) and runs the queued jobs one after the other, each with a
// JobRunner; a new leader takes over the queue and the running job where
// they are. Every node answers on its own subjects, a follower by naming
// the leader.
type Service struct {
	cfg  Config
	log  *zap.Logger
	wake chan struct{}
	term atomic.Uint64 // the raft term this node leads in (0: none yet)

	mu      sync.Mutex
	running string // the job whose loop runs now ("": none); its loop answers its reports
}

// NewService validates cfg; cfg.Raft and cfg.NATS are required, cfg.Job
// is ignored (jobs come from submissions).
func NewService(cfg Config) (*Service, error) {
	if cfg.Raft == nil || cfg.NATS == nil {
		return nil, errors.New("coordinator: a service needs a raft node and a NATS connection")
	}
	cfg.Job = job.Default()
	if err := cfg.Validate(); err != nil && cfg.Workers < 1 {
		return nil, err
	}
	log := cfg.Log
	if log == nil {
		log = zap.NewNop()
	}
	return &Service{cfg: cfg, log: log, wake: make(chan struct{}, 1)}, nil
}

// handlers maps the API verbs to their handlers.
func (sv *Service) handlers() map[string]nats.MsgHandler {
	return map[string]nats.MsgHandler{"submit": sv.handleSubmit, "status": sv.handleStatus,
		"cancel": sv.handleCancel, "resume": sv.handleResume}
}

// Run serves until ctx is done. Besides the shared API subjects, which
// only the leader serves, every node answers on its own subjects
// (wire.NodeSubject): the leader acts, a follower refuses and names the
// leader.
func (sv *Service) Run(ctx context.Context) error {
	r := sv.cfg.Raft
	for verb, h := range sv.handlers() {
		sub, err := sv.cfg.NATS.Subscribe(wire.NodeSubject(r.cfg.ID, verb), func(m *nats.Msg) {
			if r.IsLeader() {
				h(m)
				return
			}
			id, addr := r.Leader()
			sv.reply(m, &wire.Reply{Error: (&NotLeaderError{LeaderID: id, LeaderAddr: addr}).Error(), Leader: id})
		})
		if err != nil {
			return fmt.Errorf("coordinator: %w", err)
		}
		defer func() { _ = sub.Unsubscribe() }() // fails only on a closed connection, which has dropped it already
	}
	for ctx.Err() == nil {
		term, lost, err := r.WaitLeading(ctx)
		if err != nil {
			return nil
		}
		if err := sv.lead(ctx, term, lost); err != nil && !errors.Is(err, ErrNotLeader) && ctx.Err() == nil {
			return err
		}
	}
	return nil
}

// lead serves the API and runs jobs while this node leads (until lost
// is closed).
func (sv *Service) lead(ctx context.Context, term uint64, lost <-chan struct{}) error {
	sv.term.Store(term)
	nc := sv.cfg.NATS
	var subs []*nats.Subscription
	defer func() {
		for _, s := range subs {
			_ = s.Unsubscribe() // fails only on a closed connection, which has dropped it already
		}
	}()
	shared := map[string]string{"submit": wire.SubmitSubject, "status": wire.StatusSubject,
		"cancel": wire.CancelSubject, "resume": wire.ResumeSubject}
	for verb, h := range sv.handlers() {
		subj := shared[verb]
		s, err := nc.Subscribe(subj, h)
		if err != nil {
			return fmt.Errorf("coordinator: %w", err)
		}
		subs = append(subs, s)
	}
	ds, err := nc.Subscribe(wire.MemberSubject("*", wire.ReportDone, "*"), sv.handleDone)
	if err != nil {
		return fmt.Errorf("coordinator: %w", err)
	}
	subs = append(subs, ds)
	if err := nc.Flush(); err != nil {
		return err
	}
	sv.log.Info("serving the API as leader", zap.String("id", sv.cfg.Raft.cfg.ID))
	for ctx.Err() == nil {
		select {
		case <-lost:
			return ErrNotLeader
		default:
		}
		var next *Job
		sv.cfg.Raft.fsm.Read(func(s *state) {
			if j := s.Next(); j != nil {
				next = j.clone()
			}
		})
		if next == nil {
			select {
			case <-ctx.Done():
			case <-lost:
			case <-sv.wake:
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		spec, err := job.FromJSON(next.Spec)
		if err != nil {
			return fmt.Errorf("coordinator: job %s: %w", next.ID, err)
		}
		cfg := sv.cfg
		cfg.Job, cfg.Workers, cfg.Resume, cfg.StopAt, cfg.RunDir = spec, next.Want, "", 0, ""
		s, err := NewJobRunner(cfg)
		if err != nil {
			sv.log.Error("cannot run a queued job; cancelling it", zap.String("job", next.ID), zap.Error(err))
			if err := sv.cfg.Raft.apply(Op{Kind: opCancel, Job: next.ID}, 5*time.Second); err != nil {
				sv.log.Error("cancelling a job that cannot run", zap.String("job", next.ID), zap.Error(err))
				return err
			}
			continue
		}
		sv.setRunning(next.ID)
		res, err := s.Run(ctx)
		sv.setRunning("")
		switch {
		case errors.Is(err, ErrNotLeader):
			return err
		case err != nil:
			sv.log.Warn("job ended", zap.String("job", next.ID), zap.Error(err))
		default:
			sv.log.Info("job ended", zap.String("job", next.ID), zap.String("phase", res.Job.Phase))
		}
	}
	return nil
}

func (sv *Service) setRunning(job string) {
	sv.mu.Lock()
	sv.running = job
	sv.mu.Unlock()
}

// handleDone acknowledges a rank's Done report of a ring that no job
// loop will hear: the job is recorded finished (a new leader found its
// final checkpoint on storage after a quorum outage longer than the job,
// and recorded it done without its ranks' reports) or the generation has
// been replaced. A rank repeats its report until it is answered, and
// takes no other job before. While a job's loop runs, it answers that
// job's reports itself (one answer per request).
func (sv *Service) handleDone(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	var d wire.Done
	if err := wire.Decode(m.Data, &d); err != nil || m.Subject != wire.MemberSubject(d.Job, wire.ReportDone, d.Worker) {
		return
	}
	sv.mu.Lock()
	running := sv.running == d.Job
	sv.mu.Unlock()
	if running {
		return
	}
	if j, ok := sv.cfg.Raft.fsm.Job(d.Job); ok && (j.Finished() || d.Generation < j.Generation) {
		_ = m.Respond([]byte("ok")) // a rank not answered repeats its report
	}
}

func (sv *Service) reply(m *nats.Msg, r *wire.Reply) {
	if m.Reply == "" {
		return
	}
	if b, err := wire.Encode(r); err == nil {
		_ = m.Respond(b) // a client not answered times out and may ask again
	}
}

func refuse(err error) *wire.Reply { return &wire.Reply{Error: err.Error()} }

func (sv *Service) handleSubmit(m *nats.Msg) {
	var req wire.Submit
	if err := wire.Decode(m.Data, &req); err != nil {
		sv.reply(m, refuse(err))
		return
	}
	spec, err := job.Parse([]byte(req.Spec))
	if err != nil {
		sv.reply(m, refuse(err))
		return
	}
	if !wire.ValidID(spec.Name) {
		sv.reply(m, refuse(fmt.Errorf("job name %q: use letters, digits, '_' and '-' (it is a NATS token)", spec.Name)))
		return
	}
	target, lo, hi := spec.Workers(sv.cfg.Workers)
	if err := spec.CheckWorkers(target); err != nil {
		sv.reply(m, refuse(err))
		return
	}
	if err := sv.cfg.Raft.apply(Op{Kind: opSubmit, Job: spec.Name, Spec: spec.JSON(), Want: target, Min: lo, Max: hi}, 5*time.Second); err != nil {
		sv.reply(m, refuse(err))
		return
	}
	select {
	case sv.wake <- struct{}{}:
	default:
	}
	sv.reply(m, &wire.Reply{OK: true, Job: spec.Name})
}

func (sv *Service) handleStatus(m *nats.Msg) {
	var req wire.Query
	if err := wire.Decode(m.Data, &req); err != nil {
		sv.reply(m, refuse(err))
		return
	}
	var out []wire.JobStatus
	sv.cfg.Raft.fsm.Read(func(s *state) {
		for _, j := range s.Jobs {
			if req.Job != "" && j.ID != req.Job {
				continue
			}
			st := wire.JobStatus{ID: j.ID, Phase: j.Phase, Step: j.Step, Total: j.specSteps(), Workers: j.Want,
				Members: append([]string(nil), j.Members...), Generation: j.Generation, Loss: j.Loss, StepsPerSec: j.Rate,
				Checkpoint: j.Latest, CheckpointStep: j.LatestStep, Restarts: j.Restarts, Error: j.Error,
				Grows: j.Grows, Pending: append([]string(nil), j.Pending...)}
			st.MinWorkers, st.MaxWorkers = j.bounds()
			if j.Phase == phaseRunning && j.Rate > 0 {
				st.ETASeconds = float64(st.Total-j.Step) / j.Rate
			}
			out = append(out, st)
		}
	})
	if req.Job != "" && len(out) == 0 {
		sv.reply(m, refuse(fmt.Errorf("no job %q", req.Job)))
		return
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	sv.reply(m, &wire.Reply{OK: true, Jobs: out})
}

func (sv *Service) handleCancel(m *nats.Msg) {
	var req wire.Query
	if err := wire.Decode(m.Data, &req); err != nil || req.Job == "" {
		if err == nil {
			err = errors.New("cancel: which job?")
		}
		sv.reply(m, refuse(err))
		return
	}
	known := false
	sv.cfg.Raft.fsm.Read(func(s *state) { known = s.Jobs[req.Job] != nil })
	if !known {
		sv.reply(m, refuse(fmt.Errorf("no job %q", req.Job)))
		return
	}
	if err := sv.cfg.Raft.apply(Op{Kind: opCancel, Job: req.Job}, 5*time.Second); err != nil {
		sv.reply(m, refuse(err))
		return
	}
	// The cancel is applied: now tell the workers (with this leader's
	// term, so that they obey it).
	b, err := wire.Encode(&wire.Command{Term: sv.term.Load(), Coordinator: sv.cfg.Raft.cfg.ID, Job: req.Job, Kind: wire.CmdStop})
	if err == nil {
		err = sv.cfg.NATS.Publish(wire.ControlSubject(req.Job), b)
	}
	if err != nil {
		sv.log.Error("telling the workers to stop", zap.String("job", req.Job), zap.Error(err))
	}
	sv.reply(m, &wire.Reply{OK: true, Job: req.Job})
}

func (sv *Service) handleResume(m *nats.Msg) {
	var req wire.Resume
	if err := wire.Decode(m.Data, &req); err != nil {
		sv.reply(m, refuse(err))
		return
	}
	j, ok := sv.cfg.Raft.fsm.Job(req.Job)
	switch {
	case !ok:
		sv.reply(m, refuse(fmt.Errorf("no job %q", req.Job)))
		return
	case j.Phase != phaseStopped && j.Phase != phaseFailed:
		sv.reply(m, refuse(fmt.Errorf("job %s is %s; only a stopped or failed job can be resumed", req.Job, j.Phase)))
		return
	}
	var c *checkpoint.Checkpoint
	var err error
	runDir := filepath.Join(sv.cfg.RunsDir, req.Job)
	if req.From != "" {
		// Only a checkpoint of this job's run: a path from the wire names
		// nothing else.
		from := req.From
		if !filepath.IsAbs(from) {
			from = filepath.Join(runDir, from)
		}
		if rel, rerr := relInside(filepath.Join(runDir, "checkpoints"), from); rerr != nil || rel == "." {
			sv.reply(m, refuse(fmt.Errorf("resume %s --from %s: not a checkpoint inside %s", req.Job, req.From, filepath.Join(runDir, "checkpoints"))))
			return
		}
		c, err = checkpoint.Load(from)
	} else {
		c, _, err = checkpoint.Latest(filepath.Join(runDir, "checkpoints"))
	}
	if err != nil {
		sv.reply(m, refuse(fmt.Errorf("resume %s: %w", req.Job, err)))
		return
	}
	rel, err := filepath.Rel(runDir, c.Dir)
	if err != nil {
		sv.reply(m, refuse(fmt.Errorf("resume %s: %w", req.Job, err)))
		return
	}
	spec, err := job.FromJSON(c.Manifest.Job)
	if err != nil || string(spec.JSON()) != string(j.Spec) {
		sv.reply(m, refuse(fmt.Errorf("resume %s: %s holds a checkpoint of another job spec", req.Job, c.Dir)))
		return
	}
	target, lo, hi := spec.Workers(sv.cfg.Workers)
	if err := sv.cfg.Raft.apply(Op{Kind: opSubmit, Job: req.Job, Spec: j.Spec, Want: target, Min: lo, Max: hi, Resume: rel,
		Step: int(c.Manifest.Step)}, 5*time.Second); err != nil {
		sv.reply(m, refuse(err))
		return
	}
	select {
	case sv.wake <- struct{}{}:
	default:
	}
	sv.reply(m, &wire.Reply{OK: true, Job: req.Job})
}
