package coordinator

import (
	"fmt"
	"slices"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/levy-ml/levy/internal/wire"
)

// onJoin answers a worker that asks for a place: a preflight first (it
// must prove that it sees the run directory), then the job's next ring,
// the running ring's next generation, or a refusal that says why.
func (l *loop) onJoin(m *nats.Msg) error {
	r := joinReplier{m}
	var jn wire.Join
	if err := wire.Decode(m.Data, &jn); err != nil {
		r.refuse("%v", err)
		return nil
	}
	if wire.SenderOf(m.Subject) != jn.Worker {
		r.refuse("a join of worker %s on %s: a worker joins on its own subject", jn.Worker, m.Subject)
		return nil
	}
	if jn.Role != wire.RoleWorker {
		r.refuse("this coordinator takes training workers only")
		return nil
	}
	if l.answerRecorded(r, &jn) || l.answerPreflight(r, &jn) {
		return nil
	}
	j := &l.j
	w, inc := jn.Worker, jn.Incarnation
	member := slices.Contains(j.Members, w)
	if err := l.apply(Op{Kind: opJoin, Job: l.s.jobID, Worker: w, Incarnation: inc}); err != nil {
		r.refuse("%v", err)
		return nil
	}
	if slices.Contains(j.Pending, w) {
		l.log.Info("worker waits to join the running ring", zap.String("worker", w), zap.String("host", jn.Host))
	} else if !member {
		l.log.Info("worker joined", zap.String("worker", w), zap.String("host", jn.Host), zap.Int("gpu", jn.GPU), zap.String("incarnation", inc))
		l.s.printf("worker %s joined (%d/%d)\n", w, len(j.Members), j.Want)
	}
	r.send(&wire.JoinReply{OK: true})
	switch {
	case j.Phase == phaseRunning:
		l.grow()
	case j.Phase != phaseWaiting:
	case len(j.Members) == j.Want:
		l.regroupAt = nil
		return l.startRing(0)
	case l.windowOver && l.ringSize(len(j.Members)) > 0:
		// The rejoin window passed with too few workers; this one brings
		// the ring to its minimum.
		return l.startRing(l.ringSize(len(j.Members)))
	}
	return nil
}

// answerRecorded answers a join of a worker the record already holds,
// and reports whether it did: a second live process with the ID is
// refused for good; a new process of a silent member of the running ring
// fails the ring; a member of the running ring that asks again gets its
// assignment again.
func (l *loop) answerRecorded(r joinReplier, jn *wire.Join) bool {
	j := &l.j
	w, inc := jn.Worker, jn.Incarnation
	member, pending := slices.Contains(j.Members, w), slices.Contains(j.Pending, w)
	if rec, ok := j.Incarnations[w]; ok && rec != inc && (member || pending) {
		if b, alive := l.live.last(w, rec); alive && l.live.now().Sub(b.at) <= l.s.cfg.DeadAfter {
			l.warn(fmt.Sprintf("worker %s: refused a second process with this ID (incarnation %s, host %s, pid %d); incarnation %s is alive",
				w, inc, jn.Host, jn.PID, rec), zap.String("worker", w))
			r.send(&wire.JoinReply{Fatal: true, Error: fmt.Sprintf("worker ID %s is already used by a live process (incarnation %s): every worker needs its own --id", w, rec)})
			return true
		}
		if member && j.Phase == phaseRunning {
			// The member's process is silent and another came back with
			// its ID: the old one is gone.
			rank := slices.Index(j.Members, w)
			l.fail(rank, j.Step, fmt.Sprintf("worker %s restarted (incarnation %s replaced %s)", w, inc, rec), true)
			r.refuse("the ring is re-forming without the old process of worker %s; join again", w)
			return true
		}
	}
	if member && j.Phase == phaseRunning && j.Incarnations[w] == inc {
		rank := slices.Index(j.Members, w)
		if _, left := j.Done[rank]; !left {
			// Its assignment was lost, or a new leader took over before
			// it arrived: send it again.
			l.sendAssign(rank)
			r.send(&wire.JoinReply{OK: true})
			return true
		}
	}
	return false
}

// answerPreflight answers a join of a worker the record does not hold
// yet until it proves that it sees the run directory, and reports
// whether it did: the preflight to do, or a refusal of a failed one.
func (l *loop) answerPreflight(r joinReplier, jn *wire.Join) bool {
	j := &l.j
	w := jn.Worker
	if (slices.Contains(j.Members, w) || slices.Contains(j.Pending, w)) && j.Incarnations[w] == jn.Incarnation {
		return false // known
	}
	switch {
	case jn.PreflightError != "":
		l.warn(fmt.Sprintf("worker %s (host %s) cannot join: %s", w, jn.Host, jn.PreflightError), zap.String("worker", w))
		r.refuse("%s", jn.PreflightError)
		return true
	case jn.Proof == "":
		p := &wire.Preflight{Job: l.s.jobID, RunDir: l.s.relRun}
		if l.s.spec.IsImage() {
			p.DataDir, p.DataDigest = l.s.spec.DataDir, l.dataDigest
		}
		r.send(&wire.JoinReply{Preflight: p})
		return true
	case jn.Job != l.s.jobID || jn.Proof != l.token:
		l.warn(fmt.Sprintf("worker %s (host %s) cannot join: the run directory is not shared: it read another token from %s under its runs root",
			w, jn.Host, l.s.relRun), zap.String("worker", w))
		r.refuse("the run directory is not shared: the token read from %s under this worker's runs root is not the one coordinator %s wrote in %s",
			l.s.relRun, l.s.cfg.ID, l.s.runDir)
		return true
	}
	return false
}

// joinReplier answers one join request (nothing when it wants no
// answer).
type joinReplier struct{ m *nats.Msg }

func (r joinReplier) send(jr *wire.JoinReply) {
	if r.m.Reply == "" {
		return
	}
	if b, err := wire.Encode(jr); err == nil {
		_ = r.m.Respond(b) // a worker not answered asks again
	}
}

func (r joinReplier) refuse(format string, a ...any) {
	r.send(&wire.JoinReply{Error: fmt.Sprintf(format, a...)})
}
