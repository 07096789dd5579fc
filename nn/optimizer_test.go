package nn

import (
	"errors"
	"math"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// twoTensors is a network of two tensors, w [2] and b [1], over one flat
// slice.
func twoTensors() ([]float32, []Param) {
	flat := []float32{0.5, -1, 2}
	return flat, []Param{{Name: "w", Shape: []int{2}, Data: flat[:2]}, {Name: "b", Shape: []int{1}, Data: flat[2:]}}
}

// gradNodes returns float32 nodes holding the given gradients.
func gradNodes(gs ...[]float32) G.Nodes {
	g := NewGraph()
	var ns G.Nodes
	for _, d := range gs {
		ns = append(ns, G.NewVector(g, tensor.Float32, G.WithShape(len(d)),
			G.WithValue(tensor.New(tensor.WithShape(len(d)), tensor.WithBacking(d)))))
	}
	return ns
}

func TestOptimizerAccumulatesAndApplies(t *testing.T) {
	flat, params := twoTensors()
	o := NewOptimizer(flat, params)
	for range 2 {
		if err := o.Accumulate(1, gradNodes([]float32{0.1, -0.2}, []float32{0.3})); err != nil {
			t.Fatal(err)
		}
	}
	gs := o.Grads()
	if gs[0].Name != "w" || gs[1].Name != "b" || !slices.Equal(o.Gradient(), []float32{0.2, -0.4, 0.6}) {
		t.Fatalf("Grads %v, Gradient %v: want w, b and twice the gradients", gs, o.Gradient())
	}
	gs[1].Data[0] = 0 // Grads aliases the buffer Apply reads
	if o.Gradient()[2] != 0 {
		t.Fatal("Grads does not alias Gradient")
	}
	err := o.Accumulate(1, gradNodes([]float32{1, float32(math.NaN())}, []float32{1}))
	if !errors.Is(err, ErrNonFinite) || !slices.Equal(o.Gradient(), []float32{0.2, -0.4, 0}) {
		t.Fatalf("NaN gradient: err %v, Gradient %v: want ErrNonFinite and no change", err, o.Gradient())
	}
	if err := o.Accumulate(math.Inf(1), gradNodes([]float32{1, 1}, []float32{1})); !errors.Is(err, ErrNonFinite) {
		t.Fatalf("infinite loss: err %v, want ErrNonFinite", err)
	}

	w := slices.Clone(flat)
	m, v := make([]float32, 3), make([]float32, 3)
	DefaultAdamW().Update(1, w, []float32{0.2, -0.4, 0}, m, v)
	o.Apply(DefaultAdamW())
	if !slices.Equal(flat, w) || o.Steps() != 1 || !slices.Equal(o.Gradient(), make([]float32, 3)) {
		t.Fatalf("after Apply: weights %v (want %v), %d steps, gradient %v (want zero)", flat, w, o.Steps(), o.Gradient())
	}
	s := o.State()
	if s.Step != 1 || !slices.Equal(s.M[0], m[:2]) || !slices.Equal(s.V[1], v[2:]) {
		t.Fatalf("State %+v, want step 1 and moments %v, %v", s, m, v)
	}
}

func TestOptimizerSetState(t *testing.T) {
	flat, params := twoTensors()
	o := NewOptimizer(flat, params)
	good := OptimState{Step: 7, M: [][]float32{{1, 2}, {3}}, V: [][]float32{{4, 5}, {6}}}
	for name, s := range map[string]OptimState{
		"negative step": {Step: -1, M: good.M, V: good.V},
		"one tensor":    {Step: 7, M: good.M[:1], V: good.V[:1]},
		"short moment":  {Step: 7, M: [][]float32{{1, 2}, {}}, V: good.V},
	} {
		if err := o.SetState(s); err == nil {
			t.Errorf("%s: SetState accepted %+v", name, s)
		}
		if st := o.State(); st.Step != 0 || st.M[0][0] != 0 || st.V[1][0] != 0 {
			t.Errorf("%s: a rejected SetState changed the state to %+v", name, st)
		}
	}
	if err := o.SetState(good); err != nil {
		t.Fatal(err)
	}
	st := o.State()
	if st.Step != 7 || !slices.Equal(st.M[0], good.M[0]) || !slices.Equal(st.V[1], good.V[1]) {
		t.Errorf("State after SetState = %+v, want %+v", st, good)
	}
	st.M[0][0] = 99 // State returns a copy
	if o.State().M[0][0] != 1 {
		t.Error("State aliases the optimizer's moments")
	}
}
