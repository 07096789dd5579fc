package mlp

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The network's gorgonia Ops. Each forward op has a symbolic derivative
// built from the backward ops below, and all of them run the kernels of
// kernels.go, in float32 or float64. Every op node owns its output
// buffer and reuses it on the next run of the tape, so a training step
// allocates almost nothing; a value read from the graph is valid until
// the next run.

// outBuf is an op node's reusable output tensor.
type outBuf struct{ t *tensor.Dense }

func (b *outBuf) get(dt tensor.Dtype, shape ...int) *tensor.Dense {
	if b.t == nil || b.t.Dtype() != dt || !b.t.Shape().Eq(tensor.Shape(shape)) {
		b.t = tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
	}
	return b.t
}

func slice[F float](v G.Value) []F { return v.Data().([]F) }

// keepSigma lets the SiLU ops keep σ for their backward pass (benchmarks
// switch it off to measure what it buys).
var keepSigma = true

// keep returns the buffer a SiLU op keeps its sigmoids in, or nil.
func keep[F float](b *outBuf, silu bool, n, h int) []F {
	if b == nil || !silu || !keepSigma {
		return nil
	}
	var z F
	dt := tensor.Float64
	if _, ok := any(z).(float32); ok {
		dt = tensor.Float32
	}
	return b.get(dt, n, h).Data().([]F)
}

// kept returns the sigmoids a forward op kept, or nil if it kept none of
// this type and size (the backward kernels then recompute them).
func kept[F float](b *outBuf, size int) []F {
	if b == nil || !keepSigma || b.t == nil || b.t.Shape().TotalSize() != size {
		return nil
	}
	d, _ := b.t.Data().([]F)
	return d
}

func hashOf(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// base holds what the ops share.
type base struct{ out *outBuf }

func newBase() base                          { return base{out: new(outBuf)} }
func (base) ReturnsPtr() bool                { return false }
func (base) CallsExtern() bool               { return false }
func (base) OverwritesInput() int            { return -1 }
func tt(dims int, a hm.TypeVariable) hm.Type { return G.TensorType{Dims: dims, Of: a} }

func errDtype(op fmt.Stringer, v G.Value) error {
	return fmt.Errorf("mlp: %v: unsupported dtype %v", op, v.Dtype())
}

// ---- Linear: z = x·wᵀ + b, x [n,in], w [out,in], b [out] ----

type linearOp struct {
	base
	noDX bool // x is data: skip its gradient
}

func (op linearOp) Arity() int { return 3 }
func (op linearOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(tt(2, a), tt(2, a), tt(1, a), tt(2, a))
}
func (op linearOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	x, w := in[0].(tensor.Shape), in[1].(tensor.Shape)
	if len(x) != 2 || len(w) != 2 || x[1] != w[1] {
		return nil, fmt.Errorf("mlp: Linear: x %v, w %v: want [n,in] and [out,in]", x, w)
	}
	return tensor.Shape{x[0], w[0]}, nil
}
func (op linearOp) String() string        { return fmt.Sprintf("Linear(noDX=%v)", op.noDX) }
func (op linearOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "levyMLP.", op.String()) }
func (op linearOp) Hashcode() uint32      { return hashOf(op.String()) }
func (op linearOp) DiffWRT(int) []bool    { return []bool{!op.noDX, true, true} }

func (op linearOp) Do(v ...G.Value) (G.Value, error) {
	n, in, out := v[0].Shape()[0], v[0].Shape()[1], v[1].Shape()[0]
	z := op.out.get(v[0].Dtype(), n, out)
	switch v[0].Dtype() {
	case tensor.Float32:
		linearFwd(slice[float32](z), slice[float32](v[0]), slice[float32](v[1]), slice[float32](v[2]), n, in, out)
	case tensor.Float64:
		linearFwd(slice[float64](z), slice[float64](v[0]), slice[float64](v[1]), slice[float64](v[2]), n, in, out)
	default:
		return nil, errDtype(op, v[0])
	}
	return z, nil
}

func (op linearOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d := make(G.Nodes, 3)
	var err error
	if !op.noDX {
		if d[0], err = G.ApplyOp(linearDXOp{newBase()}, grad, in[1]); err != nil {
			return nil, err
		}
	}
	if d[1], err = G.ApplyOp(linearDWOp{newBase()}, grad, in[0]); err != nil {
		return nil, err
	}
	if d[2], err = G.ApplyOp(colSumOp{newBase()}, grad); err != nil {
		return nil, err
	}
	return d, nil
}

// linearDXOp: (dz [n,out], w [out,in]) → dx = dz·w [n,in].
type linearDXOp struct{ base }

func (op linearDXOp) Arity() int { return 2 }
func (op linearDXOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(tt(2, a), tt(2, a), tt(2, a))
}
func (op linearDXOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{in[0].(tensor.Shape)[0], in[1].(tensor.Shape)[1]}, nil
}
func (op linearDXOp) String() string        { return "LinearDX" }
func (op linearDXOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "levyMLP.", op.String()) }
func (op linearDXOp) Hashcode() uint32      { return hashOf(op.String()) }

func (op linearDXOp) Do(v ...G.Value) (G.Value, error) {
	n, out, in := v[0].Shape()[0], v[1].Shape()[0], v[1].Shape()[1]
	dx := op.out.get(v[0].Dtype(), n, in)
	switch v[0].Dtype() {
	case tensor.Float32:
		linearDX(slice[float32](dx), slice[float32](v[0]), slice[float32](v[1]), n, in, out)
	case tensor.Float64:
		linearDX(slice[float64](dx), slice[float64](v[0]), slice[float64](v[1]), n, in, out)
	default:
		return nil, errDtype(op, v[0])
	}
	return dx, nil
}

// linearDWOp: (dz [n,out], x [n,in]) → dw = dzᵀ·x [out,in].
type linearDWOp struct{ base }

func (op linearDWOp) Arity() int { return 2 }
func (op linearDWOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(tt(2, a), tt(2, a), tt(2, a))
}
func (op linearDWOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{in[0].(tensor.Shape)[1], in[1].(tensor.Shape)[1]}, nil
}
func (op linearDWOp) String() string        { return "LinearDW" }
func (op linearDWOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "levyMLP.", op.String()) }
func (op linearDWOp) Hashcode() uint32      { return hashOf(op.String()) }

func (op linearDWOp) Do(v ...G.Value) (G.Value, error) {
	n, out, in := v[0].Shape()[0], v[0].Shape()[1], v[1].Shape()[1]
	dw := op.out.get(v[0].Dtype(), out, in)
	switch v[0].Dtype() {
	case tensor.Float32:
		linearDW(slice[float32](dw), slice[float32](v[0]), slice[float32](v[1]), n, in, out)
	case tensor.Float64:
		linearDW(slice[float64](dw), slice[float64](v[0]), slice[float64](v[1]), n, in, out)
	default:
		return nil, errDtype(op, v[0])
	}
	return dw, nil
}

// colSumOp: dz [n,out] → db [out], the sum over rows.
type colSumOp struct{ base }

func (op colSumOp) Arity() int { return 1 }
func (op colSumOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(tt(2, a), tt(1, a))
}
func (op colSumOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{in[0].(tensor.Shape)[1]}, nil
}
func (op colSumOp) String() string        { return "ColSum" }
func (op colSumOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "levyMLP.", op.String()) }
func (op colSumOp) Hashcode() uint32      { return hashOf(op.String()) }

func (op colSumOp) Do(v ...G.Value) (G.Value, error) {
	n, out := v[0].Shape()[0], v[0].Shape()[1]
	db := op.out.get(v[0].Dtype(), out)
	switch v[0].Dtype() {
	case tensor.Float32:
		colSum(slice[float32](db), slice[float32](v[0]), n, out)
	case tensor.Float64:
		colSum(slice[float64](db), slice[float64](v[0]), n, out)
	default:
		return nil, errDtype(op, v[0])
	}
	return db, nil
}

// ---- LayerNorm (+ SiLU): y = act(LN(z)·g + beta), z [n,h], g, beta [h] ----

type lnActOp struct {
	base
	silu bool
	sig  *outBuf // σ of the SiLU, kept for lnActGradOp
}

func (op lnActOp) Arity() int { return 3 }
func (op lnActOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(tt(2, a), tt(1, a), tt(1, a), tt(2, a))
}
func (op lnActOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op lnActOp) String() string        { return fmt.Sprintf("LayerNorm(silu=%v)", op.silu) }
func (op lnActOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "levyMLP.", op.String()) }
func (op lnActOp) Hashcode() uint32      { return hashOf(op.String()) }
func (op lnActOp) DiffWRT(int) []bool    { return []bool{true, true, true} }

func (op lnActOp) Do(v ...G.Value) (G.Value, error) {
	n, h := v[0].Shape()[0], v[0].Shape()[1]
	y := op.out.get(v[0].Dtype(), n, h)
	switch v[0].Dtype() {
	case tensor.Float32:
		lnActFwd(slice[float32](y), slice[float32](v[0]), slice[float32](v[1]), slice[float32](v[2]), keep[float32](op.sig, op.silu, n, h), n, h, op.silu)
	case tensor.Float64:
		lnActFwd(slice[float64](y), slice[float64](v[0]), slice[float64](v[1]), slice[float64](v[2]), keep[float64](op.sig, op.silu, n, h), n, h, op.silu)
	default:
		return nil, errDtype(op, v[0])
	}
	return y, nil
}

func (op lnActOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	n := in[0].Shape()[0]
	packed, err := G.ApplyOp(lnActGradOp{newBase(), op.silu, op.sig}, in[0], in[1], in[2], grad)
	if err != nil {
		return nil, err
	}
	d := make(G.Nodes, 3)
	for i, r := range [][2]int{{0, n}, {n, n + 1}, {n + 1, n + 2}} {
		if d[i], err = G.ApplyOp(rowsOp{lo: r[0], hi: r[1], vec: i > 0}, packed); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// lnActGradOp: (z, g, beta, dy) → [n+2,h]: dz, then dg, then dbeta.
type lnActGradOp struct {
	base
	silu bool
	sig  *outBuf // the forward op's σ
}

func (op lnActGradOp) Arity() int { return 4 }
func (op lnActGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(tt(2, a), tt(1, a), tt(1, a), tt(2, a), tt(2, a))
}
func (op lnActGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s := in[0].(tensor.Shape)
	return tensor.Shape{s[0] + 2, s[1]}, nil
}
func (op lnActGradOp) String() string        { return fmt.Sprintf("LayerNormGrad(silu=%v)", op.silu) }
func (op lnActGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "levyMLP.", op.String()) }
func (op lnActGradOp) Hashcode() uint32      { return hashOf(op.String()) }

func (op lnActGradOp) Do(v ...G.Value) (G.Value, error) {
	n, h := v[0].Shape()[0], v[0].Shape()[1]
	out := op.out.get(v[0].Dtype(), n+2, h)
	switch v[0].Dtype() {
	case tensor.Float32:
		lnActBwd(slice[float32](out), slice[float32](v[0]), slice[float32](v[1]), slice[float32](v[2]), slice[float32](v[3]), kept[float32](op.sig, n*h), n, h, op.silu)
	case tensor.Float64:
		lnActBwd(slice[float64](out), slice[float64](v[0]), slice[float64](v[1]), slice[float64](v[2]), slice[float64](v[3]), kept[float64](op.sig, n*h), n, h, op.silu)
	default:
		return nil, errDtype(op, v[0])
	}
	return out, nil
}

// rowsOp views rows [lo, hi) of a matrix without copying; vec makes a
// single row a vector.
type rowsOp struct {
	lo, hi int
	vec    bool
}

func (op rowsOp) Arity() int { return 1 }
func (op rowsOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	if op.vec {
		return hm.NewFnType(tt(2, a), tt(1, a))
	}
	return hm.NewFnType(tt(2, a), tt(2, a))
}
func (op rowsOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if op.vec {
		return tensor.Shape{in[0].(tensor.Shape)[1]}, nil
	}
	return tensor.Shape{op.hi - op.lo, in[0].(tensor.Shape)[1]}, nil
}
func (op rowsOp) ReturnsPtr() bool      { return false }
func (op rowsOp) CallsExtern() bool     { return false }
func (op rowsOp) OverwritesInput() int  { return -1 }
func (op rowsOp) String() string        { return fmt.Sprintf("Rows[%d:%d]", op.lo, op.hi) }
func (op rowsOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "levyMLP.", op.String(), op.vec) }
func (op rowsOp) Hashcode() uint32      { return hashOf(fmt.Sprint(op.String(), op.vec)) }

func (op rowsOp) Do(v ...G.Value) (G.Value, error) {
	w := v[0].Shape()[1]
	shape := []int{op.hi - op.lo, w}
	if op.vec {
		shape = shape[1:]
	}
	var back any
	switch v[0].Dtype() {
	case tensor.Float32:
		back = slice[float32](v[0])[op.lo*w : op.hi*w]
	case tensor.Float64:
		back = slice[float64](v[0])[op.lo*w : op.hi*w]
	default:
		return nil, errDtype(op, v[0])
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(back)), nil
}

// ---- y = act(a + b) elementwise (one input: y = act(a)) ----

type addActOp struct {
	base
	arity int
	silu  bool
	sig   *outBuf // σ of the SiLU, kept for addActGradOp
}

func (op addActOp) Arity() int { return op.arity }
func (op addActOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	if op.arity == 1 {
		return hm.NewFnType(tt(2, a), tt(2, a))
	}
	return hm.NewFnType(tt(2, a), tt(2, a), tt(2, a))
}
func (op addActOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s := in[0].(tensor.Shape)
	if op.arity == 2 && !s.Eq(in[1].(tensor.Shape)) {
		return nil, fmt.Errorf("mlp: %v: shapes %v and %v differ", op, s, in[1])
	}
	return s.Clone(), nil
}
func (op addActOp) String() string        { return fmt.Sprintf("AddAct(%d,silu=%v)", op.arity, op.silu) }
func (op addActOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "levyMLP.", op.String()) }
func (op addActOp) Hashcode() uint32      { return hashOf(op.String()) }
func (op addActOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = true
	}
	return d
}

func (op addActOp) Do(v ...G.Value) (G.Value, error) {
	s := v[0].Shape()
	y := op.out.get(v[0].Dtype(), s...)
	h := s[len(s)-1]
	switch v[0].Dtype() {
	case tensor.Float32:
		addActFwd(slice[float32](y), slice[float32](v[0]), second[float32](v), keep[float32](op.sig, op.silu, s.TotalSize()/h, h), h, op.silu)
	case tensor.Float64:
		addActFwd(slice[float64](y), slice[float64](v[0]), second[float64](v), keep[float64](op.sig, op.silu, s.TotalSize()/h, h), h, op.silu)
	default:
		return nil, errDtype(op, v[0])
	}
	return y, nil
}

func second[F float](v []G.Value) []F {
	if len(v) < 2 {
		return nil
	}
	return slice[F](v[1])
}

func (op addActOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d := grad
	if op.silu {
		var err error
		args := append(G.Nodes{grad}, in...)
		if d, err = G.ApplyOp(addActGradOp{newBase(), op.arity, op.sig}, args...); err != nil {
			return nil, err
		}
	}
	if op.arity == 1 {
		return G.Nodes{d}, nil
	}
	return G.Nodes{d, d}, nil
}

// addActGradOp: (dy, a[, b]) → dy·silu'(a + b).
type addActGradOp struct {
	base
	arity int     // of the forward op
	sig   *outBuf // the forward op's σ
}

func (op addActGradOp) Arity() int { return op.arity + 1 }
func (op addActGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	if op.arity == 1 {
		return hm.NewFnType(tt(2, a), tt(2, a), tt(2, a))
	}
	return hm.NewFnType(tt(2, a), tt(2, a), tt(2, a), tt(2, a))
}
func (op addActGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op addActGradOp) String() string        { return fmt.Sprintf("AddSiLUGrad(%d)", op.arity) }
func (op addActGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "levyMLP.", op.String()) }
func (op addActGradOp) Hashcode() uint32      { return hashOf(op.String()) }

func (op addActGradOp) Do(v ...G.Value) (G.Value, error) {
	s := v[0].Shape()
	d := op.out.get(v[0].Dtype(), s...)
	h := s[len(s)-1]
	switch v[0].Dtype() {
	case tensor.Float32:
		addActBwd(slice[float32](d), slice[float32](v[1]), second[float32](v[1:]), slice[float32](v[0]), kept[float32](op.sig, s.TotalSize()), h)
	case tensor.Float64:
		addActBwd(slice[float64](d), slice[float64](v[1]), second[float64](v[1:]), slice[float64](v[0]), kept[float64](op.sig, s.TotalSize()), h)
	default:
		return nil, errDtype(op, v[0])
	}
	return d, nil
}
