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
	reply := func(r *wire.JoinReply) {
		if m.Reply == "" {
			return
		}
		if b, err := wire.Encode(r); err == nil {
			m.Respond(b)
		}
	}
	refuse := func(format string, a ...any) { reply(&wire.JoinReply{Error: fmt.Sprintf(format, a...)}) }
	var jn wire.Join
	if err := wire.Decode(m.Data, &jn); err != nil {
		refuse("%v", err)
		return nil
	}
	if wire.SenderOf(m.Subject) != jn.Worker {
		refuse("a join of worker %s on %s: a worker joins on its own subject", jn.Worker, m.Subject)
		return nil
	}
	if jn.Role != wire.RoleWorker {
		refuse("this coordinator takes training workers only")
		return nil
	}
	j := &l.j
	w, inc := jn.Worker, jn.Incarnation
	member, pending := slices.Contains(j.Members, w), slices.Contains(j.Pending, w)
	if rec, ok := j.Incarnations[w]; ok && rec != inc && (member || pending) {
		if b, alive := l.live.last(w, rec); alive && l.live.now().Sub(b.at) <= l.s.cfg.DeadAfter {
			l.warn(fmt.Sprintf("worker %s: refused a second process with this ID (incarnation %s, host %s, pid %d); incarnation %s is alive",
				w, inc, jn.Host, jn.PID, rec), zap.String("worker", w))
			reply(&wire.JoinReply{Fatal: true, Error: fmt.Sprintf("worker ID %s is already used by a live process (incarnation %s): every worker needs its own --id", w, rec)})
			return nil
		}
		if member && j.Phase == phaseRunning {
			// The member's process is silent and another came back with
			// its ID: the old one is gone.
			r := slices.Index(j.Members, w)
			l.fail(r, j.Step, fmt.Sprintf("worker %s restarted (incarnation %s replaced %s)", w, inc, rec), true)
			refuse("the ring is re-forming without the old process of worker %s; join again", w)
			return nil
		}
	}
	if member && j.Phase == phaseRunning && j.Incarnations[w] == inc {
		r := slices.Index(j.Members, w)
		if _, left := j.Done[r]; !left {
			// Its assignment was lost, or a new leader took over before
			// it arrived: send it again.
			l.sendAssign(r)
			reply(&wire.JoinReply{OK: true})
			return nil
		}
	}
	known := (member || pending) && j.Incarnations[w] == inc
	if !known {
		switch {
		case jn.PreflightError != "":
			l.warn(fmt.Sprintf("worker %s (host %s) cannot join: %s", w, jn.Host, jn.PreflightError), zap.String("worker", w))
			refuse("%s", jn.PreflightError)
			return nil
		case jn.Proof == "":
			p := &wire.Preflight{Job: l.s.jobID, RunDir: l.s.relRun}
			if l.s.spec.IsImage() {
				p.DataDir, p.DataDigest = l.s.spec.DataDir, l.dataDigest
			}
			reply(&wire.JoinReply{Preflight: p})
			return nil
		case jn.Job != l.s.jobID || jn.Proof != l.token:
			l.warn(fmt.Sprintf("worker %s (host %s) cannot join: the run directory is not shared: it read another token from %s under its runs root",
				w, jn.Host, l.s.relRun), zap.String("worker", w))
			refuse("the run directory is not shared: the token read from %s under this worker's runs root is not the one coordinator %s wrote in %s",
				l.s.relRun, l.s.cfg.ID, l.s.runDir)
			return nil
		}
	}
	if err := l.apply(Op{Kind: opJoin, Job: l.s.jobID, Worker: w, Incarnation: inc}); err != nil {
		refuse("%v", err)
		return nil
	}
	if slices.Contains(j.Pending, w) {
		l.log.Info("worker waits to join the running ring", zap.String("worker", w), zap.String("host", jn.Host))
	} else if !member {
		l.log.Info("worker joined", zap.String("worker", w), zap.String("host", jn.Host), zap.Int("gpu", jn.GPU), zap.String("incarnation", inc))
		l.s.printf("worker %s joined (%d/%d)\n", w, len(j.Members), j.Want)
	}
	reply(&wire.JoinReply{OK: true})
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
