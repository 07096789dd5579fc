package localcluster

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levy-ml/levy/coordinator"
	"github.com/levy-ml/levy/internal/wire"
	"github.com/levy-ml/levy/worker"
)

// dropOnce drops the first message that match selects.
type dropOnce struct {
	once    sync.Once
	dropped atomic.Bool
	match   func(subject string, m wire.Message) bool
}

func (d *dropOnce) publish(subject string, m wire.Message) bool {
	if !d.match(subject, m) {
		return false
	}
	drop := false
	d.once.Do(func() { drop = true })
	if drop {
		d.dropped.Store(true)
	}
	return drop
}

func isCmd(kind string) func(string, wire.Message) bool {
	return func(_ string, m wire.Message) bool {
		c, ok := m.(*wire.Command)
		return ok && c.Kind == kind
	}
}

func isAssignTo(rank int) func(string, wire.Message) bool {
	return func(_ string, m wire.Message) bool {
		a, ok := m.(*wire.Assign)
		return ok && a.Rank == rank
	}
}

func isReady(_ string, m wire.Message) bool { _, ok := m.(*wire.Ready); return ok }

// TestHandshakeSurvivesAnyLostMessage drops, in turn, each message of
// ring formation once (the assignment of each rank, each rank's Ready,
// the start): the job must complete in its first ring generation, without
// a restart. Before the handshake re-sent its steps, a lost start failed
// the job for good and a lost assignment wedged it.
func TestHandshakeSurvivesAnyLostMessage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		coord  func(string, wire.Message) bool // dropped by the coordinator
		worker func(string, wire.Message) bool // dropped by worker w1
	}{
		{name: "assign-rank0", coord: isAssignTo(0)},
		{name: "assign-rank1", coord: isAssignTo(1)},
		{name: "ready-w1", worker: isReady},
		{name: "start", coord: isCmd(wire.CmdStart)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, smallJob("hs", 30, 10))
			cc := c.coordConfig(2)
			var d dropOnce
			if tc.coord != nil {
				d.match = tc.coord
				cc = cc.WithFaults(&coordinator.Faults{Publish: d.publish})
			}
			c.worker("w0", nil)
			var wf *worker.Faults
			if tc.worker != nil {
				d.match = tc.worker
				wf = &worker.Faults{Publish: d.publish}
			}
			c.worker("w1", wf)
			t0 := time.Now()
			res, err := c.run(cc)
			if err != nil {
				t.Fatalf("the job failed: %v", err)
			}
			if !d.dropped.Load() {
				t.Fatal("the fault was never injected")
			}
			j := res.Job
			if j.Phase != "done" || j.Generation != 1 || j.Restarts != 0 || j.Step != 30 {
				t.Fatalf("job %s at step %d in generation %d with %d restarts (want done at 30 in generation 1, no restart)",
					j.Phase, j.Step, j.Generation, j.Restarts)
			}
			t.Logf("done in %v", time.Since(t0).Round(time.Millisecond))
		})
	}
}

// TestHandshakeSurvivesALeaderChange kills the raft leader between each
// pair of handshake steps (the leader's messages after that point are
// lost with it): after the ring was recorded but before any assignment
// went out, after the assignments but before a Ready was recorded, after
// every rank was ready but before the start, and just after the start.
// The new leader must carry the handshake through from the replicated
// record: the job completes in ring generation 1.
func TestHandshakeSurvivesALeaderChange(t *testing.T) {
	for _, tc := range []struct {
		name    string
		publish func(string, wire.Message) (trigger, drop bool)
		apply   func(coordinator.Op) (trigger bool)
	}{
		{name: "before-assign", publish: func(_ string, m wire.Message) (bool, bool) {
			_, ok := m.(*wire.Assign)
			return ok, ok
		}},
		{name: "before-ready", apply: func(op coordinator.Op) bool { return op.Kind == "ready" }},
		{name: "before-start", publish: func(_ string, m wire.Message) (bool, bool) {
			c, ok := m.(*wire.Command)
			ok = ok && c.Kind == wire.CmdStart
			return ok, ok
		}},
		{name: "after-start", publish: func(_ string, m wire.Message) (bool, bool) {
			c, ok := m.(*wire.Command)
			return ok && c.Kind == wire.CmdStart, false
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			steps := 60
			c := newCluster(t, smallJob("hsl", steps, 20))
			var (
				fired  atomic.Int32 // 1 + the index of the coordinator that died
				killed = make(chan int, 1)
			)
			fire := func(i int) {
				if fired.CompareAndSwap(0, int32(i+1)) {
					killed <- i
				}
			}
			dead := func(i int) bool { return fired.Load() == int32(i+1) }
			results := c.raft(2, func(i int, cc *coordinator.Config) {
				*cc = cc.WithFaults(&coordinator.Faults{
					Publish: func(subject string, m wire.Message) bool {
						if dead(i) {
							return true
						}
						if tc.publish != nil && fired.Load() == 0 {
							if trigger, drop := tc.publish(subject, m); trigger {
								fire(i)
								return drop
							}
						}
						return false
					},
					Apply: func(op coordinator.Op) error {
						if dead(i) {
							return &coordinator.NotLeaderError{}
						}
						if tc.apply != nil && fired.Load() == 0 && tc.apply(op) {
							fire(i)
							return &coordinator.NotLeaderError{}
						}
						return nil
					},
				})
			})
			c.worker("w0", nil)
			c.worker("w1", nil)
			var i int
			select {
			case i = <-killed:
			case <-c.ctx.Done():
				t.Fatal("the handshake never reached the fault")
			}
			t0 := time.Now()
			c.kill(i)
			select {
			case res := <-results:
				j := res.Job
				if j.Phase != "done" || j.Generation != 1 || j.Step != steps {
					t.Fatalf("job %s at step %d in generation %d (want done at %d in generation 1)", j.Phase, j.Step, j.Generation, steps)
				}
				t.Logf("c%d killed; job done %v later", i+1, time.Since(t0).Round(time.Millisecond))
			case <-c.ctx.Done():
				j, _ := c.job()
				t.Fatalf("the job did not complete after the leader died: %s at step %d, generation %d, ready %v",
					j.Phase, j.Step, j.Generation, j.Ready)
			}
		})
	}
}
