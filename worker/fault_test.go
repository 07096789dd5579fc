package worker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/levy-ml/levy/checkpoint"
	"github.com/levy-ml/levy/coordinator"
	"github.com/levy-ml/levy/engine"
	"github.com/levy-ml/levy/internal/natstest"
	"github.com/levy-ml/levy/job"
	"github.com/levy-ml/levy/nn"
	"github.com/levy-ml/levy/safetensors"
)

// faultyEngine injects faults into one rank's engine: onCall runs before
// the n-th Backward and may return an error in its place.
type faultyEngine struct {
	engine.Engine
	calls  atomic.Int64
	onCall func(n int64) error
}

func (e *faultyEngine) Backward(step engine.Step, b engine.Batch, ready func(int)) (float64, error) {
	if err := e.onCall(e.calls.Add(1)); err != nil {
		return 0, err
	}
	return e.Engine.Backward(step, b, ready)
}

// spawnWorker starts one more worker in the running runCluster (tests
// run one at a time).
var spawnWorker func(id string)

// rankConn maps a rank to its worker's NATS connection (to cut one).
var rankConn sync.Map

// runCluster runs spec on n workers and a coordinator over a real
// in-process NATS server; rank faultRank's engine gets onCall.
// unblock (if not nil) runs before waiting for the workers to leave.
// tweak (if not nil) edits the coordinator's configuration.
func runCluster(t *testing.T, spec job.Spec, n int, ringTimeout time.Duration, faultRank int, onCall func(int64) error, unblock func(), tweak ...func(*coordinator.Config)) (*coordinator.Result, error, time.Duration) {
	t.Helper()
	ns, url := natstest.Start(t, &server.Options{MaxPayload: natstest.MaxPayload})
	defer ns.Shutdown()
	conn := func() *nats.Conn {
		nc, err := nats.Connect(url)
		if err != nil {
			t.Error(err) // not Fatal: spawnWorker runs off the test goroutine
			return nil
		}
		t.Cleanup(nc.Close)
		return nc
	}
	cc := coordinator.DefaultConfig()
	cc.NATS, cc.Job, cc.Workers, cc.RunsDir, cc.Progress = conn(), spec, n, t.TempDir(), nil
	if testing.Verbose() {
		cc.Progress = os.Stdout
	}
	for _, f := range tweak {
		f(&cc)
	}
	co, err := coordinator.NewJobRunner(cc)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		cancel()
		if unblock != nil {
			unblock()
		}
		wg.Wait()
	}()
	startWorker := func(id string) {
		wc := DefaultConfig()
		wc.ID, wc.NATS, wc.Once, wc.RingTimeout, wc.RunsRoot = id, conn(), true, ringTimeout, cc.RunsDir
		if wc.NATS == nil {
			return
		}
		wc.JoinRetry, wc.HeartbeatEvery = 100*time.Millisecond, 200*time.Millisecond
		nc := wc.NATS
		wc.wrapEngine = func(rank int, e engine.Engine) engine.Engine {
			rankConn.Store(rank, nc)
			if rank != faultRank {
				return e
			}
			return &faultyEngine{Engine: e, onCall: onCall}
		}
		w, err := New(wc)
		if err != nil {
			t.Error(err)
			return
		}
		wg.Add(1)
		go func() { defer wg.Done(); w.Run(wctx) }()
	}
	for i := range n {
		startWorker(fmt.Sprintf("w%d", i))
	}
	spawnWorker = startWorker
	defer func() { spawnWorker = nil }()
	ctx, stop := context.WithTimeout(context.Background(), 2*time.Minute)
	defer stop()
	start := time.Now()
	res, err := co.Run(ctx)
	return res, err, time.Since(start)
}

func faultJob() job.Spec {
	s := job.Default()
	s.Name, s.Steps, s.CkptEvery, s.GlobalBatch = "fault", 40, 10, 384
	return s
}

// TestNonFiniteGradientIsSkipped: a NaN gradient on one rank makes every
// rank skip that step; the job finishes with finite weights and counts
// the skips in its checkpoint.
func TestNonFiniteGradientIsSkipped(t *testing.T) {
	res, err, _ := runCluster(t, faultJob(), 2, 10*time.Second, 1, func(n int64) error {
		if n == 3 || n == 4 {
			return fmt.Errorf("injected: %w", nn.ErrNonFinite)
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := checkpoint.Load(res.Latest)
	if err != nil {
		t.Fatal(err)
	}
	if c.Manifest.Step != 40 || c.Manifest.Extra["skipped"] != "2" {
		t.Fatalf("final checkpoint: step %d, skipped %q; want 40 and 2", c.Manifest.Step, c.Manifest.Extra["skipped"])
	}
	for _, tn := range c.Tensors(ModelFile) {
		for _, v := range tn.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s holds %v", tn.Name, v)
			}
		}
	}
}

// TestPersistentNonFiniteFailsTheJob: ten non-finite steps in a row fail
// the job with a message that says so.
func TestPersistentNonFiniteFailsTheJob(t *testing.T) {
	_, err, _ := runCluster(t, faultJob(), 2, 10*time.Second, 0, func(n int64) error {
		if n > 12 {
			return nn.ErrNonFinite
		}
		return nil
	}, nil)
	if !errors.Is(err, coordinator.ErrJobFailed) || !strings.Contains(err.Error(), "non-finite") {
		t.Fatalf("got %v", err)
	}
}

// TestDeadWorkerFailsTheJob: a worker that stops answering in the middle
// of step 25 breaks the ring; the job fails within the ring timeout,
// never hangs, and the checkpoint of step 20 is intact for a resume.
func TestDeadWorkerFailsTheJob(t *testing.T) {
	release := make(chan struct{})
	const timeout = time.Second
	res, err, took := runCluster(t, faultJob(), 3, timeout, 2, func(n int64) error {
		if n == 25 {
			<-release // hangs like a dead process
		}
		return nil
	}, func() { close(release) }, func(c *coordinator.Config) { c.MaxRestarts = 0 })
	if !errors.Is(err, coordinator.ErrJobFailed) || !strings.Contains(err.Error(), "ring broken") || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("got %v", err)
	}
	t.Logf("failed after %v: %v", took.Round(time.Millisecond), err)
	if took > 30*time.Second {
		t.Errorf("the failure took %v with a %v ring timeout", took, timeout)
	}
	if res.Job.LatestStep != 20 {
		t.Fatalf("newest checkpoint at step %d, want 20", res.Job.LatestStep)
	}
	if _, err := checkpoint.Verify(res.Latest); err != nil {
		t.Fatal(err)
	}
}

// TestElasticRingSurvivesAHungWorker: a worker hangs at step 25 (its
// process still heartbeats); the others notice through the all-reduce
// deadline, the coordinator aborts the ring and re-forms it with the two
// workers that come back, from the checkpoint of step 20, and the job
// completes with 2 workers.
func TestElasticRingSurvivesAHungWorker(t *testing.T) {
	release := make(chan struct{})
	spec := faultJob()
	res, err, took := runCluster(t, spec, 3, time.Second, 2, func(n int64) error {
		if n == 25 {
			<-release
		}
		return nil
	}, func() { close(release) }, func(c *coordinator.Config) { c.RejoinWindow = time.Second })
	if err != nil {
		t.Fatal(err)
	}
	j := res.Job
	if j.Phase != "done" || j.Restarts != 1 || j.Generation != 2 || len(j.Members) != 2 {
		t.Fatalf("job %s, restarts %d, generation %d, members %v", j.Phase, j.Restarts, j.Generation, j.Members)
	}
	c, err := checkpoint.Load(res.Latest)
	if err != nil || c.Manifest.Step != int64(spec.Steps) || c.Manifest.Extra["world"] != "2" {
		t.Fatalf("final checkpoint: %v %+v", err, c.Manifest)
	}
	t.Logf("finished in %v after %d restart: %s", took.Round(time.Millisecond), j.Restarts, j.Failures[0])

	// The measure of "no harm done": the job that lost a worker ends with
	// the parameters of an undisturbed 3-worker run, up to the rounding of
	// the different summation order (data order and noise do not depend
	// on the worker count, and the lost steps are redone from the
	// checkpoint).
	ref, err, _ := runCluster(t, spec, 3, time.Second, -1, func(int64) error { return nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := checkpoint.Load(ref.Latest)
	if err != nil {
		t.Fatal(err)
	}
	got, want := c.Tensors(ModelFile), rc.Tensors(ModelFile)
	var worst float64
	for name, w := range want {
		var d2, n2 float64
		for i, v := range w.Data {
			d := float64(v) - float64(got[name].Data[i])
			d2 += d * d
			n2 += float64(v) * float64(v)
		}
		worst = max(worst, math.Sqrt(d2/n2))
	}
	t.Logf("lost-worker run vs undisturbed run: worst per-tensor relative difference %.3g", worst)
	if worst > 1e-5 {
		t.Errorf("the disturbed run's weights differ from the undisturbed run's by %.3g (relative), want ≤ 1e-5", worst)
	}
}

// TestElasticRingSurvivesAKilledWorker: a worker's connection drops at
// step 25 as if the process were killed: no more heartbeats, no Done.
// With a 30 s all-reduce deadline, only the heartbeat (dead after 1 s)
// can notice in time; the ring is re-formed and the job completes.
func TestElasticRingSurvivesAKilledWorker(t *testing.T) {
	var once sync.Once
	release := make(chan struct{})
	res, err, took := runCluster(t, faultJob(), 3, 30*time.Second, 1, func(n int64) error {
		if n == 25 {
			once.Do(func() {
				c, _ := rankConn.Load(1)
				c.(*nats.Conn).Close() // as if killed: no heartbeat, no Done
			})
			<-release
		}
		return nil
	}, func() { close(release) }, func(c *coordinator.Config) {
		c.DeadAfter, c.RejoinWindow = time.Second, time.Second
	})
	if err != nil {
		t.Fatal(err)
	}
	j := res.Job
	if j.Phase != "done" || j.Restarts != 1 || !strings.Contains(j.Failures[0], "no heartbeat") {
		t.Fatalf("job %s, restarts %d, failures %v", j.Phase, j.Restarts, j.Failures)
	}
	if took > 25*time.Second {
		t.Errorf("took %v: the 30 s ring deadline, not the heartbeat, noticed the death", took)
	}
	t.Logf("finished in %v: %s", took.Round(time.Millisecond), j.Failures[0])
}

// TestWorkersJoinARunningJob: a job starts on 2 workers with max_workers
// 4; two more join at step 23. The ring checkpoints at the next step
// boundary, and generation 2 takes in the newcomers, who load the current
// weights from that checkpoint. No step is trained twice, and the job
// ends with the weights of an undisturbed 2-worker run.
func TestWorkersJoinARunningJob(t *testing.T) {
	spec := faultJob()
	spec.Name, spec.Steps, spec.MaxWorkers, spec.Keep = "grow", 60, 4, 10
	var (
		once  sync.Once
		steps atomic.Int64 // Gradients calls of rank 0, over every generation
	)
	res, err, took := runCluster(t, spec, 2, 10*time.Second, 0, func(n int64) error {
		steps.Add(1)
		if n == 23 {
			once.Do(func() {
				spawnWorker("late0")
				spawnWorker("late1")
			})
		}
		return nil
	}, nil, func(c *coordinator.Config) { c.RejoinWindow = 5 * time.Second })
	if err != nil {
		t.Fatal(err)
	}
	j := res.Job
	if j.Phase != "done" || j.Grows != 1 || j.Restarts != 0 || j.Generation != 2 || len(j.Members) != 4 {
		t.Fatalf("job %s, grows %d, restarts %d, generation %d, members %v", j.Phase, j.Grows, j.Restarts, j.Generation, j.Members)
	}
	if got := steps.Load(); got != int64(spec.Steps) {
		t.Errorf("rank 0 computed %d steps over both generations, want %d: a step was trained twice or skipped", got, spec.Steps)
	}
	rc, err := checkpoint.Load(filepath.Join(res.RunDir, j.Resume))
	if err != nil {
		t.Fatal(err)
	}
	if rc.Manifest.Step < 23 || rc.Manifest.Extra["world"] != "2" {
		t.Errorf("generation 2 started from %s (step %d, world %s), want the 2-worker ring's checkpoint taken after the join at step 23",
			j.Resume, rc.Manifest.Step, rc.Manifest.Extra["world"])
	}
	c, err := checkpoint.Load(res.Latest)
	if err != nil || c.Manifest.Step != int64(spec.Steps) || c.Manifest.Extra["world"] != "4" {
		t.Fatalf("final checkpoint: %v %+v", err, c.Manifest)
	}
	t.Logf("finished in %v; generation 2 (4 workers) started from step %d", took.Round(time.Millisecond), rc.Manifest.Step)

	ref, err, _ := runCluster(t, spec, 2, 10*time.Second, -1, func(int64) error { return nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	refc, err := checkpoint.Load(ref.Latest)
	if err != nil {
		t.Fatal(err)
	}
	if w := worstRelDiff(c.Tensors(ModelFile), refc.Tensors(ModelFile)); w > 1e-5 {
		t.Errorf("grown run vs undisturbed run: worst per-tensor relative difference %.3g, want ≤ 1e-5", w)
	} else {
		t.Logf("grown run vs undisturbed 2-worker run: worst per-tensor relative difference %.3g", w)
	}
}

// worstRelDiff is the largest ‖a−b‖/‖b‖ over the tensors of want.
func worstRelDiff(got, want map[string]safetensors.Tensor) float64 {
	var worst float64
	for name, w := range want {
		var d2, n2 float64
		for i, v := range w.Data {
			d := float64(v) - float64(got[name].Data[i])
			d2 += d * d
			n2 += float64(v) * float64(v)
		}
		worst = max(worst, math.Sqrt(d2/n2))
	}
	return worst
}

// TestMinWorkersWaitsForAReplacement: a job with min_workers 3 loses one
// of its 3 workers; the 2 survivors are too few, so the ring waits until
// a replacement joins, then goes on with 3 from the newest checkpoint.
func TestMinWorkersWaitsForAReplacement(t *testing.T) {
	spec := faultJob()
	spec.Name, spec.MinWorkers = "min3", 3
	var once sync.Once
	release := make(chan struct{})
	const spareAfter = 3 * time.Second
	var killed time.Time
	res, err, _ := runCluster(t, spec, 3, 30*time.Second, 1, func(n int64) error {
		if n == 25 {
			once.Do(func() {
				c, _ := rankConn.Load(1)
				c.(*nats.Conn).Close() // as if killed
				killed = time.Now()
				go func() { time.Sleep(spareAfter); spawnWorker("spare") }()
			})
			<-release
		}
		return nil
	}, func() { close(release) }, func(c *coordinator.Config) {
		c.DeadAfter, c.RejoinWindow = time.Second, time.Second
	})
	if err != nil {
		t.Fatal(err)
	}
	j := res.Job
	if j.Phase != "done" || j.Restarts != 1 || len(j.Members) != 3 || !slices.Contains(j.Members, "spare") {
		t.Fatalf("job %s, restarts %d, members %v", j.Phase, j.Restarts, j.Members)
	}
	c, err := checkpoint.Load(res.Latest)
	if err != nil || c.Manifest.Extra["world"] != "3" {
		t.Fatalf("final checkpoint: %v %+v", err, c.Manifest)
	}
	if j.Generation != 2 || j.Step != spec.Steps {
		t.Errorf("generation %d at step %d: the 2 survivors must not have run a ring of their own", j.Generation, j.Step)
	}
	t.Logf("the 3-worker ring lost a worker; it resumed with the spare after waiting; finished %v after the loss", time.Since(killed).Round(time.Millisecond))
}
