package metrics

import (
	"fmt"
	"math"
)

// KNNPrecisionRecall computes the k-NN manifold precision and recall of
// Kynkäänniemi et al. (2019), as in prdc.compute_prdc (docs/algorithms.md §7.2 b;
// the image pipeline uses k = 5). The radius of a point is the distance to
// its k-th nearest neighbour within its own set, the point itself excluded
// (exact duplicates count as neighbours). precision is the fraction of
// generated points strictly inside at least one real ball; recall is the
// fraction of real points strictly inside at least one generated ball.
// Each set needs more than k points. The search uses a k-d tree, exact.
func KNNPrecisionRecall(real, gen []float64, d, k int) (precision, recall float64, err error) {
	nr, err := checkSet("real", real, d)
	if err != nil {
		return 0, 0, err
	}
	ng, err := checkSet("generated", gen, d)
	if err != nil {
		return 0, 0, err
	}
	if k < 1 {
		return 0, 0, fmt.Errorf("metrics: KNNPrecisionRecall: k = %d must be >= 1", k)
	}
	if nr <= k || ng <= k {
		return 0, 0, fmt.Errorf("metrics: KNNPrecisionRecall: each set needs more than k = %d points (got %d real, %d generated)", k, nr, ng)
	}
	rt := newKDTree(real, d)
	gt := newKDTree(gen, d)
	rt.setRadii(k)
	gt.setRadii(k)

	inR := 0
	for i := range ng {
		if rt.inAnyBall(gen[i*d : (i+1)*d]) {
			inR++
		}
	}
	inG := 0
	for i := range nr {
		if gt.inAnyBall(real[i*d : (i+1)*d]) {
			inG++
		}
	}
	return float64(inR) / float64(ng), float64(inG) / float64(nr), nil
}

// F1 returns the harmonic mean 2pr/(p+r) (0 when p + r = 0).
func F1(p, r float64) float64 {
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

const kdLeafSize = 12

// kdTree is a static k-d tree over a flat point set. Points are stored
// permuted (pts) so that every node covers a contiguous range.
type kdTree struct {
	d     int
	pts   []float64 // permuted copy, row-major
	idx   []int32   // pts row i is original point idx[i]
	nodes []kdNode
	box   []float64 // per node: d mins then d maxs
	r2    []float64 // squared radius per permuted point (after setRadii)
}

type kdNode struct {
	lo, hi      int32 // point range [lo, hi)
	left, right int32 // children, -1 for a leaf
	maxR2       float64
}

func newKDTree(x []float64, d int) *kdTree {
	n := len(x) / d
	t := &kdTree{d: d, idx: make([]int32, n)}
	for i := range t.idx {
		t.idx[i] = int32(i)
	}
	t.build(x, 0, n)
	t.pts = make([]float64, n*d)
	for i, o := range t.idx {
		copy(t.pts[i*d:(i+1)*d], x[int(o)*d:(int(o)+1)*d])
	}
	t.box = make([]float64, len(t.nodes)*2*d)
	for ni := range t.nodes {
		t.computeBox(ni)
	}
	return t
}

// build creates the node for idx[lo:hi] and returns its index.
func (t *kdTree) build(x []float64, lo, hi int) int32 {
	d := t.d
	ni := int32(len(t.nodes))
	t.nodes = append(t.nodes, kdNode{lo: int32(lo), hi: int32(hi), left: -1, right: -1})
	if hi-lo <= kdLeafSize {
		return ni
	}
	// Split on the dimension of largest spread at the median.
	bestDim, bestSpread := 0, -1.0
	for j := range d {
		mn, mx := math.Inf(1), math.Inf(-1)
		for _, o := range t.idx[lo:hi] {
			v := x[int(o)*d+j]
			mn = math.Min(mn, v)
			mx = math.Max(mx, v)
		}
		if mx-mn > bestSpread {
			bestDim, bestSpread = j, mx-mn
		}
	}
	if bestSpread <= 0 {
		return ni // all points identical
	}
	mid := (lo + hi) / 2
	selectNth(t.idx[lo:hi], mid-lo, func(o int32) float64 { return x[int(o)*d+bestDim] })
	l := t.build(x, lo, mid)
	r := t.build(x, mid, hi)
	t.nodes[ni].left, t.nodes[ni].right = l, r
	return ni
}

// selectNth partially orders a so that a[nth] holds the element of rank nth
// by key, smaller-or-equal keys before it and larger-or-equal after it.
func selectNth(a []int32, nth int, key func(int32) float64) {
	lo, hi := 0, len(a)-1
	for lo < hi {
		// Median-of-three pivot.
		m := lo + (hi-lo)/2
		if key(a[m]) < key(a[lo]) {
			a[m], a[lo] = a[lo], a[m]
		}
		if key(a[hi]) < key(a[lo]) {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if key(a[hi]) < key(a[m]) {
			a[hi], a[m] = a[m], a[hi]
		}
		pv := key(a[m])
		i, j := lo, hi
		for i <= j {
			for key(a[i]) < pv {
				i++
			}
			for key(a[j]) > pv {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case nth <= j:
			hi = j
		case nth >= i:
			lo = i
		default:
			return
		}
	}
}

func (t *kdTree) computeBox(ni int) {
	d := t.d
	b := t.box[ni*2*d : (ni+1)*2*d]
	for j := range d {
		b[j], b[d+j] = math.Inf(1), math.Inf(-1)
	}
	nd := t.nodes[ni]
	for i := nd.lo; i < nd.hi; i++ {
		p := t.pts[int(i)*d : int(i+1)*d]
		for j, v := range p {
			b[j] = math.Min(b[j], v)
			b[d+j] = math.Max(b[d+j], v)
		}
	}
}

// boxDist2 is the squared distance from q to the bounding box of node ni.
func (t *kdTree) boxDist2(ni int32, q []float64) float64 {
	d := t.d
	b := t.box[int(ni)*2*d : int(ni+1)*2*d]
	s := 0.0
	for j, v := range q {
		if v < b[j] {
			e := b[j] - v
			s += e * e
		} else if v > b[d+j] {
			e := v - b[d+j]
			s += e * e
		}
	}
	return s
}

// setRadii stores, for every point, the squared distance to its k-th nearest
// neighbour other than itself, and the per-node maxima.
func (t *kdTree) setRadii(k int) {
	d := t.d
	n := len(t.idx)
	t.r2 = make([]float64, n)
	best := make([]float64, k+1) // ascending k+1 smallest squared distances
	for i := range n {
		for j := range best {
			best[j] = math.Inf(1)
		}
		t.knn(0, t.pts[i*d:(i+1)*d], best)
		// best[0] is the point itself (distance 0); best[k] the k-th other.
		t.r2[i] = best[k]
	}
	t.fillMaxR2(0)
}

func (t *kdTree) fillMaxR2(ni int32) float64 {
	nd := &t.nodes[ni]
	if nd.left < 0 {
		m := 0.0
		for i := nd.lo; i < nd.hi; i++ {
			m = math.Max(m, t.r2[i])
		}
		nd.maxR2 = m
		return m
	}
	m := math.Max(t.fillMaxR2(nd.left), t.fillMaxR2(nd.right))
	t.nodes[ni].maxR2 = m
	return m
}

// dist2 is the squared distance from point i to q, with a 2-D fast path.
func (t *kdTree) dist2(i int32, q []float64) float64 {
	if t.d == 2 {
		dx, dy := t.pts[2*i]-q[0], t.pts[2*i+1]-q[1]
		return dx*dx + dy*dy
	}
	return sqDist(t.pts[int(i)*t.d:int(i+1)*t.d], q)
}

// knn updates best (ascending squared distances, fixed length) with the
// points of node ni.
func (t *kdTree) knn(ni int32, q []float64, best []float64) {
	nd := t.nodes[ni]
	last := len(best) - 1
	if nd.left < 0 {
		for i := nd.lo; i < nd.hi; i++ {
			v := t.dist2(i, q)
			if v < best[last] {
				j := last
				for j > 0 && best[j-1] > v {
					best[j] = best[j-1]
					j--
				}
				best[j] = v
			}
		}
		return
	}
	dl, dr := t.boxDist2(nd.left, q), t.boxDist2(nd.right, q)
	first, second, d2 := nd.left, nd.right, dr
	if dr < dl {
		first, second, d2 = nd.right, nd.left, dl
		dl = dr
	}
	if dl < best[last] {
		t.knn(first, q, best)
	}
	if d2 < best[last] {
		t.knn(second, q, best)
	}
}

// inAnyBall reports whether ‖q − p‖² < r2(p) for some point p of the tree.
func (t *kdTree) inAnyBall(q []float64) bool {
	return t.ball(0, q)
}

func (t *kdTree) ball(ni int32, q []float64) bool {
	nd := t.nodes[ni]
	if nd.left < 0 {
		for i := nd.lo; i < nd.hi; i++ {
			if t.dist2(i, q) < t.r2[i] {
				return true
			}
		}
		return false
	}
	dl, dr := t.boxDist2(nd.left, q), t.boxDist2(nd.right, q)
	a, b := nd.left, nd.right
	if dr < dl {
		a, b = b, a
		dl, dr = dr, dl
	}
	if dl < t.nodes[a].maxR2 && t.ball(a, q) {
		return true
	}
	return dr < t.nodes[b].maxR2 && t.ball(b, q)
}
