package metrics

import (
	"math"
	"math/rand/v2"
	"slices"
)

// KMeansOptions configures MiniBatchKMeans. Zero values select the
// scikit-learn (≥ 1.4) defaults noted on each field.
type KMeansOptions struct {
	// NInit is the number of k-means++ initialisations tried; the one with
	// the lowest inertia on a fixed random validation subset is kept
	// (sklearn). 0 → 1 (sklearn's n_init="auto" for k-means++). PRD uses 10.
	NInit int
	// BatchSize is the mini-batch size. 0 → 1024. Capped at n.
	BatchSize int
	// MaxIter bounds the number of passes over the data: the loop runs at
	// most ⌊MaxIter·n/BatchSize⌋ mini-batch steps. 0 → 100.
	MaxIter int
	// MaxNoImprovement stops after this many consecutive steps without an
	// improvement of the smoothed (EWA) batch inertia. 0 → 10; < 0 disables.
	MaxNoImprovement int
	// InitSize is the size of the random subset on which k-means++ runs.
	// 0 → 3·BatchSize (3·k if that is smaller than k). Capped at n.
	InitSize int
	// ReassignmentRatio: centres whose accumulated count falls below
	// ratio·max(count) are moved to random points of the current batch.
	// 0 → 0.01; < 0 disables reassignment.
	ReassignmentRatio float64
}

func (o KMeansOptions) withDefaults(n, k int) KMeansOptions {
	if o.NInit <= 0 {
		o.NInit = 1
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 1024
	}
	o.BatchSize = min(o.BatchSize, n)
	if o.MaxIter <= 0 {
		o.MaxIter = 100
	}
	if o.MaxNoImprovement == 0 {
		o.MaxNoImprovement = 10
	}
	if o.InitSize <= 0 {
		o.InitSize = 3 * o.BatchSize
		if o.InitSize < k {
			o.InitSize = 3 * k
		}
	} else if o.InitSize < k {
		o.InitSize = 3 * k
	}
	o.InitSize = min(o.InitSize, n)
	if o.ReassignmentRatio == 0 {
		o.ReassignmentRatio = 0.01
	}
	return o
}

// MiniBatchKMeans clusters the n = len(x)/d points of x into k clusters with
// the mini-batch k-means algorithm as implemented by scikit-learn's
// MiniBatchKMeans (Sculley 2010), with tol = 0:
//
//  1. A validation subset of InitSize indices is drawn with replacement.
//     For each of NInit restarts, InitSize indices are drawn with replacement
//     (or all points if InitSize = n) and greedy k-means++ (2 + ⌊ln k⌋ local
//     trials per centre) is run on that subset; the initialisation with the
//     lowest inertia on the validation subset is kept.
//  2. For at most ⌊MaxIter·n/BatchSize⌋ steps: draw BatchSize indices with
//     replacement, label them with the current centres (their inertia is the
//     batch inertia), and move each centre c that received b_c > 0 points to
//     (count_c·c + Σ batch points)/(count_c + b_c), count_c += b_c. Every
//     time at least 10·k samples have been seen since the last reassignment
//     (or some count is 0), centres with count < ratio·max(count) are moved
//     to distinct random points of the batch (at most half the batch size
//     are kept reassignable) and their counts set to the smallest remaining
//     count.
//  3. Early stopping: the batch inertia divided by BatchSize is smoothed with
//     an exponentially weighted average of weight α = min(1, 2·BatchSize/(n+1))
//     (the first step is ignored); the loop stops after MaxNoImprovement
//     consecutive steps without a new minimum of that average.
//
// It returns the k×d centres, the label of every point for the final centres,
// and the inertia (sum of squared distances to the assigned centres) of the
// whole set. k must satisfy 1 ≤ k ≤ n.
func MiniBatchKMeans(x []float64, d, k int, rng *rand.Rand, o KMeansOptions) (centers []float64, labels []int, inertia float64) {
	n := len(x) / d
	if k < 1 || k > n {
		panic("metrics: MiniBatchKMeans needs 1 <= k <= n")
	}
	o = o.withDefaults(n, k)
	bs := o.BatchSize

	// Validation subset for choosing among initialisations.
	valid := make([]float64, o.InitSize*d)
	for i := range o.InitSize {
		copy(valid[i*d:(i+1)*d], x[rng.IntN(n)*d:][:d])
	}

	var best []float64
	bestInertia := math.Inf(1)
	sub := x
	if o.InitSize < n {
		sub = make([]float64, o.InitSize*d)
	}
	scratchLabels := make([]int32, max(o.InitSize, bs))
	for range o.NInit {
		if o.InitSize < n {
			for i := range o.InitSize {
				copy(sub[i*d:(i+1)*d], x[rng.IntN(n)*d:][:d])
			}
		}
		c := kmeansPlusPlus(sub, d, k, rng)
		in := assign(valid, d, c, k, scratchLabels[:o.InitSize])
		if best == nil || in < bestInertia {
			best, bestInertia = c, in
		}
	}

	centers = best
	newCenters := make([]float64, k*d)
	counts := make([]float64, k)
	batch := make([]float64, bs*d)
	blabels := scratchLabels[:bs]
	sums := make([]float64, k*d)
	bcount := make([]float64, k)
	perm := make([]int, bs)
	reassign := make([]bool, k)
	order := make([]int, k)

	nSteps := (o.MaxIter * n) / bs
	sinceReassign := 0
	ewa, ewaMin := math.NaN(), math.NaN()
	noImprove := 0
	alpha := math.Min(1, 2*float64(bs)/float64(n+1))

	for step := range nSteps {
		for i := range bs {
			copy(batch[i*d:(i+1)*d], x[rng.IntN(n)*d:][:d])
		}
		// Whether this step may reassign centres is decided from the counts
		// before the update (sklearn's _random_reassign).
		sinceReassign += bs
		doReassign := sinceReassign >= 10*k || slices.Contains(counts, 0)
		if doReassign {
			sinceReassign = 0
		}
		batchInertia := assign(batch, d, centers, k, blabels)

		// Centre update with per-centre counts.
		clear(sums)
		clear(bcount)
		for i, l := range blabels {
			bcount[l]++
			s := sums[int(l)*d : int(l)*d+d]
			for j, v := range batch[i*d : (i+1)*d] {
				s[j] += v
			}
		}
		for c := range k {
			nc := newCenters[c*d : (c+1)*d]
			oc := centers[c*d : (c+1)*d]
			if bcount[c] > 0 {
				tot := counts[c] + bcount[c]
				s := sums[c*d : (c+1)*d]
				for j := range d {
					nc[j] = (oc[j]*counts[c] + s[j]) / tot
				}
				counts[c] = tot
			} else {
				copy(nc, oc)
			}
		}

		// Random reassignment of (nearly) empty centres.
		if doReassign && o.ReassignmentRatio > 0 {
			maxCount := slices.Max(counts)
			nre := 0
			for c := range k {
				reassign[c] = counts[c] < o.ReassignmentRatio*maxCount
				if reassign[c] {
					nre++
				}
			}
			if half := bs / 2; nre > half {
				// Keep the centres with the largest counts: only the half
				// with the smallest counts may be reassigned.
				for c := range order {
					order[c] = c
				}
				slices.SortStableFunc(order, func(a, b int) int {
					switch {
					case counts[a] < counts[b]:
						return -1
					case counts[a] > counts[b]:
						return 1
					}
					return 0
				})
				for _, c := range order[half:] {
					reassign[c] = false
				}
				nre = 0
				for c := range k {
					if reassign[c] {
						nre++
					}
				}
			}
			if nre > 0 {
				// Distinct batch indices (partial Fisher–Yates).
				for i := range perm {
					perm[i] = i
				}
				r := 0
				minKept := math.Inf(1)
				for c := range k {
					if !reassign[c] {
						minKept = math.Min(minKept, counts[c])
					}
				}
				for c := range k {
					if !reassign[c] {
						continue
					}
					j := r + rng.IntN(bs-r)
					perm[r], perm[j] = perm[j], perm[r]
					copy(newCenters[c*d:(c+1)*d], batch[perm[r]*d:(perm[r]+1)*d])
					r++
					if !math.IsInf(minKept, 1) {
						counts[c] = minKept
					}
				}
			}
		}
		centers, newCenters = newCenters, centers

		// Early stopping on the smoothed batch inertia.
		if step == 0 {
			continue // inertia of the first batch reflects the initialisation
		}
		bi := batchInertia / float64(bs)
		if math.IsNaN(ewa) {
			ewa = bi
		} else {
			ewa = ewa*(1-alpha) + bi*alpha
		}
		if math.IsNaN(ewaMin) || ewa < ewaMin {
			noImprove = 0
			ewaMin = ewa
		} else {
			noImprove++
		}
		if o.MaxNoImprovement > 0 && noImprove >= o.MaxNoImprovement {
			break
		}
	}

	lab32 := make([]int32, n)
	inertia = assign(x, d, centers, k, lab32)
	labels = make([]int, n)
	for i, l := range lab32 {
		labels[i] = int(l)
	}
	return centers, labels, inertia
}

// kmeansPlusPlus runs greedy k-means++ seeding (as scikit-learn): the first
// centre is a uniformly random point; each further centre is the best, in
// total potential, of 2+⌊ln k⌋ candidates sampled with probability
// proportional to the squared distance to the nearest chosen centre.
func kmeansPlusPlus(x []float64, d, k int, rng *rand.Rand) []float64 {
	n := len(x) / d
	centers := make([]float64, k*d)
	trials := 2 + int(math.Log(float64(k)))

	first := rng.IntN(n)
	copy(centers[:d], x[first*d:(first+1)*d])
	closest := make([]float64, n)
	for i := range n {
		closest[i] = sqDist(x[i*d:(i+1)*d], centers[:d])
	}
	cum := make([]float64, n)
	cand := make([]int, trials)
	candDist := make([][]float64, trials)
	for t := range candDist {
		candDist[t] = make([]float64, n)
	}
	for c := 1; c < k; c++ {
		// Cumulative sum for inverse-CDF sampling.
		s := 0.0
		for i, v := range closest {
			s += v
			cum[i] = s
		}
		bestT, bestPot := -1, math.Inf(1)
		for t := range trials {
			u := rng.Float64() * s
			idx, _ := slices.BinarySearch(cum, u) // first index with cum >= u
			// numpy searchsorted(side="left") finds the first cum >= u;
			// nudge past zero-mass points so a duplicate of a centre is
			// never picked when mass exists elsewhere.
			for idx < n-1 && cum[idx] <= u && closest[idx] == 0 {
				idx++
			}
			idx = min(idx, n-1)
			cand[t] = idx
			cp := x[idx*d : (idx+1)*d]
			cd := candDist[t]
			p := 0.0
			if d == 2 {
				a0, a1 := cp[0], cp[1]
				for i := range n {
					dx, dy := x[2*i]-a0, x[2*i+1]-a1
					v := dx*dx + dy*dy
					if v > closest[i] {
						v = closest[i]
					}
					cd[i] = v
					p += v
				}
			} else {
				for i := range n {
					v := min(sqDist(x[i*d:(i+1)*d], cp), closest[i])
					cd[i] = v
					p += v
				}
			}
			if p < bestPot {
				bestPot, bestT = p, t
			}
		}
		copy(centers[c*d:(c+1)*d], x[cand[bestT]*d:(cand[bestT]+1)*d])
		copy(closest, candDist[bestT])
	}
	return centers
}

func sqDist(a, b []float64) float64 {
	s := 0.0
	for j := range a {
		t := a[j] - b[j]
		s += t * t
	}
	return s
}

// assign labels every point of x with its nearest centre (ties: lowest
// index) and returns the total squared distance.
func assign(x []float64, d int, centers []float64, k int, labels []int32) float64 {
	n := len(x) / d
	total := 0.0
	if d == 2 {
		for i := range n {
			px, py := x[2*i], x[2*i+1]
			best, bi := math.Inf(1), 0
			for c := range k {
				dx, dy := px-centers[2*c], py-centers[2*c+1]
				v := dx*dx + dy*dy
				if v < best {
					best, bi = v, c
				}
			}
			labels[i] = int32(bi)
			total += best
		}
		return total
	}
	for i := range n {
		p := x[i*d : (i+1)*d]
		best, bi := math.Inf(1), 0
		for c := range k {
			v := sqDist(p, centers[c*d:(c+1)*d])
			if v < best {
				best, bi = v, c
			}
		}
		labels[i] = int32(bi)
		total += best
	}
	return total
}
