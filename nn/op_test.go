package nn

import (
	"fmt"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// mulFn: (a, b) → a⊙b, with b data (no gradient).
type mulFn struct{}

func (mulFn) String() string { return "Mul" }
func (mulFn) Diff() []bool   { return []bool{true, false} }
func (mulFn) Shape(in []tensor.Shape) (tensor.Shape, error) {
	if !in[0].Eq(in[1]) {
		return nil, fmt.Errorf("Mul: shapes %v and %v", in[0], in[1])
	}
	return in[0].Clone(), nil
}
func (mulFn) Forward(out []float64, in [][]float64) {
	for i := range out {
		out[i] = in[0][i] * in[1][i]
	}
}
func (mulFn) Backward(d [][]float64, dy, _ []float64, in [][]float64) {
	if d[1] != nil {
		panic("Mul: a gradient slice for the data input")
	}
	for i := range dy {
		d[0][i] = dy[i] * in[1][i]
	}
}

// sqSumFn: (a, b) → (a+b)², or a+b when linear.
type sqSumFn struct{ linear bool }

func (f sqSumFn) String() string { return fmt.Sprintf("SqSum(%v)", f.linear) }
func (f sqSumFn) Linear() bool   { return f.linear }
func (sqSumFn) Diff() []bool     { return []bool{true, true} }
func (sqSumFn) Shape(in []tensor.Shape) (tensor.Shape, error) {
	return in[0].Clone(), nil
}
func (f sqSumFn) Forward(out []float64, in [][]float64) {
	for i := range out {
		s := in[0][i] + in[1][i]
		out[i] = s
		if !f.linear {
			out[i] = s * s
		}
	}
}
func (f sqSumFn) Backward(d [][]float64, dy, _ []float64, in [][]float64) {
	if f.linear || d[1] != nil {
		panic("SqSum: Backward called for a linear sum, or with a second gradient slice")
	}
	for i := range dy {
		d[0][i] = 2 * (in[0][i] + in[1][i]) * dy[i]
	}
}

// gradsOf builds loss = Σ R⊙f(a, b) on [2,3] inputs, runs it twice
// (the second run reuses every buffer) and returns a, b, R and the
// gradients of a and b (nil where Diff is false).
func gradsOf(t *testing.T, f Fn[float64]) (a, b, r []float64, da, db []float64) {
	t.Helper()
	g := NewGraph()
	a, b, r = []float64{1, -2, 3, 0.5, 4, -1}, []float64{2, 1, -1, 3, 0.25, 2}, []float64{1, 2, 3, -1, -2, 0.5}
	node := func(name string, v []float64) *G.Node {
		return G.NewMatrix(g, tensor.Float64, G.WithShape(2, 3), G.WithName(name),
			G.WithValue(tensor.New(tensor.WithShape(2, 3), tensor.WithBacking(v))))
	}
	an, bn, rn := node("a", a), node("b", b), node("R", r)
	y, err := Apply(f, an, bn)
	if err != nil {
		t.Fatal(err)
	}
	prod, err := G.HadamardProd(y, rn)
	if err != nil {
		t.Fatal(err)
	}
	loss, err := G.Sum(prod)
	if err != nil {
		t.Fatal(err)
	}
	wrt := G.Nodes{an}
	if f.Diff()[1] {
		wrt = append(wrt, bn)
	}
	grads, err := G.Grad(loss, wrt...)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	for range 2 {
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
	}
	da = append([]float64(nil), grads[0].Value().Data().([]float64)...)
	if len(grads) > 1 {
		db = append([]float64(nil), grads[1].Value().Data().([]float64)...)
	}
	return a, b, r, da, db
}

func TestApplyPacksTheDifferentiatedInputs(t *testing.T) {
	_, b, r, da, db := gradsOf(t, mulFn{})
	for i := range da {
		if want := b[i] * r[i]; da[i] != want {
			t.Errorf("∂a[%d] = %v, want %v", i, da[i], want)
		}
	}
	if db != nil {
		t.Errorf("∂b = %v for a data input", db)
	}
}

func TestApplySharesASumsGradient(t *testing.T) {
	for _, linear := range []bool{true, false} {
		a, b, r, da, db := gradsOf(t, sqSumFn{linear: linear})
		for i := range da {
			want := r[i]
			if !linear {
				want = 2 * (a[i] + b[i]) * r[i]
			}
			if da[i] != want || db[i] != want {
				t.Errorf("linear %v: ∂a[%d], ∂b[%d] = %v, %v, want %v", linear, i, i, da[i], db[i], want)
			}
		}
	}
}

func TestApplyRejectsBadShapes(t *testing.T) {
	g := NewGraph()
	a := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 3), G.WithName("a"))
	b := G.NewMatrix(g, tensor.Float64, G.WithShape(3, 2), G.WithName("b"))
	if _, err := Apply[float64](mulFn{}, a, b); err == nil {
		t.Error("Apply accepted inputs of shapes [2 3] and [3 2]")
	}
}
