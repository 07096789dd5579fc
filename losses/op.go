package losses

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Graph appends the loss of out against target (both [n, d]) to their
// graph and returns the scalar loss node. Only out is differentiated.
func Graph(kind Kind, out, target *G.Node) (*G.Node, error) {
	if _, err := ParseKind(string(kind)); err != nil {
		return nil, err
	}
	s := out.Shape()
	if len(s) != 2 || !s.Eq(target.Shape()) {
		return nil, fmt.Errorf("losses: Graph: out shape %v and target shape %v, want equal [n, d]", s, target.Shape())
	}
	return G.ApplyOp(lossOp{kind: kind, d: s[1]}, out, target)
}

// lossOp computes the scalar loss; its gradient is lossGradOp.
type lossOp struct {
	kind Kind
	d    int
}

func (op lossOp) Arity() int { return 2 }
func (op lossOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t := G.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(t, t, a)
}
func (op lossOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return tensor.ScalarShape(), nil }
func (op lossOp) ReturnsPtr() bool                               { return false }
func (op lossOp) CallsExtern() bool                              { return false }
func (op lossOp) OverwritesInput() int                           { return -1 }
func (op lossOp) String() string                                 { return "Loss(" + string(op.kind) + ")" }
func (op lossOp) WriteHash(h hash.Hash)                          { fmt.Fprintf(h, "levyLoss-%s-%d", op.kind, op.d) }
func (op lossOp) Hashcode() uint32                               { return hashOf(op) }
func (op lossOp) DiffWRT(int) []bool                             { return []bool{true, false} }

func (op lossOp) Do(vals ...G.Value) (G.Value, error) {
	if len(vals) != 2 {
		return nil, fmt.Errorf("losses: %v takes 2 inputs, got %d", op, len(vals))
	}
	switch out := vals[0].Data().(type) {
	case []float32:
		return G.NewF32(float32(Value(op.kind, out, vals[1].Data().([]float32), nil, op.d))), nil
	case []float64:
		return G.NewF64(Value(op.kind, out, vals[1].Data().([]float64), nil, op.d)), nil
	}
	return nil, fmt.Errorf("losses: %v: unsupported dtype %v", op, vals[0].Dtype())
}

func (op lossOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	g, err := G.ApplyOp(lossGradOp(op), inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{g, nil}, nil
}

// lossGradOp returns upstream · dLoss/dout, shaped like out.
type lossGradOp lossOp

func (op lossGradOp) Arity() int { return 3 }
func (op lossGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t := G.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(t, t, a, t)
}
func (op lossGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op lossGradOp) ReturnsPtr() bool      { return false }
func (op lossGradOp) CallsExtern() bool     { return false }
func (op lossGradOp) OverwritesInput() int  { return -1 }
func (op lossGradOp) String() string        { return "LossGrad(" + string(op.kind) + ")" }
func (op lossGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "levyLossGrad-%s-%d", op.kind, op.d) }
func (op lossGradOp) Hashcode() uint32      { return hashOf(op) }

func (op lossGradOp) Do(vals ...G.Value) (G.Value, error) {
	if len(vals) != 3 {
		return nil, fmt.Errorf("losses: %v takes 3 inputs, got %d", op, len(vals))
	}
	shape := vals[0].Shape().Clone()
	switch out := vals[0].Data().(type) {
	case []float32:
		g := make([]float32, len(out))
		Value(op.kind, out, vals[1].Data().([]float32), g, op.d)
		up := vals[2].Data().(float32)
		for i := range g {
			g[i] *= up
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(g)), nil
	case []float64:
		g := make([]float64, len(out))
		Value(op.kind, out, vals[1].Data().([]float64), g, op.d)
		up := vals[2].Data().(float64)
		for i := range g {
			g[i] *= up
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(g)), nil
	}
	return nil, fmt.Errorf("losses: %v: unsupported dtype %v", op, vals[0].Dtype())
}

func hashOf(op interface{ WriteHash(hash.Hash) }) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}
