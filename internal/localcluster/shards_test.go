package localcluster

import (
	"math"
	"testing"

	"github.com/levy-ml/levy/worker"
)

// TestEquivalenceOneVsThreeWorkers: a global batch of 1024 does not split
// evenly over 3 workers (shards of 342, 341 and 341 points); each rank
// weighs its gradient by its share, so 50 steps on 3 workers end with
// the parameters of 50 steps on 1 worker up to the rounding of the
// different summation orders, as for 4 workers.
func TestEquivalenceOneVsThreeWorkers(t *testing.T) {
	spec := smallJob("equiv3", 50, 50)
	if spec.GlobalBatch != 1024 {
		t.Fatalf("global batch %d, want 1024 (not a multiple of 3)", spec.GlobalBatch)
	}
	r1 := runLocal(t, spec, 1, t.TempDir(), "", 0, false)
	r3 := runLocal(t, spec, 3, t.TempDir(), "", 0, false)
	c1, f1 := finalFiles(t, r1.RunDir)
	c3, f3 := finalFiles(t, r3.RunDir)
	if c1.Manifest.Step != 50 || c3.Manifest.Step != 50 || c3.Manifest.Extra["world"] != "3" {
		t.Fatalf("final steps %d and %d (world %s), want 50 and 50 on 3 workers", c1.Manifest.Step, c3.Manifest.Step, c3.Manifest.Extra["world"])
	}
	var worst, worstMax float64
	for _, file := range []string{worker.ModelFile, worker.EMAFile} {
		for i, a := range f1[file] {
			b := f3[file][i]
			var diff, norm, maxAbs float64
			for j := range a.Data {
				d := float64(a.Data[j]) - float64(b.Data[j])
				diff += d * d
				norm += float64(a.Data[j]) * float64(a.Data[j])
				maxAbs = max(maxAbs, math.Abs(d))
			}
			rel := math.Sqrt(diff / norm)
			worst = max(worst, rel)
			worstMax = max(worstMax, maxAbs)
			if rel > 1e-5 {
				t.Errorf("%s %s: relative difference %.3g between 1 and 3 workers, want ≤ 1e-5", file, a.Name, rel)
			}
		}
	}
	t.Logf("1 vs 3 workers after 50 steps: worst per-tensor relative difference %.3g, largest absolute %.3g", worst, worstMax)
}
