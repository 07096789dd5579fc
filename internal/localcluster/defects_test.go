package localcluster

// Regression tests of the protocol defects reproduced against the old
// protocol on branch old-repro (REPRO.md there): defects 3 to 8 and 10.
// Defects 1 and 2 are covered by handshake_test.go, defect 9 by
// worker/shards_test.go (TestRingOfFourGoesOnWithThree).

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/levy-ml/levy/checkpoint"
	"github.com/levy-ml/levy/coordinator"
	"github.com/levy-ml/levy/engine"
	"github.com/levy-ml/levy/internal/wire"
	"github.com/levy-ml/levy/worker"
)

// hangEngine runs hang before the at-th Backward call (to hang or kill
// the worker there).
type hangEngine struct {
	engine.Engine
	calls atomic.Int64
	at    int64
	hang  func()
}

func (e *hangEngine) Backward(step engine.Step, b engine.Batch, ready func(int)) (float64, error) {
	if e.calls.Add(1) == e.at {
		e.hang()
	}
	return e.Engine.Backward(step, b, ready)
}

// killAt makes a worker die as a whole at its at-th step: its connection
// closes (no heartbeat, no chunk, no report) and its training blocks until
// the test ends. conn must be set (by a tweak of cluster.worker) before
// the worker trains; died receives the time of death.
func killAt(t *testing.T, at int64, conn **nats.Conn, died chan<- time.Time) *worker.Faults {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // runs before the cluster's cleanup waits for the workers
	return &worker.Faults{Engine: func(_ int, e engine.Engine) engine.Engine {
		return &hangEngine{Engine: e, at: at, hang: func() {
			(*conn).Close()
			died <- time.Now()
			<-release
		}}
	}}
}

// outcome is what a coordinator's Run returned.
type outcome struct {
	res *coordinator.Result
	err error
}

// start runs a coordinator (made on the test goroutine) in the background.
func (c *cluster) start(cc coordinator.Config) <-chan outcome {
	s, err := coordinator.NewJobRunner(cc)
	if err != nil {
		c.t.Fatal(err)
	}
	ch := make(chan outcome, 1)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		res, err := s.Run(c.ctx)
		ch <- outcome{res, err}
	}()
	return ch
}

// wait returns the coordinator's outcome, failing the test after d.
func (c *cluster) wait(ch <-chan outcome, d time.Duration) outcome {
	c.t.Helper()
	d = raceWait(d)
	select {
	case o := <-ch:
		return o
	case <-time.After(d):
		c.t.Fatalf("the coordinator did not return within %v", d)
		return outcome{}
	}
}

// subscribe calls fn for every message on subject (from NATS's goroutine).
func (c *cluster) subscribe(subject string, fn func(m *nats.Msg)) {
	c.t.Helper()
	nc := c.conn()
	if _, err := nc.Subscribe(subject, fn); err != nil {
		c.t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		c.t.Fatal(err)
	}
}

// seen is a log of the messages a test watched, with their arrival times.
type seen[T any] struct {
	mu   sync.Mutex
	msgs []T
	at   []time.Time
}

func (s *seen[T]) add(m T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs, s.at = append(s.msgs, m), append(s.at, time.Now())
}

// find returns the first message that ok accepts, and when it came.
func (s *seen[T]) find(ok func(T) bool) (T, time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, m := range s.msgs {
		if ok(m) {
			return m, s.at[i], true
		}
	}
	var zero T
	return zero, time.Time{}, false
}

// last returns when the newest message came.
func (s *seen[T]) last() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.at) == 0 {
		return time.Time{}
	}
	return s.at[len(s.at)-1]
}

func (s *seen[T]) all() []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

// watch decodes every message on subject into a T (dropping those that do
// not decode) and logs it.
func watch[T any, PT interface {
	*T
	wire.Message
}](c *cluster, subject string) *seen[T] {
	s := &seen[T]{}
	c.subscribe(subject, func(m *nats.Msg) {
		var v T
		if wire.Decode(m.Data, PT(&v)) == nil {
			s.add(v)
		}
	})
	return s
}

func (c *cluster) watchCtl() *seen[wire.Command] {
	return watch[wire.Command](c, wire.ControlSubject(c.spec.Name))
}

func isKind(kind string, gen uint64) func(wire.Command) bool {
	return func(m wire.Command) bool { return m.Kind == kind && (gen == 0 || m.Generation == gen) }
}

// until polls ok every 20 ms, failing the test after d.
func until(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	d = raceWait(d)
	for deadline := time.Now().Add(d); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
	}
}

// forge publishes v, marshalled as it is (not validated, as a forger's
// message would not be), with the protocol's version.
func forge(t *testing.T, nc *nats.Conn, subject string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish(subject, b); err != nil {
		t.Fatal(err)
	}
}

// single starts a one-node raft group and waits until it leads.
func (c *cluster) single() *coordinator.Node {
	c.t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	nd, err := coordinator.NewNode(coordinator.NodeConfig{ID: "c1", Bind: addr, Peers: []coordinator.Peer{{ID: "c1", Addr: addr}},
		DataDir: c.t.TempDir(), Fast: true})
	if err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.nodes = append(c.nodes, nd)
	c.mu.Unlock()
	until(c.t, 10*time.Second, "the one-node raft group to elect its leader", nd.IsLeader)
	return nd
}

// service runs a coordinator.Service on a one-node raft group.
func (c *cluster) service(workers int, tweak func(*coordinator.Config)) {
	c.t.Helper()
	cc := c.coordConfig(workers)
	cc.Raft = c.single()
	if tweak != nil {
		tweak(&cc)
	}
	sv, err := coordinator.NewService(cc)
	if err != nil {
		c.t.Fatal(err)
	}
	c.wg.Add(1)
	go func() { defer c.wg.Done(); sv.Run(c.ctx) }()
}

// request sends one API request and returns the reply.
func (c *cluster) request(nc *nats.Conn, subject string, req wire.Message) (wire.Reply, error) {
	b, err := wire.Encode(req)
	if err != nil {
		c.t.Fatal(err)
	}
	m, err := nc.Request(subject, b, 5*time.Second)
	if err != nil {
		return wire.Reply{}, err
	}
	var r wire.Reply
	return r, wire.Decode(m.Data, &r)
}

// api sends an API request until the leader accepts it (it subscribes a
// moment after it is elected).
func (c *cluster) api(nc *nats.Conn, subject string, req wire.Message) {
	c.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		r, err := c.request(nc, subject, req)
		if err == nil && r.OK {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: %v %+v", subject, err, r)
		}
	}
}

// TestServiceCancelIsRaceFree cancels a job of a coordinator.Service (one
// raft node) through levy.api.cancel while the job waits for workers,
// while it runs, and just after its only worker's connection dropped:
// the job ends stopped (failed when its worker died), and under -race
// nothing is reported.
//
// Defect 3. On the old protocol TestReproServiceCancelRace (-race) showed
// the job loop reading the FSM's job record without the FSM's lock while
// raft's FSM goroutine applied the cancel: DATA RACE State.Apply
// (state.go:189/191) vs Server.Run (server.go:579, 417, 391) in the
// waiting and running-worker-lost cases. Each case runs one worker (two
// in-process workers add gorgonia's own graph-building race under -race).
func TestServiceCancelIsRaceFree(t *testing.T) {
	for _, when := range []string{"waiting", "running", "running-worker-lost"} {
		t.Run(when, func(t *testing.T) {
			c := newCluster(t, smallJob("cancel-"+when, 2000, 500))
			want := 1
			if when == "waiting" {
				want = 2
			}
			c.service(want, func(cc *coordinator.Config) { cc.DeadAfter = time.Second })
			var wconn *nats.Conn
			c.worker("w0", nil, func(wc *worker.Config) {
				wconn = wc.NATS
				if when == "waiting" {
					// A heartbeat handled after the cancel would order the
					// loop's reads after the FSM's write and hide a race.
					wc.HeartbeatEvery = 10 * time.Second
				}
			})
			nc := c.conn()
			c.api(nc, wire.SubmitSubject, &wire.Submit{Spec: string(c.spec.JSON())})
			if when == "waiting" {
				until(t, time.Minute, "a member", func() bool {
					j, _ := c.job()
					return j.Phase == "waiting" && len(j.Members) == 1
				})
			} else {
				until(t, time.Minute, "the ring to train", func() bool {
					j, _ := c.job()
					return j.Phase == "running" && j.Step > 0
				})
			}
			if when == "running-worker-lost" {
				wconn.Close()
				time.Sleep(100 * time.Millisecond)
			}
			t0 := time.Now()
			c.api(nc, wire.CancelSubject, &wire.Query{Job: c.spec.Name})
			until(t, time.Minute, "the job to end", func() bool {
				j, _ := c.job()
				return j.Finished()
			})
			took := time.Since(t0)
			time.Sleep(300 * time.Millisecond) // the loop's last reads
			j, _ := c.job()
			t.Logf("cancelled while %s: the job is %s at step %d (checkpoint step %d) %v later; %s", when, j.Phase, j.Step, j.LatestStep,
				took.Round(time.Millisecond), j.Error)
			switch {
			case !j.StopAsked:
				t.Errorf("the record does not say a stop was asked")
			case when == "running-worker-lost" && j.Phase != "failed" && j.Phase != "stopped":
				t.Errorf("job %s, want stopped or failed", j.Phase)
			case when == "running" && (j.Phase != "stopped" || j.LatestStep != j.Step || j.Step == 0):
				t.Errorf("job %s at step %d, newest checkpoint at step %d: want stopped with a checkpoint of its last step", j.Phase, j.Step, j.LatestStep)
			case when == "waiting" && j.Phase != "stopped":
				t.Errorf("job %s, want stopped", j.Phase)
			}
		})
	}
}

// TestStaleTermCommandsAreIgnored publishes, a few steps into a 2-worker
// ring, a Stop or an Abort on the job's control subject with a raft term
// lower than the one of the coordinator that started the ring (0 when it
// runs alone, in term 1; the leader's term − 1 for a raft group): both
// workers drop it (and log it), and the job completes in generation 1
// without a restart.
//
// Defect 4. On the old protocol TestReproUnfencedCommandIsObeyed showed
// the workers obeying such commands: a forged stop stopped the job at
// step 12/200, a forged abort made generation 2 (restarts 1).
func TestStaleTermCommandsAreIgnored(t *testing.T) {
	for _, tc := range []struct {
		kind string
		raft bool
	}{{wire.CmdStop, false}, {wire.CmdAbort, false}, {wire.CmdStop, true}, {wire.CmdAbort, true}} {
		name := tc.kind
		if tc.raft {
			name += "-raft"
		}
		t.Run(name, func(t *testing.T) {
			steps := raceSteps(200)
			c := newCluster(t, smallJob("fence-"+name, steps, raceSteps(50)))
			ctl := c.watchCtl()
			progress := watch[wire.Progress](c, wire.MemberSubject(c.spec.Name, wire.ReportProgress, "*"))
			var res <-chan outcome
			var results <-chan *coordinator.Result
			if tc.raft {
				results = c.raft(2, nil)
			} else {
				res = c.start(c.coordConfig(2))
			}
			core, logs := observer.New(zap.WarnLevel)
			for _, id := range []string{"w0", "w1"} {
				c.worker(id, nil, func(wc *worker.Config) { wc.Log = zap.New(core) })
			}
			var start wire.Command
			until(t, time.Minute, "the start", func() bool {
				var ok bool
				start, _, ok = ctl.find(isKind(wire.CmdStart, 1))
				return ok
			})
			time.Sleep(300 * time.Millisecond)
			forged := wire.Command{V: wire.Version, Term: start.Term - 1, Coordinator: start.Coordinator, Job: c.spec.Name,
				Kind: tc.kind, Generation: 1}
			nc := c.conn()
			forge(t, nc, wire.ControlSubject(c.spec.Name), &forged)
			nc.Flush()
			forgedAt := time.Now()
			var j coordinator.Job
			if tc.raft {
				select {
				case r := <-results:
					j = r.Job
				case <-time.After(raceWait(time.Minute)):
					t.Fatal("the job did not end within a minute")
				}
			} else {
				o := c.wait(res, time.Minute)
				if o.err != nil {
					t.Fatalf("the job ended with %v", o.err)
				}
				j = o.res.Job
			}
			_, last, _ := progress.find(func(p wire.Progress) bool { return p.Step == steps })
			t.Logf("%s of term %d (the ring's start: term %d): job %s at step %d, generation %d, restarts %d; it trained on for %v",
				tc.kind, forged.Term, start.Term, j.Phase, j.Step, j.Generation, j.Restarts, last.Sub(forgedAt).Round(time.Millisecond))
			if j.Phase != "done" || j.Step != steps || j.Generation != 1 || j.Restarts != 0 || j.StopAsked {
				t.Fatalf("after a %s of a stale term: job %s at step %d/%d, generation %d, restarts %d, stop asked %v, failures %q",
					tc.kind, j.Phase, j.Step, steps, j.Generation, j.Restarts, j.StopAsked, j.Failures)
			}
			if !last.After(forgedAt) {
				t.Fatalf("the ring had finished before the forged %s: not a test", tc.kind)
			}
			ignored := 0
			for _, e := range logs.FilterMessage("ignoring a command from a deposed leader").All() {
				if e.ContextMap()["kind"] == tc.kind {
					ignored++
				}
			}
			if ignored != 2 {
				t.Errorf("%d of the 2 workers logged that they ignored the %s of term %d", ignored, tc.kind, forged.Term)
			}
			if _, _, ok := ctl.find(isKind(wire.CmdAbort, 0)); ok != (tc.kind == wire.CmdAbort) {
				t.Fatalf("an abort other than the forged one was published")
			}
		})
	}
}

// TestUnrecordedRegroupSendsNoAbort kills one of two workers while the
// coordinator cannot record anything that regroups the ring (Apply of
// OpRegroup fails, as while raft cannot commit): the coordinator must not
// abort the ring it has not recorded as failed. Once applies work again,
// it aborts and re-forms the ring, and the job completes.
//
// Defect 4 (second form: a command must follow from a recorded decision).
// No old test reproduced it; the old fail() (server.go:394–396 on
// old-repro) ignored the apply's error and published the Abort anyway.
func TestUnrecordedRegroupSendsNoAbort(t *testing.T) {
	steps := raceSteps(200)
	c := newCluster(t, smallJob("no-abort", steps, 20))
	var failing atomic.Bool
	failing.Store(true)
	var refused atomic.Int32
	cc := c.coordConfig(2)
	cc.DeadAfter = time.Second
	cc = cc.WithFaults(&coordinator.Faults{Apply: func(op coordinator.Op) error {
		if op.Kind == "regroup" && failing.Load() {
			refused.Add(1)
			return errors.New("injected: the regroup cannot be committed")
		}
		return nil
	}})
	ctl := c.watchCtl()
	died := make(chan time.Time, 1)
	var conn1 *nats.Conn
	c.worker("w0", nil)
	c.worker("w1", killAt(t, 25, &conn1, died), func(wc *worker.Config) { conn1 = wc.NATS })
	res := c.start(cc)
	var diedAt time.Time
	select {
	case diedAt = <-died:
	case <-time.After(raceWait(time.Minute)):
		t.Fatal("w1 never reached step 25")
	}
	until(t, 10*time.Second, "the coordinator to notice the death", func() bool { return refused.Load() > 0 })
	noticed := time.Since(diedAt)
	time.Sleep(2 * time.Second)
	n := refused.Load()
	if _, _, ok := ctl.find(isKind(wire.CmdAbort, 0)); ok {
		t.Fatalf("an abort was published although the regroup was not recorded (%d refused)", n)
	}
	t.Logf("w1 died; noticed %v later; %d regroups refused over the next 2 s, no abort", noticed.Round(time.Millisecond), n)
	failing.Store(false)
	enabled := time.Now()
	o := c.wait(res, time.Minute)
	if o.err != nil {
		t.Fatalf("the job ended with %v", o.err)
	}
	_, abortAt, ok := ctl.find(isKind(wire.CmdAbort, 1))
	if !ok {
		t.Fatal("no abort of generation 1 after the regroup could be recorded")
	}
	j := o.res.Job
	t.Logf("abort %v after applies work again; job %s in generation %d, restarts %d: %q", abortAt.Sub(enabled).Round(time.Millisecond),
		j.Phase, j.Generation, j.Restarts, j.Failures)
	if j.Phase != "done" || j.Restarts != 1 || j.Generation != 2 || j.Step != steps {
		t.Fatalf("job %s at step %d, generation %d, restarts %d", j.Phase, j.Step, j.Generation, j.Restarts)
	}
}

// TestStalledLoopKeepsLiveWorkers stalls the job loop for 3 s in the
// middle of a 2-worker job, with DeadAfter 1 s and workers heartbeating
// every 200 ms: their heartbeats are stamped on arrival, not when the
// loop gets to them, so nobody is declared dead (no restart).
//
// Defect 5. On the old protocol TestReproStalledLoopKillsLiveWorkers (4
// raft applies of 3 s) failed in 5 of 5 runs: restarts 1 ("worker w0: no
// heartbeat for 1s").
func TestStalledLoopKeepsLiveWorkers(t *testing.T) {
	steps := raceSteps(400)
	c := newCluster(t, smallJob("stall", steps, raceSteps(100)))
	cc := c.coordConfig(2)
	cc.DeadAfter = time.Second
	ctl := c.watchCtl()
	progress := watch[wire.Progress](c, wire.MemberSubject(c.spec.Name, wire.ReportProgress, "*"))
	var (
		once    sync.Once
		stallTo atomic.Int64 // unix ns
	)
	cc = cc.WithFaults(&coordinator.Faults{Stall: func() {
		_, startAt, ok := ctl.find(isKind(wire.CmdStart, 1))
		if !ok || time.Since(startAt) < 500*time.Millisecond {
			return
		}
		once.Do(func() {
			time.Sleep(3 * time.Second)
			stallTo.Store(time.Now().UnixNano())
		})
	}})
	c.worker("w0", nil)
	c.worker("w1", nil)
	o := c.wait(c.start(cc), 2*time.Minute)
	if stallTo.Load() == 0 {
		t.Fatal("the loop never stalled")
	}
	ended := time.Unix(0, stallTo.Load())
	_, lastAt, _ := progress.find(func(p wire.Progress) bool { return p.Step == steps })
	j := o.res.Job
	t.Logf("a 3 s stall ending %v before the ring's last step; job %s at step %d, generation %d, restarts %d, failures %q",
		lastAt.Sub(ended).Round(time.Millisecond), j.Phase, j.Step, j.Generation, j.Restarts, j.Failures)
	if !lastAt.After(ended) {
		t.Fatalf("the ring finished during the stall: not a test")
	}
	if o.err != nil || j.Phase != "done" || j.Restarts != 0 || j.Generation != 1 || j.Step != steps {
		t.Fatalf("the loop stalled 3 s (DeadAfter 1 s, heartbeats every 200 ms): job %s at step %d, generation %d, restarts %d, failures %q: %v",
			j.Phase, j.Step, j.Generation, j.Restarts, j.Failures, o.err)
	}
}

// TestDoneIsReportedUntilACoordinatorHearsIt loses the quorum of three
// raft coordinators (the leader and a follower die) while a 2-worker job
// trains; the workers finish it with nobody listening, and keep reporting
// their Done. 20 s after their first report a coordinator comes back: the
// group records the job done at its final step, and the workers stop
// reporting (their Run returns) once the new leader has ended the job.
//
// Defect 6. On the old protocol TestReproDoneReportIsAbandoned showed
// reportDone giving up after 15.1 s (doneRetry 15 s): a coordinator back
// at 17 s heard nothing. On the rewrite this test found the workers
// reporting for ever: the new leader found the final checkpoint on
// storage, finished the job (OpFinish) and ended it (CmdEnd) without
// answering a report, and reportDone, no longer subscribed to the control
// subject, missed the end; it now listens for it.
func TestDoneIsReportedUntilACoordinatorHearsIt(t *testing.T) {
	steps := raceSteps(300)
	c := newCluster(t, smallJob("outage", steps, raceSteps(100)))
	results := c.raft(2, nil)
	dones := watch[wire.Done](c, wire.MemberSubject(c.spec.Name, wire.ReportDone, "*"))
	_, w0 := c.worker("w0", nil)
	_, w1 := c.worker("w1", nil)
	until(t, time.Minute, "the ring to train", func() bool {
		j, _ := c.job()
		return j.Phase == "running" && j.Step > 0
	})
	l := c.leader()
	f := (l + 1) % 3
	c.kill(l)
	c.kill(f)
	j, _ := c.job()
	t.Logf("c%d (leader) and c%d killed at step %d: no quorum", l+1, f+1, j.Step)
	var first time.Time
	until(t, time.Minute, "the workers' Done", func() bool {
		_, at, ok := dones.find(func(wire.Done) bool { return true })
		first = at
		return ok
	})
	const outage = 20 * time.Second
	time.Sleep(time.Until(first.Add(outage)))
	select {
	case err := <-w0:
		t.Fatalf("w0 stopped reporting its Done while no coordinator led: %v", err)
	case err := <-w1:
		t.Fatalf("w1 stopped reporting its Done while no coordinator led: %v", err)
	default:
	}
	var late int
	for _, d := range dones.all() {
		if d.Step == steps && d.Error == "" {
			late++
		}
	}
	lastAt := dones.last()
	t.Logf("%d Done reports (step %d) in %v, the last %v after the first", late, steps, outage, lastAt.Sub(first).Round(time.Millisecond))
	if lastAt.Sub(first) < 15*time.Second {
		t.Fatalf("the workers stopped reporting %v after their first Done", lastAt.Sub(first).Round(time.Millisecond))
	}
	back := time.Now()
	restarted := make(chan *coordinator.Result, 1)
	c.startNode(f, 2, nil, restarted)
	var res *coordinator.Result
	select {
	case res = <-results:
	case res = <-restarted:
	case <-time.After(raceWait(time.Minute)):
	}
	if res != nil {
		j := res.Job
		t.Logf("c%d back: job %s at step %d (checkpoint step %d) %v later", f+1, j.Phase, j.Step, j.LatestStep, time.Since(back).Round(time.Millisecond))
		if j.Phase != "done" || j.Step != steps || j.LatestStep != steps || j.Generation != 1 {
			t.Fatalf("job %s at step %d, checkpoint step %d, generation %d: want done at step %d in generation 1", j.Phase, j.Step, j.LatestStep, j.Generation, steps)
		}
	} else {
		t.Fatal("no coordinator finished the job within a minute of the quorum's return")
	}
	for i, ch := range []<-chan error{w0, w1} {
		select {
		case err := <-ch:
			if err != nil {
				t.Errorf("w%d: %v", i, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("w%d is still reporting its Done 20 s after the quorum came back and the job was recorded done", i)
		}
	}
	t.Logf("both workers stopped reporting %v after the quorum came back", time.Since(back).Round(time.Millisecond))
}

// TestForgedReportsChangeNothing publishes, once rank 0 announced its
// first checkpoint, forged checkpoint announcements, Done reports and
// progress reports: as a worker ID that is not a member, as a member's
// ID with another process's incarnation, in another generation or rank,
// with a subject that names someone else, and, with rank 0's real
// incarnation, checkpoints outside the run or that do not verify. Every
// one is dropped (the coordinator logs each), no op carries anything
// forged, the job completes normally in generation 1, and the run's
// checkpoints are exactly the job's own.
//
// Defect 7. On the old protocol TestReproForgedMessagesChangeTheState
// showed a forged {step 99999, dir "/etc"} adopted (Latest "/etc"), a
// forged Done failing the job ("rank 0 at step 1: forged"), and a forged
// progress report making the 200-step job say step 2999.
func TestForgedReportsChangeNothing(t *testing.T) {
	steps, every := raceSteps(200), 20
	const (
		forgedStep = 99999
		forgedLoss = 12345.0 // marks forged progress in the ops
		wrongInc   = "f0f0f0f0f0f0f0f0"
		intruder   = "intruder"
	)
	c := newCluster(t, smallJob("forged", steps, every))
	job := c.spec.Name
	cc := c.coordConfig(2)
	core, logs := observer.New(zap.WarnLevel)
	cc.Log = zap.New(core)
	var ops seen[coordinator.Op]
	cc = cc.WithFaults(&coordinator.Faults{Apply: func(op coordinator.Op) error { ops.add(op); return nil }})
	assigns := watch[wire.Assign](c, wire.AssignSubject("*"))
	ckpts := watch[wire.Checkpoint](c, wire.MemberSubject(job, wire.ReportCkpt, "*"))
	c.worker("w0", nil)
	c.worker("w1", nil)
	res := c.start(cc)
	var first wire.Checkpoint
	until(t, time.Minute, "rank 0's first checkpoint", func() bool {
		var ok bool
		first, _, ok = ckpts.find(func(wire.Checkpoint) bool { return true })
		return ok
	})
	incs := map[int]string{}
	var ring []string
	for _, a := range assigns.all() {
		if a.Generation == 1 {
			incs[a.Rank], ring = a.Incarnation, a.Ring
		}
	}
	if len(incs) != 2 {
		t.Fatalf("the assignments of generation 1: %+v", assigns.all())
	}
	r0 := wire.Sender{Worker: ring[0], Incarnation: incs[0]}
	r1 := wire.Sender{Worker: ring[1], Incarnation: incs[1]}
	fake := wire.Sender{Worker: intruder, Incarnation: wrongInc}
	r0wrong := wire.Sender{Worker: r0.Worker, Incarnation: wrongInc}
	r1wrong := wire.Sender{Worker: r1.Worker, Incarnation: wrongInc}
	ckpt := func(s wire.Sender, dir string) *wire.Checkpoint {
		return &wire.Checkpoint{V: wire.Version, Sender: s, Job: job, Generation: 1, Step: forgedStep, Dir: dir, RunDir: first.RunDir}
	}
	done := func(s wire.Sender, gen uint64, rank int) *wire.Done {
		return &wire.Done{V: wire.Version, Sender: s, Job: job, Generation: gen, Rank: rank, Step: 1, Error: "forged"}
	}
	progress := func(s wire.Sender, step, total int) *wire.Progress {
		return &wire.Progress{V: wire.Version, Sender: s, Job: job, Generation: 1, Step: step, Total: total, Loss: forgedLoss, StepsPerSec: 1}
	}
	nowhere := "checkpoints/step-00099999"
	outside := ckpt(r0, "/etc")
	outside.RunDir = "/etc"
	forgeries := []struct {
		what, sender string
		msg          any
	}{
		{wire.ReportCkpt, r0.Worker, ckpt(r0, "/etc")},                  // refused by the wire: not a relative path
		{wire.ReportCkpt, r0.Worker, outside},                           // idem, in another run directory
		{wire.ReportCkpt, r0.Worker, ckpt(r0, "../../../etc")},          // idem
		{wire.ReportCkpt, intruder, ckpt(fake, nowhere)},                // not a member
		{wire.ReportCkpt, r0.Worker, ckpt(r0wrong, nowhere)},            // rank 0's ID, another process
		{wire.ReportCkpt, r1.Worker, ckpt(r1, first.Dir)},               // rank 1 (not rank 0), its real incarnation
		{wire.ReportCkpt, intruder, ckpt(r0, first.Dir)},                // rank 0 in the message, another sender in the subject
		{wire.ReportCkpt, r0.Worker, ckpt(r0, nowhere)},                 // rank 0 itself: a directory that does not exist
		{wire.ReportCkpt, r0.Worker, ckpt(r0, first.Dir)},               // rank 0 itself: a real checkpoint, of another step
		{wire.ReportCkpt, r0.Worker, ckpt(r0, "job.json")},              // rank 0 itself: not under checkpoints/
		{wire.ReportDone, intruder, done(fake, 1, 0)},                   // not a member
		{wire.ReportDone, r1.Worker, done(r1wrong, 1, 1)},               // rank 1's ID, another process
		{wire.ReportDone, r1.Worker, done(r1, 2, 1)},                    // rank 1, a generation that does not exist
		{wire.ReportDone, r1.Worker, done(r1, 1, 0)},                    // rank 1 claiming rank 0
		{wire.ReportDone, intruder, done(r1, 1, 1)},                     // rank 1 in the message, another sender in the subject
		{wire.ReportProgress, r1.Worker, progress(r1, 2999, 3000)},      // rank 1 (not rank 0)
		{wire.ReportProgress, r0.Worker, progress(r0wrong, 2999, 3000)}, // rank 0's ID, another process
		{wire.ReportProgress, r1.Worker, progress(r1, steps, steps)},    // rank 1, the job's length
		{wire.ReportProgress, r0.Worker, progress(r0wrong, steps, steps)},
		{wire.ReportProgress, intruder, progress(fake, steps, steps)},
	}
	nc := c.conn()
	for _, f := range forgeries {
		forge(t, nc, wire.MemberSubject(job, f.what, f.sender), f.msg)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d forged messages published after rank 0's checkpoint of step %d (%s)", len(forgeries), first.Step, first.Dir)
	o := c.wait(res, time.Minute)
	if o.err != nil {
		t.Fatalf("the job ended with %v", o.err)
	}
	drops := 0
	for _, e := range logs.All() {
		if strings.HasPrefix(e.Message, "dropping") || strings.HasPrefix(e.Message, "refusing the checkpoint") {
			drops++
		}
	}
	for _, op := range ops.all() {
		if op.Step == forgedStep || op.Loss == forgedLoss || op.Error != "" || op.Kind == "regroup" ||
			(op.Kind == "progress" && op.Step > steps) ||
			(op.Kind == "checkpoint" && op.Dir != fmt.Sprintf("checkpoints/step-%08d", op.Step)) {
			t.Errorf("an op carries a forgery: %+v", op)
		}
	}
	rj := o.res.Job
	t.Logf("%d of the %d forgeries dropped with a warning; job %s at step %d, newest checkpoint %s (step %d), generation %d, restarts %d, error %q",
		drops, len(forgeries), rj.Phase, rj.Step, rj.Latest, rj.LatestStep, rj.Generation, rj.Restarts, rj.Error)
	if drops < len(forgeries) {
		t.Errorf("%d warnings of dropped reports for %d forgeries: %v", drops, len(forgeries), logs.All())
	}
	if rj.Phase != "done" || rj.Step != steps || rj.Latest != fmt.Sprintf("checkpoints/step-%08d", steps) ||
		rj.LatestStep != steps || rj.Generation != 1 || rj.Restarts != 0 || rj.Error != "" || rj.Loss == forgedLoss {
		t.Errorf("the job's record after the forgeries: %+v", rj)
	}
	entries, err := os.ReadDir(filepath.Join(o.res.RunDir, "checkpoints"))
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	for s := every; s <= steps; s += every {
		want = append(want, fmt.Sprintf("step-%08d", s))
		if m, err := checkpoint.Verify(filepath.Join(o.res.RunDir, "checkpoints", fmt.Sprintf("step-%08d", s))); err != nil || m.Step != int64(s) {
			t.Errorf("checkpoint of step %d: %v", s, err)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("the run's checkpoints directory holds %v, want exactly %v", got, want)
	}
}

// TestDuplicateIDCannotHideAHungMember kills a member of a 2-worker ring
// as a whole at its step 25 (connection closed, training blocked), and
// starts at once a second process with its ID. The second process is
// refused while the first one's heartbeats are fresh ("already used by a
// live process"), its own heartbeats do not keep the dead member alive
// (the ring is aborted within about DeadAfter = 1 s, not at the workers'
// 30 s ring timeout), and then either it gives up with ErrDuplicateID
// (DuplicateGrace 300 ms, shorter than DeadAfter) and the ring goes on
// without it, or (DuplicateGrace 10 s) it joins the next generation in
// the dead process's place. No ring generation ever holds two processes
// of one ID.
//
// Defect 8. On the old protocol TestReproDuplicateIDHidesAHungWorker
// showed the ring aborted 8.0 s after the hang (its ring timeout) instead
// of ≈1 s, and the duplicate's join answered "still in ring generation 1"
// with no word of a duplicate.
func TestDuplicateIDCannotHideAHungMember(t *testing.T) {
	for _, tc := range []struct {
		name  string
		grace time.Duration
	}{{"gives-up", 300 * time.Millisecond}, {"takes-over", 10 * time.Second}} {
		t.Run(tc.name, func(t *testing.T) {
			steps := raceSteps(200) // w1 dies at its step 25
			c := newCluster(t, smallJob("dup-"+tc.name, steps, 20))
			cc := c.coordConfig(2)
			cc.DeadAfter = time.Second
			ctl := c.watchCtl()
			assigns := watch[wire.Assign](c, wire.AssignSubject("*"))
			died := make(chan time.Time, 1)
			var conn1 *nats.Conn
			c.worker("w0", nil)
			c.worker("w1", killAt(t, 25, &conn1, died), func(wc *worker.Config) { conn1 = wc.NATS })
			res := c.start(cc)
			var hungAt time.Time
			select {
			case hungAt = <-died:
			case <-time.After(raceWait(time.Minute)):
				t.Fatal("w1 never reached step 25")
			}
			core, logs := observer.New(zap.InfoLevel)
			_, dup := c.worker("w1", nil, func(wc *worker.Config) {
				wc.DuplicateGrace, wc.Log = tc.grace, zap.New(core)
				wc.RingTimeout = 30 * time.Second
			})
			var abortAt time.Time
			until(t, 40*time.Second, "the abort of generation 1", func() bool {
				var ok bool
				_, abortAt, ok = ctl.find(isKind(wire.CmdAbort, 1))
				return ok
			})
			detected := abortAt.Sub(hungAt)
			var refusal string
			for _, e := range logs.All() {
				if e.Message == "refused" {
					refusal, _ = e.ContextMap()["reason"].(string)
					break
				}
			}
			t.Logf("w1 hung; the duplicate was refused: %q; generation 1 aborted %v after the hang", refusal, detected.Round(time.Millisecond))
			if !strings.Contains(refusal, "already used by a live process") {
				t.Errorf("the duplicate's refusals: %q, want one naming the duplicate ID", refusal)
			}
			if detected > 3*time.Second {
				t.Errorf("the ring was aborted %v after its member hung (DeadAfter 1 s, ring timeout 30 s)", detected.Round(time.Millisecond))
			}
			o := c.wait(res, time.Minute)
			if o.err != nil {
				t.Fatalf("the job ended with %v", o.err)
			}
			j := o.res.Job
			var dupErr error
			select {
			case dupErr = <-dup:
			case <-time.After(20 * time.Second):
				t.Fatal("the duplicate's Run did not return")
			}
			t.Logf("job %s at step %d, generation %d, members %v, restarts %d (%q); the duplicate's Run: %v",
				j.Phase, j.Step, j.Generation, j.Members, j.Restarts, j.Failures, dupErr)
			// Every generation has one process per ID, and the dead one
			// is in no generation after the first.
			incs := map[uint64]map[string]string{}
			for _, a := range assigns.all() {
				if incs[a.Generation] == nil {
					incs[a.Generation] = map[string]string{}
				}
				w := a.Ring[a.Rank]
				if old, ok := incs[a.Generation][w]; ok && old != a.Incarnation {
					t.Errorf("generation %d assigned %s to two processes: %s and %s", a.Generation, w, old, a.Incarnation)
				}
				incs[a.Generation][w] = a.Incarnation
			}
			hung := incs[1]["w1"]
			for gen, m := range incs {
				if gen > 1 && m["w1"] == hung {
					t.Errorf("the dead process of w1 is in generation %d", gen)
				}
			}
			if j.Phase != "done" || j.Step != steps || j.Generation != 2 || j.Restarts != 1 {
				t.Fatalf("job %s at step %d, generation %d, restarts %d: want done in generation 2 after one restart", j.Phase, j.Step, j.Generation, j.Restarts)
			}
			switch tc.name {
			case "gives-up":
				if !errors.Is(dupErr, worker.ErrDuplicateID) || !strings.Contains(dupErr.Error(), "already used by a live process") {
					t.Errorf("the duplicate's Run returned %v, want ErrDuplicateID", dupErr)
				}
				if !slices.Equal(j.Members, []string{"w0"}) {
					t.Errorf("generation 2's members %v, want [w0]", j.Members)
				}
			case "takes-over":
				if dupErr != nil {
					t.Errorf("the duplicate's Run returned %v", dupErr)
				}
				if len(j.Members) != 2 || !slices.Contains(j.Members, "w1") || incs[2]["w1"] == "" || j.Incarnations["w1"] != incs[2]["w1"] {
					t.Errorf("generation 2: members %v, incarnations %v (generation 1's w1: %s)", j.Members, incs[2], hung)
				}
			}
		})
	}
}

// TestAssignCarriesARelativeRunDir runs a 1-worker job with a relative
// runs directory ("runs", in the test's working directory) and a run
// directory inside it (runs/team/exp1): every Assign names the run
// directory relative to the runs root ("team/exp1"), and the worker
// writes its checkpoints there under its own runs root.
//
// Defect 10 (coordinator side). On the old protocol
// TestReproAssignCarriesTheCoordinatorsPath/coordinator showed RunsDir
// "runs" sent as the absolute run_dir "$TMP/001/runs/assign-path".
func TestAssignCarriesARelativeRunDir(t *testing.T) {
	t.Chdir(t.TempDir())
	c := newCluster(t, smallJob("relpath", 10, 10))
	assigns := watch[wire.Assign](c, wire.AssignSubject("*"))
	cc := c.coordConfig(1)
	cc.RunsDir, cc.RunDir = "runs", filepath.Join("runs", "team", "exp1")
	c.worker("w0", nil, func(wc *worker.Config) { wc.RunsRoot = "runs" })
	o := c.wait(c.start(cc), time.Minute)
	if o.err != nil {
		t.Fatal(o.err)
	}
	all := assigns.all()
	if len(all) == 0 {
		t.Fatal("no Assign seen")
	}
	want := filepath.Join("team", "exp1")
	for _, a := range all {
		if a.RunDir != want {
			t.Errorf("an Assign's run_dir is %q, want %q (relative to the runs root)", a.RunDir, want)
		}
	}
	if _, err := checkpoint.Verify(filepath.Join("runs", "team", "exp1", "checkpoints", "step-00000010")); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d Assigns, run_dir %q; the worker wrote runs/%s/checkpoints/step-00000010", len(all), all[0].RunDir, want)
}

// TestCoordinatorRefusesARunDirOutsideRunsDir: coordinator.NewJobRunner refuses
// a run directory that is not inside the runs directory (workers find a
// run under their own runs root, by its relative path) and creates
// nothing there; one inside is taken.
//
// Defect 10 (coordinator side, the rule that makes the relative path
// possible; see TestAssignCarriesARelativeRunDir).
func TestCoordinatorRefusesARunDirOutsideRunsDir(t *testing.T) {
	c := newCluster(t, smallJob("where", 10, 10))
	elsewhere := t.TempDir()
	for _, dir := range []string{
		filepath.Join(elsewhere, "run"),
		filepath.Join(c.runs, "..", filepath.Base(c.runs)+"-sibling"),
		filepath.Join(c.runs, "sub", "..", "..", "up"),
	} {
		cc := c.coordConfig(1)
		cc.RunDir = dir
		_, err := coordinator.NewJobRunner(cc)
		if err == nil || !strings.Contains(err.Error(), "not inside") {
			t.Errorf("RunDir %s (runs dir %s): %v, want a refusal", dir, c.runs, err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the refused run directory %s exists: %v", dir, err)
		}
	}
	cc := c.coordConfig(1)
	cc.RunDir = filepath.Join(c.runs, "team", "exp")
	if _, err := coordinator.NewJobRunner(cc); err != nil {
		t.Fatalf("a run directory inside the runs directory: %v", err)
	}
}

// TestWorkerRefusesAssignsOutsideItsRunsRoot has a fake coordinator
// (plain NATS: it accepts the join, starts the ring, acknowledges the
// Done) send a worker with runs root R assignments that name, with the
// worker's real incarnation taken from its heartbeats, an absolute run
// directory and "../escape": wire.Decode refuses both, and the worker
// writes nothing outside R. A third assignment with a relative run
// directory is trained, so the first two were refused for their paths
// alone.
//
// Defect 10 (worker side). On the old protocol
// TestReproAssignCarriesTheCoordinatorsPath/worker showed a forged Assign
// making a worker write 5 checkpoints in $TMP/not-a-runs-root/anywhere.
func TestWorkerRefusesAssignsOutsideItsRunsRoot(t *testing.T) {
	c := newCluster(t, smallJob("forged-assign", 5, 5))
	job := c.spec.Name
	parent := t.TempDir()
	root := filepath.Join(parent, "runs")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	elsewhere := t.TempDir()
	joined := make(chan struct{}, 1)
	finished := make(chan wire.Done, 1)
	reply, _ := wire.Encode(&wire.JoinReply{OK: true})
	start, _ := wire.Encode(&wire.Command{Term: 1, Coordinator: "fake", Job: job, Kind: wire.CmdStart, Generation: 1})
	fc := c.conn()
	c.subscribe(wire.JoinSubject("wx"), func(m *nats.Msg) {
		m.Respond(reply)
		select {
		case joined <- struct{}{}:
		default:
		}
	})
	c.subscribe(wire.MemberSubject(job, wire.ReportReady, "wx"), func(*nats.Msg) { fc.Publish(wire.ControlSubject(job), start) })
	c.subscribe(wire.MemberSubject(job, wire.ReportDone, "wx"), func(m *nats.Msg) {
		m.Respond([]byte("ok"))
		var d wire.Done
		if wire.Decode(m.Data, &d) == nil {
			select {
			case finished <- d:
			default:
			}
		}
	})
	beats := watch[wire.Heartbeat](c, wire.HeartbeatSubject("wx"))
	_, wdone := c.worker("wx", nil, func(wc *worker.Config) { wc.RunsRoot = root })
	select {
	case <-joined:
	case <-time.After(raceWait(time.Minute)):
		t.Fatal("the worker never joined")
	}
	var inc string
	until(t, 10*time.Second, "a heartbeat", func() bool {
		hb, _, ok := beats.find(func(wire.Heartbeat) bool { return true })
		inc = hb.Incarnation
		return ok
	})
	assign := func(runDir string) []byte {
		b, err := json.Marshal(&wire.Assign{V: wire.Version, Term: 1, Job: job, Spec: c.spec.JSON(), Rank: 0, World: 1,
			Ring: []string{"wx"}, Incarnation: inc, Generation: 1, RunDir: runDir})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	absolute := filepath.Join(elsewhere, "anywhere")
	for _, rd := range []string{absolute, "../escape", "ok/../../escape"} {
		b := assign(rd)
		if err := wire.Decode(b, &wire.Assign{}); !errors.Is(err, wire.ErrMessage) {
			t.Errorf("wire.Decode of an Assign with run_dir %q: %v, want a refusal", rd, err)
		}
		fc.Publish(wire.AssignSubject("wx"), b)
	}
	fc.Publish(wire.AssignSubject("wx"), assign(filepath.Join("inside", "run")))
	fc.Flush()
	select {
	case d := <-finished:
		if d.Error != "" || d.Step != 5 {
			t.Fatalf("the worker's job: step %d, error %q", d.Step, d.Error)
		}
	case <-time.After(raceWait(time.Minute)):
		t.Fatal("the worker never finished the job of the relative assignment")
	}
	select {
	case err := <-wdone:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the worker did not return after its job")
	}
	if _, err := checkpoint.Verify(filepath.Join(root, "inside", "run", "checkpoints", "step-00000005")); err != nil {
		t.Fatalf("the relative assignment's checkpoint: %v", err)
	}
	names := func(dir string) []string {
		es, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, e.Name())
		}
		return out
	}
	if got := names(parent); !slices.Equal(got, []string{"runs"}) {
		t.Errorf("beside the runs root: %v, want only runs", got)
	}
	if got := names(elsewhere); len(got) != 0 {
		t.Errorf("in the absolute run directory's parent: %v, want nothing", got)
	}
	if got := names(root); !slices.Equal(got, []string{"inside"}) {
		t.Errorf("in the runs root: %v, want only inside", got)
	}
	t.Logf("assignments to %s, ../escape and ok/../../escape refused; the one to inside/run trained 5 steps under the runs root", absolute)
}

// TestServiceResumeOnlyFromTheJobsCheckpoints stops a job of a
// coordinator.Service after its first checkpoints, then asks to resume it
// --from places outside the job's checkpoints directory: a valid copy of
// its own checkpoint elsewhere, a copy in its run directory but not under
// checkpoints/, paths with "..", the checkpoints directory itself, /etc.
// Each is refused; --from the job's own checkpoint is taken.
//
// Defect 10 (the API side of "a path from the wire names nothing
// outside the run"); no old test reproduced it.
func TestServiceResumeOnlyFromTheJobsCheckpoints(t *testing.T) {
	c := newCluster(t, smallJob("resume-from", 2000, 10))
	job := c.spec.Name
	c.service(1, nil)
	c.worker("w0", nil)
	nc := c.conn()
	c.api(nc, wire.SubmitSubject, &wire.Submit{Spec: string(c.spec.JSON())})
	until(t, time.Minute, "a checkpoint", func() bool {
		j, _ := c.job()
		return j.Phase == "running" && j.LatestStep >= 10
	})
	c.api(nc, wire.CancelSubject, &wire.Query{Job: job})
	until(t, time.Minute, "the stop", func() bool {
		j, _ := c.job()
		return j.Phase == "stopped"
	})
	j, _ := c.job()
	runDir := filepath.Join(c.runs, job)
	own := filepath.Join(runDir, j.Latest)
	outside := filepath.Join(t.TempDir(), filepath.Base(own))
	inRun := filepath.Join(runDir, "copy")
	for _, dst := range []string{outside, inRun} {
		if err := os.CopyFS(dst, os.DirFS(own)); err != nil {
			t.Fatal(err)
		}
		if _, err := checkpoint.Verify(dst); err != nil {
			t.Fatal(err)
		}
	}
	for _, from := range []string{outside, inRun, "copy", "checkpoints/../copy", filepath.Join("..", "..", filepath.Base(outside)),
		"checkpoints", runDir, "/etc"} {
		r, err := c.request(nc, wire.ResumeSubject, &wire.Resume{Job: job, From: from})
		if err != nil || r.OK || !strings.Contains(r.Error, "not a checkpoint inside") {
			t.Errorf("resume --from %s: %+v %v, want a refusal", from, r, err)
		}
	}
	if j2, _ := c.job(); j2.Phase != "stopped" {
		t.Fatalf("after the refused resumes the job is %s", j2.Phase)
	}
	c.api(nc, wire.ResumeSubject, &wire.Resume{Job: job, From: j.Latest})
	j2, _ := c.job()
	if j2.Phase == "stopped" || j2.Resume != j.Latest || j2.Step != j.LatestStep {
		t.Fatalf("resume --from %s: job %s from %q at step %d", j.Latest, j2.Phase, j2.Resume, j2.Step)
	}
	t.Logf("stopped at step %d; 8 resumes from outside %s refused; --from %s taken", j.Step, filepath.Join(runDir, "checkpoints"), j.Latest)
}
