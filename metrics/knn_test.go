package metrics

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// bruteKNNPR is the direct O(n²) definition, for cross-checking the tree.
func bruteKNNPR(real, gen []float64, d, k int) (float64, float64) {
	radii := func(x []float64) []float64 {
		n := len(x) / d
		r := make([]float64, n)
		ds := make([]float64, 0, n)
		for i := range n {
			ds = ds[:0]
			for j := range n {
				if j != i {
					ds = append(ds, math.Sqrt(sqDist(x[i*d:(i+1)*d], x[j*d:(j+1)*d])))
				}
			}
			slices.Sort(ds)
			r[i] = ds[k-1]
		}
		return r
	}
	frac := func(q, ref []float64, r []float64) float64 {
		nq, nr := len(q)/d, len(ref)/d
		c := 0
		for i := range nq {
			for j := range nr {
				if math.Sqrt(sqDist(q[i*d:(i+1)*d], ref[j*d:(j+1)*d])) < r[j] {
					c++
					break
				}
			}
		}
		return float64(c) / float64(nq)
	}
	return frac(gen, real, radii(real)), frac(real, gen, radii(gen))
}

func TestKNNHand(t *testing.T) {
	// 1-D, k = 1. real {0, 1, 3}: radii 1, 1, 2. gen {0.5, 2.5, 10, 10.5}:
	// radii 2, 2, 0.5, 0.5.
	real := []float64{0, 1, 3}
	gen := []float64{0.5, 2.5, 10, 10.5}
	p, r, err := KNNPrecisionRecall(real, gen, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Precision: 0.5 ∈ ball(0,1) yes; 2.5 ∈ ball(3,2) yes; 10, 10.5 no → 1/2.
	// Recall: 0 ∈ ball(0.5,2) yes; 1 yes; 3 ∈ ball(2.5,2) yes → 1.
	if p != 0.5 || r != 1 {
		t.Errorf("P, R = %g, %g; want 0.5, 1", p, r)
	}
	// Strict inequality: a generated point exactly on a ball boundary is out.
	p, _, _ = KNNPrecisionRecall([]float64{0, 1}, []float64{2, 5}, 1, 1)
	if p != 0 {
		t.Errorf("boundary point counted: precision %g, want 0", p)
	}
	if got := F1(0.5, 1); math.Abs(got-2.0/3) > 1e-15 {
		t.Errorf("F1(0.5, 1) = %g", got)
	}
	if F1(0, 0) != 0 {
		t.Error("F1(0, 0) should be 0")
	}
	if _, _, err := KNNPrecisionRecall(real, gen, 1, 3); err == nil {
		t.Error("expected an error when a set has ≤ k points")
	}
}

func TestKNNIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for _, k := range []int{1, 3, 5} {
		x := gaussian(rng, 800, 3, 0)
		p, r, err := KNNPrecisionRecall(x, x, 3, k)
		if err != nil || p != 1 || r != 1 {
			t.Errorf("k=%d identical sets: P=%g R=%g err=%v; want 1, 1", k, p, r, err)
		}
	}
}

func TestKNNTreeMatchesBrute(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	for _, d := range []int{1, 2, 3, 5} {
		real := gaussian(rng, 600, d, 0)
		gen := gaussian(rng, 500, d, 0.7)
		// Some exact duplicates, which count as neighbours.
		copy(real[10*d:11*d], real[20*d:21*d])
		copy(gen[0:d], real[0:d])
		for _, k := range []int{1, 5} {
			p, r, err := KNNPrecisionRecall(real, gen, d, k)
			if err != nil {
				t.Fatal(err)
			}
			bp, br := bruteKNNPR(real, gen, d, k)
			if p != bp || r != br {
				t.Errorf("d=%d k=%d: tree P,R = %g,%g; brute %g,%g", d, k, p, r, bp, br)
			}
		}
	}
	// Grid data with many points sharing a coordinate value.
	x := make([]float64, 0, 2*900)
	for i := range 30 {
		for j := range 30 {
			x = append(x, float64(i), float64(j%7))
		}
	}
	y := gaussian(rng, 400, 2, 3)
	p, r, _ := KNNPrecisionRecall(x, y, 2, 5)
	bp, br := bruteKNNPR(x, y, 2, 5)
	if p != bp || r != br {
		t.Errorf("grid: tree P,R = %g,%g; brute %g,%g", p, r, bp, br)
	}
}

func BenchmarkKNN15000(b *testing.B) {
	data := rand.New(rand.NewPCG(45, 46))
	real := sampleGrid(data, 15000, gridWeights, 0.1)
	gen := sampleGrid(data, 15000, equalWeights(), 0.1)
	iters := 0
	for b.Loop() {
		if _, _, err := KNNPrecisionRecall(real, gen, 2, 5); err != nil {
			b.Fatal(err)
		}
		iters++
	}
	b.ReportMetric(float64(30000*iters)/b.Elapsed().Seconds(), "points/s")
}
