package coordinator

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/levy-ml/levy/checkpoint"
	"github.com/levy-ml/levy/internal/wire"
)

// Ring formation is a handshake that survives any one lost message and a
// change of leader at any point:
//
//  1. The leader applies opStart (the members, in rank order, and the
//     generation), then sends every member its Assign.
//  2. A member that has its Assign subscribes to the ring and the control
//     subject and sends Ready, again every second until the start comes.
//  3. When every rank is recorded ready (opReady), the leader sends Start;
//     it sends Start again whenever a Ready comes in after that (the
//     rank did not hear it).
//
// The leader re-sends the Assign of every rank not yet ready every
// HandshakeEvery; a member whose Assign was lost, and who joins again,
// gets it again. A new leader does all of this from the replicated
// record. A ring not ready within StartTimeout, or a rank that gives up
// waiting for its start, fails the ring retryably: a new generation forms.

// startRing starts the next ring generation with the members (the first
// want of them when want > 0).
func (l *loop) startRing(want int) error {
	if err := l.apply(Op{Kind: opStart, Job: l.s.jobID, Want: want}); err != nil {
		return err
	}
	j := &l.j
	l.formedAt = time.Now()
	if l.runStart.IsZero() {
		l.runStart = time.Now()
	}
	l.event(fmt.Sprintf("ring generation %d: %v; training from step %d", j.Generation, j.Members, j.Step),
		zap.Strings("members", j.Members), zap.Int("step", j.Step))
	if m := l.s.cfg.Metrics; m != nil {
		m.Workers.Set(float64(len(j.Members)))
		m.Generation.Set(float64(j.Generation))
	}
	for r := range j.Members {
		l.sendAssign(r)
	}
	return nil
}

// sendAssign sends rank r of the current generation its assignment.
func (l *loop) sendAssign(r int) {
	j := &l.j
	w := j.Members[r]
	a := &wire.Assign{Job: l.s.jobID, Spec: j.Spec, Rank: r, World: j.Want, Ring: slices.Clone(j.Members),
		Incarnation: j.Incarnations[w], Generation: j.Generation, RunDir: l.s.relRun, Resume: j.Resume,
		StopAt: l.s.cfg.StopAt, Elastic: l.s.cfg.MaxRestarts > 0}
	_ = l.publish(wire.AssignSubject(w), a) // publish logs a failure; the handshake repeats an unanswered Assign
}

// onHandshakeTick re-sends the assignments of ranks not ready yet, and
// fails a ring that did not get ready in time.
func (l *loop) onHandshakeTick() {
	j := &l.j
	if j.Phase != phaseRunning || len(j.Ready) == j.Want {
		return
	}
	var missing []string
	for r, w := range j.Members {
		if !j.Ready[r] {
			missing = append(missing, w)
		}
	}
	if time.Since(l.formedAt) > l.s.cfg.StartTimeout {
		r := slices.Index(j.Members, missing[0])
		l.fail(r, j.Step, fmt.Sprintf("workers %v not ready within %v of ring generation %d", missing, l.s.cfg.StartTimeout, j.Generation), true)
		return
	}
	for r := range j.Members {
		if !j.Ready[r] {
			l.sendAssign(r)
		}
	}
}

// member reports whether sender is rank of generation gen, this very
// process (incarnation), in the running ring.
func (l *loop) member(snd wire.Sender, gen uint64, rank int) bool {
	j := &l.j
	return j.Phase == phaseRunning && gen == j.Generation && rank >= 0 && rank < len(j.Members) &&
		j.Members[rank] == snd.Worker && j.Incarnations[snd.Worker] == snd.Incarnation
}

func (l *loop) onReady(r wire.Ready) {
	j := &l.j
	if !l.member(r.Sender, r.Generation, r.Rank) {
		l.log.Debug("ignoring a ready from outside the ring", zap.String("worker", r.Worker), zap.Uint64("of_generation", r.Generation))
		return
	}
	if !j.Ready[r.Rank] {
		if err := l.apply(Op{Kind: opReady, Job: l.s.jobID, Rank: r.Rank}); err != nil {
			return
		}
	}
	if len(j.Ready) == j.Want {
		// First time, or a rank that did not hear the start asks again.
		if l.command(wire.CmdStart, j.Generation) == nil {
			l.log.Info("all ranks ready; start", zap.Uint64("generation", j.Generation), zap.Int("from", r.Rank))
		}
	}
}

// takeOver reconciles a job the replicated record says is running with
// the storage, and resumes the handshake where the last leader left it.
func (l *loop) takeOver() error {
	j := &l.j
	if j.Phase == phaseWaiting && len(j.Members) > 0 && j.Generation > 0 {
		// A ring was re-forming: give the workers a rejoin window again.
		l.regroupAt = time.After(l.s.cfg.RejoinWindow)
	}
	if j.Phase != phaseRunning {
		return nil
	}
	l.runStart, l.formedAt = time.Now(), time.Now()
	l.event(fmt.Sprintf("taking over ring generation %d %v at step %d (term %d)", j.Generation, j.Members, j.Step, l.term))
	// The storage is the authority on checkpoints: ones announced while
	// no coordinator led were not heard.
	c, _, err := checkpoint.Latest(filepath.Join(l.s.runDir, "checkpoints"))
	if err == nil && int(c.Manifest.Step) > j.LatestStep && l.sameSpec(c) {
		rel, _ := filepath.Rel(l.s.runDir, c.Dir)
		step := int(c.Manifest.Step)
		if step >= j.specSteps() {
			// The ring trained to the end while no coordinator led.
			if l.apply(Op{Kind: opFinish, Job: l.s.jobID, Step: step, Dir: rel}) == nil {
				l.event(fmt.Sprintf("job %s finished while no coordinator led: final checkpoint %s", l.s.jobID, c.Dir))
			}
			return nil
		}
		// apply logs a refusal; the record then keeps its older
		// checkpoint, and the newer one stays on storage.
		_ = l.apply(Op{Kind: opCheckpoint, Job: l.s.jobID, Step: step, Dir: rel})
	}
	if len(j.Ready) == j.Want {
		_ = l.command(wire.CmdStart, j.Generation) // ranks that started ignore it; publish logs a failure, and a rank repeats its Ready
	} else {
		for r := range j.Members {
			if !j.Ready[r] {
				l.sendAssign(r)
			}
		}
	}
	return nil
}
