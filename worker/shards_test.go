package worker

import (
	"testing"
	"time"

	"github.com/levy-ml/levy/checkpoint"
	"github.com/levy-ml/levy/coordinator"
)

// TestShardsCoverTheBatch: the shards of W ranks tile [0, B) in rank
// order, each point once, with sizes that differ by at most one (the
// first B mod W ranks take one more); B = 1024 over 3 ranks gives 342,
// 341, 341.
func TestShardsCoverTheBatch(t *testing.T) {
	var sizes []int
	seen := make([]int, 1024)
	next := 0
	for r := range 3 {
		lo, n := shard(1024, 3, r)
		if lo != next {
			t.Fatalf("rank %d starts at %d, want %d (right after rank %d)", r, lo, next, r-1)
		}
		for i := lo; i < lo+n; i++ {
			seen[i]++
		}
		next = lo + n
		sizes = append(sizes, n)
	}
	if sizes[0] != 342 || sizes[1] != 341 || sizes[2] != 341 {
		t.Errorf("shard sizes %v, want [342 341 341]", sizes)
	}
	for i, c := range seen {
		if c != 1 {
			t.Fatalf("point %d of the batch is in %d shards, want 1", i, c)
		}
	}

	for B := 1; B <= 40; B++ {
		for W := 1; W <= B; W++ {
			next := 0
			for r := range W {
				lo, n := shard(B, W, r)
				if lo != next || n < B/W || n > B/W+1 || (n == B/W+1) != (r < B%W) {
					t.Fatalf("B=%d W=%d rank %d: shard [%d, %d)", B, W, r, lo, lo+n)
				}
				next = lo + n
			}
			if next != B {
				t.Fatalf("B=%d W=%d: the shards end at %d", B, W, next)
			}
		}
	}
}

// TestRingOfFourGoesOnWithThree: a ring of 4 over a global batch of 400
// (not a multiple of 3) loses a worker at step 25; the 3 that come back
// form generation 2 from the checkpoint of step 20, with shards of 134,
// 133 and 133 points, and the job ends with the weights of an undisturbed
// 4-worker run up to float32 rounding.
func TestRingOfFourGoesOnWithThree(t *testing.T) {
	release := make(chan struct{})
	spec := faultJob()
	spec.Name, spec.GlobalBatch = "uneven", 400
	res, err, took := runCluster(t, spec, 4, time.Second, 3, func(n int64) error {
		if n == 25 {
			<-release
		}
		return nil
	}, func() { close(release) }, func(c *coordinator.Config) { c.RejoinWindow = time.Second })
	if err != nil {
		t.Fatal(err)
	}
	j := res.Job
	if j.Phase != "done" || j.Restarts != 1 || j.Generation != 2 || len(j.Members) != 3 {
		t.Fatalf("job %s, restarts %d, generation %d, members %v; want done after 1 restart with 3 members", j.Phase, j.Restarts, j.Generation, j.Members)
	}
	c, err := checkpoint.Load(res.Latest)
	if err != nil || c.Manifest.Step != int64(spec.Steps) || c.Manifest.Extra["world"] != "3" {
		t.Fatalf("final checkpoint: %v %+v", err, c.Manifest)
	}
	t.Logf("finished in %v after %d restart: %s", took.Round(time.Millisecond), j.Restarts, j.Failures[0])

	ref, err, _ := runCluster(t, spec, 4, time.Second, -1, func(int64) error { return nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := checkpoint.Load(ref.Latest)
	if err != nil {
		t.Fatal(err)
	}
	w := worstRelDiff(c.Tensors(ModelFile), rc.Tensors(ModelFile))
	t.Logf("4 → 3 workers vs undisturbed 4 workers: worst per-tensor relative difference %.3g", w)
	if w > 1e-5 {
		t.Errorf("the run that went on with 3 workers differs from the undisturbed 4-worker run by %.3g (relative), want ≤ 1e-5", w)
	}
}
