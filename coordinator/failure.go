package coordinator

import (
	"fmt"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/levy-ml/levy/checkpoint"
	"github.com/levy-ml/levy/internal/wire"
)

// ringSize is the largest ring of at most n workers the job may run with
// (0 if under its minimum). Any size works: the global batch is split
// into shards of unequal size when it does not divide evenly.
func (l *loop) ringSize(n int) int {
	lo, hi := l.j.bounds()
	n = min(n, hi, l.s.spec.GlobalBatch)
	if n < lo {
		return 0
	}
	return n
}

// fail ends the current ring: elastically (a new ring from the newest
// checkpoint) while restarts are left, else by failing the job. The
// decision is applied first; nothing is sent if it was not.
func (l *loop) fail(rank, step int, reason string, retry bool) {
	j := &l.j
	if j.Phase != phaseRunning {
		return
	}
	if m := l.s.cfg.Metrics; m != nil {
		m.Failures.Inc()
	}
	if retry && j.Restarts < l.s.cfg.MaxRestarts && !j.StopAsked {
		old := j.Generation
		err := l.apply(Op{Kind: opRegroup, Job: l.s.jobID, Want: l.s.target, Resume: j.Latest, Step: j.LatestStep,
			Error: fmt.Sprintf("generation %d, rank %d at step %d: %s", old, rank, step, reason)})
		if err != nil {
			l.log.Error("could not record the ring's failure; doing nothing", zap.Error(err))
			return
		}
		l.windowOver = false
		// publish logs a lost abort; the failure is recorded either way,
		// and the re-formed ring's assignments follow from the record.
		_ = l.command(wire.CmdAbort, old)
		from := "the start"
		if j.Resume != "" {
			from = fmt.Sprintf("checkpoint step %d", j.Step)
		}
		l.warn(fmt.Sprintf("ring generation %d failed (rank %d at step %d: %s); re-forming it from %s (restart %d of %d)",
			old, rank, step, reason, from, j.Restarts, l.s.cfg.MaxRestarts),
			zap.Int("rank", rank), zap.Int("step", step), zap.Uint64("failed_generation", old))
		l.regroupAt = time.After(l.s.cfg.RejoinWindow)
		return
	}
	if err := l.apply(Op{Kind: opRankDone, Job: l.s.jobID, Rank: rank, Step: step, Error: reason}); err != nil {
		l.log.Error("could not record the rank's failure; doing nothing", zap.Error(err))
		return
	}
	l.warn(fmt.Sprintf("rank %d failed at step %d: %s", rank, step, reason), zap.Int("rank", rank), zap.Int("step", step))
}

// regroup re-forms the ring with want workers from the checkpoint of
// step, which the ring saved before leaving.
func (l *loop) regroup(step, want int) error {
	j := &l.j
	dir := j.Latest
	if j.LatestStep != step {
		// The announcement was lost (say, in a failover): the storage is
		// the authority.
		c, _, err := checkpoint.Latest(filepath.Join(l.s.runDir, "checkpoints"))
		if err != nil || int(c.Manifest.Step) != step || !l.sameSpec(c) {
			return fmt.Errorf("coordinator: the ring regrouped at step %d but its checkpoint is not on storage: %v", step, err)
		}
		dir, _ = filepath.Rel(l.s.runDir, c.Dir)
	}
	if want == 0 {
		want = len(j.Members)
	}
	if err := l.apply(Op{Kind: opRegroup, Job: l.s.jobID, Want: want, Resume: dir, Step: step}); err != nil {
		return err
	}
	l.event(fmt.Sprintf("ring regroups at step %d from %s: %d workers, %v first", step, dir, want, j.Members), zap.Int("step", step))
	return nil
}

// grow asks a running ring to checkpoint and regroup when workers wait to
// join it.
func (l *loop) grow() {
	j := &l.j
	if j.Phase != phaseRunning || len(j.Pending) == 0 || j.GrowAsked == j.Generation || j.StopAsked {
		return
	}
	n := len(j.Members) + len(j.Pending)
	if l.ringSize(n) != n {
		return
	}
	if err := l.apply(Op{Kind: opGrow, Job: l.s.jobID, Step: int(j.Generation)}); err != nil {
		return
	}
	l.event(fmt.Sprintf("workers %v join the running job: ring generation %d checkpoints and regroups (%d workers)", j.Pending, j.Generation, n))
	// publish logs a lost regroup; the ring then runs on as it is (the
	// grow is recorded as asked, and not asked again), and the pending
	// workers wait for the next generation it forms.
	_ = l.command(wire.CmdRegroup, j.Generation)
}

// onRejoinWindow starts a re-forming ring with the workers that came back.
func (l *loop) onRejoinWindow() error {
	l.regroupAt = nil
	l.windowOver = true
	j := &l.j
	if j.Phase != phaseWaiting {
		return nil
	}
	n := l.ringSize(len(j.Members))
	if n == 0 {
		lo, _ := j.bounds()
		l.warn(fmt.Sprintf("%d of the %d workers a ring needs at least (min_workers) are here; waiting for more to join", len(j.Members), lo))
		return nil
	}
	return l.startRing(n)
}

// stop asks the workers to checkpoint and leave (Ctrl-C).
func (l *loop) stop() {
	if err := l.apply(Op{Kind: opStopAsked, Job: l.s.jobID}); err != nil {
		l.log.Error("could not record the stop", zap.Error(err))
		return
	}
	l.event("stopping: asking the workers to checkpoint (Ctrl-C again to quit at once)")
	// publish logs a lost stop; the stop is recorded, and StopGrace
	// bounds the wait for it.
	_ = l.command(wire.CmdStop, 0)
	l.stopDeadline = time.After(l.s.cfg.StopGrace)
}
