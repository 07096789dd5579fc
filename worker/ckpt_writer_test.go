package worker

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/levy-ml/levy/checkpoint"
	"github.com/levy-ml/levy/coordinator"
)

// slowStorage makes every checkpoint write take at least delay (and fail
// with failAt's error at that step, if set) until the test ends.
func slowStorage(t *testing.T, delay time.Duration, failAt int64) {
	t.Helper()
	saveCheckpoint = func(root string, m checkpoint.Manifest, files []checkpoint.File, keep int) (string, error) {
		time.Sleep(delay)
		if m.Step == failAt {
			return "", errDiskFull
		}
		return checkpoint.Save(root, m, files, keep)
	}
	t.Cleanup(func() { saveCheckpoint = checkpoint.Save })
}

var errDiskFull = errors.New("injected: no space left on device")

// stepClock records when rank 0 starts each step.
type stepClock struct {
	mu     sync.Mutex
	starts []time.Time
}

func (c *stepClock) onCall(int64) error {
	c.mu.Lock()
	c.starts = append(c.starts, time.Now())
	c.mu.Unlock()
	return nil
}

// step returns how long step i (counted from 0) took on rank 0, from its
// start to the next one's.
func (c *stepClock) step(i int) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.starts[i+1].Sub(c.starts[i])
}

func (c *stepClock) median() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var d []time.Duration
	for i := 1; i < len(c.starts); i++ {
		d = append(d, c.starts[i].Sub(c.starts[i-1]))
	}
	slices.Sort(d)
	return d[len(d)/2]
}

// TestSlowStorageDoesNotBreakTheRing: a checkpoint write takes 2.5 s,
// well past the ring's 1 s deadline. Rank 0 writes in the background, so
// the other rank never waits for the disk: the job completes without a
// restart, and every checkpoint verifies. (The last checkpoint, at step
// 40, waits for the write of step 20 if it is still going, and the end
// of the job for its own write; no rank waits for rank 0 in the ring by
// then. The deadline is not shorter because a step of 2 ranks under
// -race on a loaded 2-core machine now and then takes over 400 ms.)
func TestSlowStorageDoesNotBreakTheRing(t *testing.T) {
	const write, ring = 2500 * time.Millisecond, time.Second
	slowStorage(t, write, -1)
	spec := faultJob()
	spec.Name, spec.CkptEvery = "slowdisk", 20
	clock := &stepClock{}
	res, err, took := runCluster(t, spec, 2, ring, 0, clock.onCall, nil, func(c *coordinator.Config) { c.MaxRestarts = 0 })
	if err != nil {
		t.Fatal(err)
	}
	j := res.Job
	if j.Phase != "done" || j.Restarts != 0 || j.LatestStep != spec.Steps {
		t.Fatalf("job %s, restarts %d, newest checkpoint at %d", j.Phase, j.Restarts, j.LatestStep)
	}
	dirs, err := checkpoint.List(CheckpointDir(res.RunDir))
	if err != nil || len(dirs) != 2 {
		t.Fatalf("checkpoints %v (%v), want those of steps 20 and 40", dirs, err)
	}
	for _, d := range dirs {
		if _, err := checkpoint.Verify(d); err != nil {
			t.Error(err)
		}
	}
	ck, med := clock.step(19), clock.median()
	t.Logf("%d steps in %v with a %v checkpoint write and a %v ring deadline; rank 0's step 20 (which checkpoints) took %v, the median step %v",
		spec.Steps, took.Round(time.Millisecond), write, ring, ck.Round(100*time.Microsecond), med.Round(100*time.Microsecond))
	if ck >= write {
		t.Errorf("the checkpointing step took %v: the %v write is on the training path", ck, write)
	}
}

// TestCheckpointWriteErrorFailsTheJob: a checkpoint that cannot be
// written fails the job for good, naming the step; no restart is tried
// (a new ring would hit the same storage), and the earlier checkpoint
// stays intact for a resume.
func TestCheckpointWriteErrorFailsTheJob(t *testing.T) {
	slowStorage(t, 50*time.Millisecond, 20)
	spec := faultJob()
	spec.Name = "diskfull"
	res, err, _ := runCluster(t, spec, 2, 10*time.Second, -1, func(int64) error { return nil }, nil)
	if !errors.Is(err, coordinator.ErrJobFailed) || !strings.Contains(err.Error(), "checkpoint at step 20") || !strings.Contains(err.Error(), errDiskFull.Error()) {
		t.Fatalf("got %v", err)
	}
	if res.Job.Restarts != 0 || res.Job.LatestStep != 10 {
		t.Errorf("restarts %d, newest checkpoint at %d; want 0 and 10", res.Job.Restarts, res.Job.LatestStep)
	}
	if _, err := checkpoint.Verify(res.Latest); err != nil {
		t.Error(err)
	}
}
