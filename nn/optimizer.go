package nn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

// Optimizer is what a trainer keeps between steps besides the network:
// the gradients accumulated since the last update, AdamW's moments and
// the number of updates taken, all flat like the weights it updates.
// It is not safe for concurrent use.
type Optimizer struct {
	w     []float32 // the network's weights
	grad  []float32
	grads []Param // grad cut like the weights
	m, v  []float32
	step  int64
}

// NewOptimizer returns an optimizer of the weights flat, whose tensors
// (in order, filling it) are params.
func NewOptimizer(flat []float32, params []Param) *Optimizer {
	n := len(flat)
	o := &Optimizer{w: flat, grad: make([]float32, n), m: make([]float32, n), v: make([]float32, n)}
	off := 0
	for _, p := range params {
		k := len(p.Data)
		o.grads = append(o.grads, Param{Name: p.Name, Shape: p.Shape, Data: o.grad[off : off+k : off+k]})
		off += k
	}
	if off != n {
		panic(fmt.Sprintf("nn: NewOptimizer: the tensors hold %d values, the weights %d", off, n))
	}
	return o
}

// Accumulate adds the float32 gradients held by nodes (in Grads order)
// to Grads, as AccumulateGrads does: a NaN or infinite loss or gradient
// returns an error wrapping ErrNonFinite and leaves Grads untouched.
func (o *Optimizer) Accumulate(loss float64, nodes G.Nodes) error {
	return AccumulateGrads(loss, nodes, o.grads)
}

// Grads returns the accumulated gradients, with the weights' names and
// shapes. Data aliases the buffers Apply reads, so a caller may average
// them in place (all-reduce) between accumulating and applying.
func (o *Optimizer) Grads() []Param { return append([]Param(nil), o.grads...) }

// Gradient returns the accumulated gradients as one flat slice (it
// aliases Grads).
func (o *Optimizer) Gradient() []float32 { return o.grad }

// Steps is the number of updates taken.
func (o *Optimizer) Steps() int64 { return o.step }

// Apply takes one update with the hyper-parameters a and zeroes the
// gradients.
func (o *Optimizer) Apply(a AdamW) {
	o.step++
	a.Update(o.step, o.w, o.grad, o.m, o.v)
	clear(o.grad)
}

// State returns a copy of the optimiser state.
func (o *Optimizer) State() OptimState {
	s := OptimState{Step: o.step}
	lo := 0
	for _, p := range o.grads {
		hi := lo + len(p.Data)
		s.M = append(s.M, append([]float32(nil), o.m[lo:hi]...))
		s.V = append(s.V, append([]float32(nil), o.v[lo:hi]...))
		lo = hi
	}
	return s
}

// SetState restores a state taken by State (from an optimizer of the
// same network). On error nothing changes.
func (o *Optimizer) SetState(s OptimState) error {
	if s.Step < 0 {
		return fmt.Errorf("nn: SetState: Step = %d, want ≥ 0", s.Step)
	}
	if len(s.M) != len(o.grads) || len(s.V) != len(o.grads) {
		return fmt.Errorf("nn: SetState: %d/%d moment tensors, want %d", len(s.M), len(s.V), len(o.grads))
	}
	for i, p := range o.grads {
		if len(s.M[i]) != len(p.Data) || len(s.V[i]) != len(p.Data) {
			return fmt.Errorf("nn: SetState: moments of %s have %d/%d values, want %d",
				p.Name, len(s.M[i]), len(s.V[i]), len(p.Data))
		}
	}
	lo := 0
	for i, p := range o.grads {
		copy(o.m[lo:], s.M[i])
		copy(o.v[lo:], s.V[i])
		lo += len(p.Data)
	}
	o.step = s.Step
	return nil
}
