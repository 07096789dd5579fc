package unet

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"github.com/levy-ml/levy/nn"
)

// checkFn compares f's backward pass with central finite differences of
// L = Σ R∘f(in) for random inputs and weights R, in float64. Every input
// element whose gradient f computes is checked when there are few, else
// a random sample of 60 per input. tol bounds |analytic − numeric| /
// (1 + |numeric|); with step 1e−6 the truncation error is O(1e−12) and
// the rounding error O(1e−10), so 1e−6 leaves a wide margin while a
// wrong formula is off by O(1).
func checkFn(t *testing.T, f nn.Fn[float64], shapes []tensor.Shape, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	in := make([][]float64, len(shapes))
	for i, s := range shapes {
		in[i] = make([]float64, s.TotalSize())
		for j := range in[i] {
			in[i][j] = rng.NormFloat64()
		}
	}
	os, err := f.Shape(shapes)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, os.TotalSize())
	R := make([]float64, len(out))
	for j := range R {
		R[j] = rng.NormFloat64()
	}
	loss := func() float64 {
		f.Forward(out, in)
		var s float64
		for j, v := range out {
			s += v * R[j]
		}
		return s
	}
	loss()
	d := make([][]float64, len(in))
	for i, ok := range f.Diff() {
		if ok {
			d[i] = make([]float64, len(in[i]))
			for j := range d[i] {
				d[i][j] = math.NaN() // must be overwritten
			}
		}
	}
	f.Backward(d, R, out, in)
	const h, tol = 1e-6, 1e-6
	worst := 0.0
	for i := range in {
		if d[i] == nil {
			continue
		}
		idx := rng.Perm(len(in[i]))
		if len(idx) > 60 {
			idx = idx[:60]
		}
		for _, j := range idx {
			v := in[i][j]
			in[i][j] = v + h
			lp := loss()
			in[i][j] = v - h
			lm := loss()
			in[i][j] = v
			num := (lp - lm) / (2 * h)
			e := math.Abs(d[i][j]-num) / (1 + math.Abs(num))
			worst = max(worst, e)
			if !(e <= tol) {
				t.Fatalf("%v: d input %d [%d] = %.9g, finite differences %.9g", f, i, j, d[i][j], num)
			}
		}
	}
	t.Logf("%v: worst relative error %.2g", f, worst)
}

func TestConvGradients(t *testing.T) {
	for _, g := range []convGeom{
		{B: 2, Ci: 3, H: 6, W: 5, Co: 4, K: 3, S: 1},
		{B: 2, Ci: 2, H: 8, W: 8, Co: 3, K: 3, S: 2},
		{B: 3, Ci: 4, H: 4, W: 4, Co: 5, K: 1, S: 1},
		{B: 1, Ci: 2, H: 7, W: 7, Co: 2, K: 3, S: 2},
	} {
		checkFn(t, &convFn[float64]{g: g}, []tensor.Shape{{g.B, g.Ci, g.H, g.W}, {g.Co, g.Ci, g.K, g.K}, {g.Co}}, 1)
	}
}

func TestGroupNormGradients(t *testing.T) {
	for _, c := range []struct {
		b, c, h, w, g int
		ss, silu      bool
	}{{2, 4, 3, 3, 2, false, false}, {2, 4, 3, 3, 4, false, true}, {2, 6, 2, 3, 3, true, true}, {1, 4, 4, 4, 1, true, false}} {
		f := newGN[float64](c.b, c.c, c.h, c.w, c.g, c.ss, c.silu)
		shapes := []tensor.Shape{{c.b, c.c, c.h, c.w}, {c.c}, {c.c}}
		if c.ss {
			shapes = append(shapes, tensor.Shape{c.b, 2 * c.c})
		}
		checkFn(t, f, shapes, 2)
	}
}

func TestSmallFnGradients(t *testing.T) {
	checkFn(t, &linearFn[float64]{n: 3, in: 5, out: 4}, []tensor.Shape{{3, 5}, {4, 5}, {4}}, 3)
	checkFn(t, siluFn[float64]{}, []tensor.Shape{{2, 3, 4}}, 4)
	checkFn(t, addFn[float64]{}, []tensor.Shape{{2, 3}, {2, 3}}, 5)
	checkFn(t, &upFn[float64]{B: 2, C: 2, H: 3, W: 3}, []tensor.Shape{{2, 2, 3, 3}}, 6)
	checkFn(t, &concatFn[float64]{B: 2, Ca: 2, Cb: 3, P: 4}, []tensor.Shape{{2, 2, 2, 2}, {2, 3, 2, 2}}, 7)
	checkFn(t, newAttn[float64](2, 4, 3, 3, 2), []tensor.Shape{{2, 12, 3, 3}}, 8)
	checkFn(t, newAttn[float64](1, 6, 2, 2, 1), []tensor.Shape{{1, 18, 2, 2}}, 9)
}

// TestClassifierFnGradients: the classifier's global average pool, and
// its cross-entropy for one-hot labels (the gradient p − y holds only
// when each label row sums to 1, so the labels are fixed here).
func TestClassifierFnGradients(t *testing.T) {
	checkFn(t, &poolFn[float64]{B: 2, C: 3, P: 5}, []tensor.Shape{{2, 3, 5}}, 10)

	const n, k, h = 3, 4, 1e-6
	rng := rand.New(rand.NewPCG(11, 7))
	logits := make([]float64, n*k)
	for i := range logits {
		logits[i] = 2 * rng.NormFloat64()
	}
	y := make([]float64, n*k)
	for i := range n {
		y[i*k+rng.IntN(k)] = 1
	}
	f := &xentFn[float64]{n: n, k: k}
	out := make([]float64, 1)
	loss := func() float64 { f.Forward(out, [][]float64{logits, y}); return out[0] }
	d := [][]float64{make([]float64, n*k), nil}
	f.Backward(d, []float64{1}, out, [][]float64{logits, y})
	for j := range logits {
		v := logits[j]
		logits[j] = v + h
		lp := loss()
		logits[j] = v - h
		lm := loss()
		logits[j] = v
		num := (lp - lm) / (2 * h)
		if math.Abs(d[0][j]-num) > 1e-6*(1+math.Abs(num)) {
			t.Fatalf("d logits[%d] = %.9g, finite differences %.9g", j, d[0][j], num)
		}
	}
}
