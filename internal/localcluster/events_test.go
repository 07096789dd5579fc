package localcluster

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/levy-ml/levy/coordinator"
	"github.com/levy-ml/levy/engine"
	"github.com/levy-ml/levy/internal/wire"
	"github.com/levy-ml/levy/worker"
)

// failingEngine fails its job (not retryably) at its call number at.
type failingEngine struct {
	engine.Engine
	calls atomic.Int64
	at    int64
}

var errBadData = errors.New("injected: bad data")

func (e *failingEngine) Backward(step engine.Step, b engine.Batch, ready func(int)) (float64, error) {
	if e.calls.Add(1) == e.at {
		return 0, errBadData
	}
	return e.Engine.Backward(step, b, ready)
}

// TestEventsAreLoggedWithTheirFields: the coordinator's important events
// (a ring formed, a worker declared dead, the ring failed and re-formed,
// a checkpoint) go through zap with the job, its generation and the
// raft term, not only to the progress writer (before, they were printf
// only, so --log-format json missed exactly them).
func TestEventsAreLoggedWithTheirFields(t *testing.T) {
	c := newCluster(t, smallJob("events", 60, 20))
	core, logs := observer.New(zapcore.InfoLevel)
	cc := c.coordConfig(2)
	cc.Log, cc.RejoinWindow, cc.DeadAfter = zap.New(core), 500*time.Millisecond, raceDeadAfter(time.Second)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var hung atomic.Bool
	cancelW1, _ := c.worker("w1", &worker.Faults{Engine: func(rank int, e engine.Engine) engine.Engine {
		return &hangAt{Engine: e, at: 25, release: release, hung: &hung}
	}})
	c.worker("w0", nil)
	go func() {
		for !hung.Load() {
			time.Sleep(10 * time.Millisecond)
		}
		cancelW1() // its heartbeats stop: it died
	}()
	res, err := c.run(cc)
	if err != nil {
		t.Fatal(err)
	}
	if res.Job.Restarts != 1 {
		t.Fatalf("restarts %d, want 1", res.Job.Restarts)
	}
	for _, want := range []string{"ring generation 1:", "declared dead", "ring generation 1 failed", "checkpoint: step 20", "ring generation 2:", "done:"} {
		found := false
		for _, e := range logs.All() {
			if strings.Contains(e.Message, want) {
				found = true
				f := e.ContextMap()
				if f["job"] != "events" || f["term"] == nil || f["generation"] == nil {
					t.Errorf("%q logged without job, term and generation: %v", want, f)
				}
				break
			}
		}
		if !found {
			t.Errorf("no log entry for %q", want)
		}
	}
}

// hangAt blocks its job at call number at until release.
type hangAt struct {
	engine.Engine
	calls   atomic.Int64
	at      int64
	release <-chan struct{}
	hung    *atomic.Bool
}

func (e *hangAt) Backward(step engine.Step, b engine.Batch, ready func(int)) (float64, error) {
	if e.calls.Add(1) == e.at {
		e.hung.Store(true)
		<-e.release
	}
	return e.Engine.Backward(step, b, ready)
}

// TestEndedJobTellsItsWorkers: when a job ends (here it fails: a rank's
// data is bad, which no new ring would fix), the coordinator tells every
// worker of it to leave (CmdEnd, in its term), so that no worker trains
// on unsupervised.
func TestEndedJobTellsItsWorkers(t *testing.T) {
	c := newCluster(t, smallJob("ended", 60, 20))
	nc := c.conn()
	var mu sync.Mutex
	var ends []wire.Command
	if _, err := nc.Subscribe(wire.ControlSubject("ended"), func(m *nats.Msg) {
		var cmd wire.Command
		if wire.Decode(m.Data, &cmd) == nil && cmd.Kind == wire.CmdEnd {
			mu.Lock()
			ends = append(ends, cmd)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	_, d0 := c.worker("w0", nil)
	_, d1 := c.worker("w1", &worker.Faults{Engine: func(rank int, e engine.Engine) engine.Engine {
		return &failingEngine{Engine: e, at: 10}
	}})
	_, err := c.run(c.coordConfig(2))
	if !errors.Is(err, coordinator.ErrJobFailed) {
		t.Fatalf("got %v, want the job failed", err)
	}
	for i, d := range []<-chan error{d0, d1} {
		select {
		case <-d:
		case <-time.After(10 * time.Second):
			t.Errorf("worker w%d still runs 10 s after the job failed", i)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ends) == 0 || ends[0].Term == 0 {
		t.Fatalf("no end command (with a term) after the job failed: %+v", ends)
	}
}

// TestNewLeaderDeclaresADeadWorkerDead: a worker that died just before a
// failover, whose heartbeat the new leader never heard, is still declared
// dead after DeadAfter: the new leader seeds its liveness check from the
// replicated membership. (Before, it checked only workers it had heard,
// so the ring broke only at the 30 s ring timeout.)
func TestNewLeaderDeclaresADeadWorkerDead(t *testing.T) {
	steps := 300
	if raceEnabled {
		steps = 90
	}
	c := newCluster(t, smallJob("seed", steps, 20))
	results := c.raft(2, func(i int, cc *coordinator.Config) { cc.DeadAfter, cc.RejoinWindow = time.Second, 500*time.Millisecond })
	c.worker("w0", nil)
	cancelW1, _ := c.worker("w1", nil)
	var l int
	for {
		if l = c.leader(); l >= 0 {
			if j, ok := c.job(); ok && j.Step >= steps/4 {
				break
			}
		}
		if c.ctx.Err() != nil {
			t.Fatal("the job never reached a quarter of its steps")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t0 := time.Now()
	cancelW1()
	c.kill(l)
	var restartedAfter time.Duration
	for restartedAfter == 0 {
		if j, ok := c.job(); ok && j.Restarts > 0 {
			restartedAfter = time.Since(t0)
		}
		if time.Since(t0) > 20*time.Second {
			t.Fatal("the dead worker was not declared dead within 20 s of the failover")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("worker and leader killed; the new leader re-formed the ring after %v", restartedAfter.Round(time.Millisecond))
	if restartedAfter > 8*time.Second {
		t.Errorf("ring re-formed %v after the failover: detected by the ring timeout, not by the new leader's liveness check (DeadAfter 1 s)", restartedAfter)
	}
	select {
	case res := <-results:
		if res.Job.Phase != "done" || len(res.Job.Members) != 1 {
			t.Fatalf("job %s with %v", res.Job.Phase, res.Job.Members)
		}
	case <-c.ctx.Done():
		t.Fatal("the job did not complete")
	}
}
