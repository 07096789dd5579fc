package metrics

import (
	"math"
	"math/rand/v2"
	"testing"
)

// blobs draws m points around each of the given centres with iid N(0, s²)
// coordinates, in centre order.
func blobs(rng *rand.Rand, means [][]float64, m int, s float64) []float64 {
	d := len(means[0])
	x := make([]float64, 0, len(means)*m*d)
	for _, mu := range means {
		for range m {
			for j := range d {
				x = append(x, mu[j]+s*rng.NormFloat64())
			}
		}
	}
	return x
}

func checkBlobs(t *testing.T, name string, means [][]float64, m int, s float64, x []float64, centers []float64, labels []int) {
	t.Helper()
	d := len(means[0])
	k := len(means)
	// Every blob must be exactly one cluster, distinct blobs distinct clusters.
	seen := map[int]int{}
	for b := range k {
		l := labels[b*m]
		for i := b * m; i < (b+1)*m; i++ {
			if labels[i] != l {
				t.Fatalf("%s: blob %d split between clusters %d and %d", name, b, l, labels[i])
			}
		}
		if o, ok := seen[l]; ok {
			t.Fatalf("%s: blobs %d and %d merged into cluster %d", name, o, b, l)
		}
		seen[l] = b
		// The centre is a count-weighted mean of (resampled) blob points:
		// its error is O(s/√count); 10·s/√m is a generous bound.
		c := centers[l*d : (l+1)*d]
		tol := 10 * s / math.Sqrt(float64(m))
		for j := range d {
			if math.Abs(c[j]-means[b][j]) > tol {
				t.Errorf("%s: centre %d coord %d = %g, blob mean %g (tol %g)", name, l, j, c[j], means[b][j], tol)
			}
		}
	}
}

func TestMiniBatchKMeansBlobs2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	means := [][]float64{{0, 0}, {5, 0}, {0, 5}, {5, 5}, {10, -3}}
	const m, s = 2000, 0.3
	x := blobs(rng, means, m, s)
	centers, labels, inertia := MiniBatchKMeans(x, 2, 5, rng, KMeansOptions{NInit: 3})
	checkBlobs(t, "2-D", means, m, s, x, centers, labels)
	// Inertia ≈ n·d·s² for the true partition.
	want := float64(len(means)*m*2) * s * s
	if math.Abs(inertia-want)/want > 0.05 {
		t.Errorf("inertia %g, want ≈ %g", inertia, want)
	}
}

func TestMiniBatchKMeansBlobs3D(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	means := [][]float64{{0, 0, 0}, {4, 0, 0}, {0, 4, 0}, {0, 0, 4}, {4, 4, 4}, {-4, 2, 1}}
	const m, s = 700, 0.2
	x := blobs(rng, means, m, s)
	centers, labels, _ := MiniBatchKMeans(x, 3, 6, rng, KMeansOptions{NInit: 5, BatchSize: 256})
	checkBlobs(t, "3-D", means, m, s, x, centers, labels)
}

func TestMiniBatchKMeansSmallAndDeterministic(t *testing.T) {
	// n smaller than the batch size and the init size.
	x := []float64{0, 0, 1, 0, 0, 1, 10, 10}
	c, labels, inertia := MiniBatchKMeans(x, 2, 2, rand.New(rand.NewPCG(1, 1)), KMeansOptions{NInit: 2})
	if labels[0] != labels[1] || labels[0] != labels[2] || labels[3] == labels[0] {
		t.Errorf("labels %v: the far point should be alone", labels)
	}
	// Centre of the near triple is a weighted mean of its points; the far
	// centre is exactly (10, 10); inertia ≤ that of the worst point choice.
	far := labels[3]
	if c[2*far] != 10 || c[2*far+1] != 10 || inertia > 2 {
		t.Errorf("centres %v inertia %g", c, inertia)
	}
	rngA := rand.New(rand.NewPCG(5, 5))
	rngB := rand.New(rand.NewPCG(5, 5))
	y := sampleGrid(rand.New(rand.NewPCG(2, 2)), 3000, gridWeights, 0.1)
	ca, la, ia := MiniBatchKMeans(y, 2, 20, rngA, KMeansOptions{NInit: 3})
	cb, lb, ib := MiniBatchKMeans(y, 2, 20, rngB, KMeansOptions{NInit: 3})
	if ia != ib || len(la) != len(lb) {
		t.Fatal("same seed gave different results")
	}
	for i := range ca {
		if ca[i] != cb[i] {
			t.Fatal("same seed gave different centres")
		}
	}
}

func TestKMeansPlusPlusSpreads(t *testing.T) {
	// k-means++ on 4 tight far-apart blobs must pick one seed in each.
	rng := rand.New(rand.NewPCG(15, 16))
	means := [][]float64{{0, 0}, {100, 0}, {0, 100}, {100, 100}}
	x := blobs(rng, means, 50, 0.1)
	for trial := range 20 {
		c := kmeansPlusPlus(x, 2, 4, rng)
		hit := make([]bool, 4)
		for i := range 4 {
			for b, mu := range means {
				if math.Hypot(c[2*i]-mu[0], c[2*i+1]-mu[1]) < 5 {
					hit[b] = true
				}
			}
		}
		for b, h := range hit {
			if !h {
				t.Fatalf("trial %d: no seed near blob %d: %v", trial, b, c)
			}
		}
	}
}
