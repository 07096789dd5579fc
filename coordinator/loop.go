package coordinator

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/levy-ml/levy/checkpoint"
	"github.com/levy-ml/levy/internal/preflight"
	"github.com/levy-ml/levy/internal/wire"
)

// loop runs one job for one term of leadership. Its goroutine (run) owns
// every field; NATS callbacks only hand messages over (channels) or stamp
// heartbeats (liveness, which has its own lock), and the job's record is
// a copy, refreshed from the store after every change.
type loop struct {
	s    *JobRunner
	ctx  context.Context
	term uint64
	lost <-chan struct{} // closed when this node stops leading (nil: never)
	j    Job
	log  *zap.Logger

	live  *liveness
	subs  []*nats.Subscription
	joins chan *nats.Msg
	msgs  chan *nats.Msg // reports of members and samplers

	token      string // the preflight token written in the run directory
	dataDigest string // preflight.DataDigest of an image job's data_dir

	last         wire.Progress
	haveProgress bool
	runStart     time.Time
	metrics      map[string]float64
	finalCkpt    int
	stopDeadline <-chan time.Time
	sampleWait   <-chan time.Time
	regroupAt    <-chan time.Time
	windowOver   bool        // the rejoin window of a re-forming ring has passed
	held         []*nats.Msg // Done reports of a regrouping ring, answered once it re-formed
	formedAt     time.Time   // when the current generation's ring was formed (handshake deadline)
	ctxDone      <-chan struct{}
	runStart0    time.Time // when Run began
}

// Channel sizes: every report of a ring of MaxWorld ranks fits, so a
// burst (all ranks' Ready or Done at once) never blocks NATS's delivery.
const (
	joinQueue = 2 * wire.MaxWorld
	msgQueue  = 4 * wire.MaxWorld
)

func newLoop(ctx context.Context, s *JobRunner, term uint64, lost <-chan struct{}) (*loop, error) {
	l := &loop{s: s, ctx: ctx, term: term, lost: lost, finalCkpt: -1, ctxDone: ctx.Done(),
		log:   s.log.With(zap.String("job", s.jobID), zap.Uint64("term", term)),
		live:  newLiveness(),
		joins: make(chan *nats.Msg, joinQueue), msgs: make(chan *nats.Msg, msgQueue)}
	l.refresh()
	nc := s.cfg.NATS
	keep := func(sb *nats.Subscription, err error) error {
		if err != nil {
			l.close()
			return fmt.Errorf("coordinator: subscribing: %w", err)
		}
		l.subs = append(l.subs, sb)
		return nil
	}
	// Heartbeats are stamped on arrival, by this callback, not by the
	// loop: a loop that stalls (a slow raft apply, a checkpoint verify)
	// must not declare live workers dead.
	hb, err := nc.Subscribe(wire.HeartbeatWildcard, l.live.handler(l.log))
	if err := keep(hb, err); err != nil {
		return nil, err
	}
	// Core NATS drops what a subscription cannot take (reported to the
	// connection's error handler as a slow consumer); a heartbeat burst of
	// every worker fits.
	if err := hb.SetPendingLimits(msgQueue, 64<<20); err != nil {
		l.close()
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	// Joins and reports go through channels filled by the connection's
	// reader in arrival order (a rank's checkpoint announcement comes
	// before its Done); their capacity is the pending limit.
	if err := keep(nc.ChanSubscribe(wire.JoinWildcard, l.joins)); err != nil {
		return nil, err
	}
	for _, what := range []string{wire.ReportReady, wire.ReportProgress, wire.ReportCkpt, wire.ReportDone, wire.ReportSamples} {
		if err := keep(nc.ChanSubscribe(wire.MemberSubject(s.jobID, what, "*"), l.msgs)); err != nil {
			return nil, err
		}
	}
	if err := nc.Flush(); err != nil {
		l.close()
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	if l.token, err = preflight.WriteToken(s.runDir); err != nil {
		l.close()
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	if s.spec.IsImage() {
		if l.dataDigest, err = preflight.DataDigest(s.spec.DataDir); err != nil {
			l.close()
			return nil, fmt.Errorf("coordinator: %w", err)
		}
	}
	return l, nil
}

func (l *loop) close() {
	for _, sb := range l.subs {
		_ = sb.Unsubscribe() // fails only on a closed connection, which has dropped it already
	}
}

// refresh copies the job's record from the store.
func (l *loop) refresh() {
	if j, ok := l.s.store.job(l.s.jobID); ok {
		l.j = j
	}
}

// apply records op and refreshes the copy; nothing that depends on op
// may be sent unless it returns nil.
func (l *loop) apply(op Op) error {
	err := l.s.store.apply(op)
	if errors.Is(err, ErrNotLeader) {
		l.log.Warn("lost the leadership while applying", zap.String("op", op.Kind), zap.Error(err))
	} else if err != nil {
		l.log.Debug("op refused", zap.Any("op", op), zap.Error(err))
	}
	l.refresh()
	return err
}

// publish sends m, stamped with this coordinator's term when a Command
// or Assign; a failure is logged and returned.
func (l *loop) publish(subject string, m wire.Message) error {
	switch c := m.(type) {
	case *wire.Command:
		c.Term, c.Coordinator = l.term, l.s.cfg.ID
	case *wire.Assign:
		c.Term = l.term
	}
	if f := l.s.cfg.faults; f != nil && f.Publish != nil && f.Publish(subject, m) {
		return nil
	}
	b, err := wire.Encode(m)
	if err == nil {
		err = l.s.cfg.NATS.Publish(subject, b)
	}
	if err != nil {
		l.log.Error("publishing", zap.String("subject", subject), zap.Error(err))
	}
	return err
}

func (l *loop) command(kind string, gen uint64) error {
	return l.publish(wire.ControlSubject(l.s.jobID), &wire.Command{Job: l.s.jobID, Kind: kind, Generation: gen})
}

// event logs an important event through zap (with the job, generation
// and term) and prints it on the progress writer.
func (l *loop) event(msg string, fields ...zap.Field) {
	l.log.Info(msg, append(fields, zap.Uint64("generation", l.j.Generation))...)
	if l.s.cfg.Progress != nil {
		_, _ = fmt.Fprintln(l.s.cfg.Progress, msg) // lines for a person; a broken writer must not stop the job
	}
}

func (l *loop) warn(msg string, fields ...zap.Field) {
	l.log.Warn(msg, append(fields, zap.Uint64("generation", l.j.Generation))...)
	if l.s.cfg.Progress != nil {
		_, _ = fmt.Fprintln(l.s.cfg.Progress, msg) // lines for a person; a broken writer must not stop the job
	}
}

func (l *loop) result() *Result { return l.s.result(l.j, l.runStart0, l.metrics) }

// run is the job's event loop.
func (l *loop) run(started time.Time) (*Result, error) {
	l.runStart0 = started
	s := l.s
	s.printf("job %s: %s α=%g on %s, %d steps, global batch %d over %d workers; waiting for workers\n",
		s.jobID, s.spec.Method, s.spec.Alpha, s.spec.Dataset, s.spec.Steps, s.spec.GlobalBatch, s.target)
	if s.resume != "" {
		s.printf("resuming from %s (step %d)\n", filepath.Join(s.runDir, s.resume), s.start)
	}
	if err := l.takeOver(); err != nil {
		return l.result(), err
	}
	tick := time.NewTicker(s.cfg.ProgressEvery)
	defer tick.Stop()
	beatCheck := time.NewTicker(s.cfg.DeadAfter / 5)
	defer beatCheck.Stop()
	handshake := time.NewTicker(s.cfg.HandshakeEvery)
	defer handshake.Stop()
	for {
		l.refresh() // a cancel may have been applied by the service
		if l.j.Finished() {
			needSamples := s.cfg.WaitSamples && l.j.Phase == phaseDone && l.metrics == nil
			if !needSamples {
				break
			}
			if l.sampleWait == nil {
				l.sampleWait = time.After(s.cfg.SamplesTimeout)
				s.printf("training done; waiting for the sampler\n")
			}
		}
		if len(l.held) > 0 && l.j.Phase != phaseRunning {
			for _, m := range l.held {
				_ = m.Respond([]byte("ok")) // a rank not answered repeats its report
			}
			l.held = nil
		}
		if f := s.cfg.faults; f != nil && f.Stall != nil {
			f.Stall()
		}
		var err error
		select {
		case <-l.lost:
			l.warn(fmt.Sprintf("coordinator %s no longer leads (term %d)", s.cfg.ID, l.term))
			return l.result(), &NotLeaderError{}
		case <-l.ctxDone:
			l.ctxDone = nil
			if l.j.Phase == phaseWaiting || l.j.Finished() {
				return l.result(), l.ctx.Err()
			}
			l.stop()
		case <-l.stopDeadline:
			return l.result(), fmt.Errorf("coordinator: the workers did not stop within %v; newest checkpoint %s: %w", s.cfg.StopGrace, l.j.Latest, l.ctx.Err())
		case <-l.sampleWait:
			return l.result(), fmt.Errorf("coordinator: no sampler reported on the final checkpoint within %v", s.cfg.SamplesTimeout)
		case m := <-l.joins:
			err = l.onJoin(m)
		case <-l.regroupAt:
			err = l.onRejoinWindow()
		case m := <-l.msgs:
			err = l.onReport(m)
		case <-handshake.C:
			l.onHandshakeTick()
		case <-tick.C:
			if l.j.Phase == phaseRunning && l.haveProgress {
				l.printProgress()
			}
		case <-beatCheck.C:
			l.checkHeartbeats()
		}
		if err != nil {
			return l.result(), err
		}
	}
	return l.finish()
}

// finish records how the job ended, tells its workers, and returns.
func (l *loop) finish() (*Result, error) {
	s := l.s
	// Whoever is still in the job leaves it: a failed job's other ranks,
	// or workers a forged or lost message left behind.
	_ = l.command(wire.CmdEnd, 0) // publish logs a failure; the job's end is recorded
	if l.j.Phase == phaseDone {
		// A checkpoint announced while no coordinator led (failover) was
		// not heard: the storage is the authority.
		if c, _, err := checkpoint.Latest(filepath.Join(s.runDir, "checkpoints")); err == nil && int(c.Manifest.Step) > l.j.LatestStep {
			if rel, err := filepath.Rel(s.runDir, c.Dir); err == nil {
				// apply logs a refusal; the result then names the newest
				// recorded checkpoint, and the newer one stays on storage.
				_ = l.apply(Op{Kind: opCheckpoint, Job: s.jobID, Step: int(c.Manifest.Step), Dir: rel})
			}
		}
	}
	res := l.result()
	j := l.j
	switch j.Phase {
	case phaseFailed:
		hint := ""
		if j.Latest != "" {
			hint = fmt.Sprintf("; newest checkpoint %s (step %d): resume with --resume %s", res.Latest, j.LatestStep, s.runDir)
		}
		l.log.Error("job failed", zap.String("error", j.Error))
		return res, fmt.Errorf("%w: %s%s", ErrJobFailed, j.Error, hint)
	case phaseStopped:
		l.event(fmt.Sprintf("stopped at step %d; checkpoint %s; resume with --resume %s", j.Step, res.Latest, s.runDir))
		if l.ctx.Err() != nil {
			return res, l.ctx.Err()
		}
	default:
		l.event(fmt.Sprintf("done: %d steps in %.1fs; checkpoint %s", j.Step, res.Elapsed.Seconds(), res.Latest))
	}
	return res, nil
}

func (l *loop) printProgress() {
	p := l.last
	eta := "?"
	if p.StepsPerSec > 0 {
		eta = (time.Duration(float64(p.Total-p.Step)/p.StepsPerSec) * time.Second).Round(time.Second).String()
	}
	skipped := ""
	if p.Skipped > 0 {
		skipped = fmt.Sprintf("  skipped %d", p.Skipped)
	}
	l.s.printf("step %d/%d  loss %.4f  %.1f steps/s  all-reduce %.2f ms  elapsed %s  ETA %s%s\n",
		p.Step, p.Total, p.Loss, p.StepsPerSec, p.AllReduceMS, time.Since(l.runStart).Round(time.Second), eta, skipped)
}
