package coordinator

import (
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/levy-ml/levy/internal/wire"
)

// liveness remembers when each worker process (ID and incarnation) was
// last heard. Heartbeats are stamped by the NATS callback on arrival, so
// a stalled job loop cannot make live workers look dead.
type liveness struct {
	mu   sync.Mutex
	seen map[string]map[string]beat // worker → incarnation → last heartbeat
	now  func() time.Time
}

type beat struct {
	at time.Time
	hb wire.Heartbeat
}

func newLiveness() *liveness {
	return &liveness{seen: map[string]map[string]beat{}, now: time.Now}
}

// forget drops processes not heard for this long.
const forgetAfter = 10 * time.Minute

func (lv *liveness) handler(log *zap.Logger) nats.MsgHandler {
	var lastWarn time.Time
	return func(m *nats.Msg) {
		var hb wire.Heartbeat
		err := wire.Decode(m.Data, &hb)
		if err == nil && wire.SenderOf(m.Subject) != hb.Worker {
			err = fmt.Errorf("heartbeat of %q on %s", hb.Worker, m.Subject)
		}
		if err != nil {
			if time.Since(lastWarn) > time.Second {
				lastWarn = time.Now()
				log.Warn("ignoring a bad heartbeat", zap.String("subject", m.Subject), zap.Error(err))
			}
			return
		}
		lv.stamp(hb)
	}
}

func (lv *liveness) stamp(hb wire.Heartbeat) {
	lv.mu.Lock()
	defer lv.mu.Unlock()
	now := lv.now()
	incs := lv.seen[hb.Worker]
	if incs == nil {
		incs = map[string]beat{}
		lv.seen[hb.Worker] = incs
	}
	incs[hb.Incarnation] = beat{at: now, hb: hb}
	for inc, b := range incs {
		if now.Sub(b.at) > forgetAfter {
			delete(incs, inc)
		}
	}
}

// last returns when worker's incarnation inc was last heard.
func (lv *liveness) last(worker, inc string) (beat, bool) {
	lv.mu.Lock()
	defer lv.mu.Unlock()
	b, ok := lv.seen[worker][inc]
	return b, ok
}

// seed counts worker's incarnation as heard now unless it was heard
// already: a new leader starts the dead-worker clock of every member of
// the replicated ring, so a worker that died before the failover is
// still declared dead.
func (lv *liveness) seed(worker, inc string) {
	lv.mu.Lock()
	defer lv.mu.Unlock()
	if _, ok := lv.seen[worker][inc]; ok {
		return
	}
	if lv.seen[worker] == nil {
		lv.seen[worker] = map[string]beat{}
	}
	lv.seen[worker][inc] = beat{at: lv.now()}
}

// other returns an incarnation of worker other than inc heard within d.
func (lv *liveness) other(worker, inc string, d time.Duration) (string, beat, bool) {
	lv.mu.Lock()
	defer lv.mu.Unlock()
	now := lv.now()
	for i, b := range lv.seen[worker] {
		if i != inc && now.Sub(b.at) <= d {
			return i, b, true
		}
	}
	return "", beat{}, false
}

// checkHeartbeats fails the ring when a member's process has been silent
// for DeadAfter.
func (l *loop) checkHeartbeats() {
	j := &l.j
	if j.Phase != phaseRunning {
		return
	}
	dead := l.s.cfg.DeadAfter
	for r, w := range j.Members {
		inc := j.Incarnations[w]
		b, ok := l.live.last(w, inc)
		if !ok {
			l.live.seed(w, inc)
			continue
		}
		if r == 0 && b.hb.Job == l.s.jobID && b.hb.Generation == j.Generation && b.hb.Step > j.Step && b.hb.Step <= l.s.spec.Steps {
			// Where the ring is, by its rank 0's own account: a new leader
			// learns it here before the next progress report.
			// Best effort (apply logs a refusal): the next heartbeat or
			// progress report carries the step again.
			_ = l.apply(Op{Kind: opProgress, Job: l.s.jobID, Step: b.hb.Step, Loss: j.Loss, Rate: j.Rate})
		}
		if since := l.live.now().Sub(b.at); since > dead {
			l.warn(fmt.Sprintf("worker %s (rank %d, incarnation %s) declared dead: no heartbeat for %v", w, r, inc, since.Round(time.Millisecond)),
				zap.String("worker", w), zap.Int("rank", r))
			l.fail(r, j.Step, fmt.Sprintf("worker %s: no heartbeat for %v", w, dead), true)
			return
		}
	}
}
