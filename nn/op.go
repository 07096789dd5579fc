package nn

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/levy-ml/levy/internal/kern"
)

// Fn is a differentiable kernel with fixed geometry, in float32 or
// float64.
type Fn[F kern.Float] interface {
	// String names the kernel in graph dumps and errors.
	String() string
	// Shape returns the output's shape for the inputs' shapes, or an
	// error naming the input that does not fit.
	Shape(in []tensor.Shape) (tensor.Shape, error)
	// Diff says which inputs get a gradient.
	Diff() []bool
	// Forward computes out from in.
	Forward(out []F, in [][]F)
	// Backward overwrites dIn[i] with the gradient of input i from the
	// output's gradient dOut, for each i where Diff is true; the other
	// dIn[i] are nil. out and in are the forward pass's.
	Backward(dIn [][]F, dOut, out []F, in [][]F)
}

// SumFn is an Fn of the sum of its inputs, all of the output's shape:
// y = act(a + b + …). Every input then has the same gradient, so Apply
// builds it once. If Linear reports true (act is the identity), there is
// no backward node at all: each input's gradient is the output's.
// Otherwise one backward node, of the output's shape, runs Backward with
// only dIn[0] set, and every input shares it.
type SumFn[F kern.Float] interface {
	Fn[F]
	Linear() bool
}

// Apply adds f applied to in to in's graph, checking the shapes with
// f.Shape. The forward node runs f.Forward; its symbolic derivative is
// one backward node that runs f.Backward, writing the gradients of all
// differentiated inputs into one packed vector, and one view node per
// input that cuts its part out without copying (a SumFn has one shared
// gradient instead). Every node owns its output buffer and reuses it on
// the next run of the tape, so a training step allocates little; a value
// read from the graph is valid until the next run. A kernel that needs
// forward values in its backward pass (softmax weights, normalisation
// statistics, sigmoids) keeps them in its own state between the two.
func Apply[F kern.Float](f Fn[F], in ...*G.Node) (*G.Node, error) {
	dims := make([]int, len(in))
	shapes := make([]tensor.Shape, len(in))
	for i, n := range in {
		dims[i] = n.Dims()
		shapes[i] = n.Shape()
	}
	s, err := f.Shape(shapes)
	if err != nil {
		return nil, err
	}
	op := fwdOp[F]{f: f, inDims: dims, outDims: s.Dims(), inShapes: shapes, outShape: s, out: new(outBuf),
		scr: new(scratch[F])}
	return G.ApplyOp(op, in...)
}

// Dtype is the tensor type of F.
func Dtype[F kern.Float]() tensor.Dtype {
	var z F
	if _, ok := any(z).(float32); ok {
		return tensor.Float32
	}
	return tensor.Float64
}

// outBuf is a node's reusable output.
type outBuf struct{ t *tensor.Dense }

func (b *outBuf) get(dt tensor.Dtype, shape ...int) *tensor.Dense {
	if b.t == nil || b.t.Dtype() != dt || !b.t.Shape().Eq(tensor.Shape(shape)) {
		b.t = tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
	}
	return b.t
}

func hashOf(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

func tt(dims int, a hm.TypeVariable) hm.Type {
	if dims == 0 {
		return a
	}
	return G.TensorType{Dims: dims, Of: a}
}

func fnType(inDims []int, outDims int) hm.Type {
	a := hm.TypeVariable('a')
	ts := make([]hm.Type, 0, len(inDims)+1)
	for _, d := range inDims {
		ts = append(ts, tt(d, a))
	}
	return hm.NewFnType(append(ts, tt(outDims, a))...)
}

// scratch holds a node's argument slices between runs, so that running
// it allocates nothing (a node runs on one goroutine at a time: its
// graph's).
type scratch[F kern.Float] struct{ in, dIn [][]F }

// values returns the data of v, in the scratch's slice.
func (s *scratch[F]) values(v []G.Value) [][]F {
	s.in = s.in[:0]
	for _, x := range v {
		s.in = append(s.in, x.Data().([]F))
	}
	return s.in
}

// grads returns n nil gradient slices, in the scratch's slice.
func (s *scratch[F]) grads(n int) [][]F {
	s.dIn = s.dIn[:0]
	for range n {
		s.dIn = append(s.dIn, nil)
	}
	return s.dIn
}

// fwdOp runs f forward. The shapes are those Apply checked: every run
// compares its inputs with them.
type fwdOp[F kern.Float] struct {
	f        Fn[F]
	inDims   []int
	outDims  int
	inShapes []tensor.Shape
	outShape tensor.Shape
	out      *outBuf
	scr      *scratch[F]
}

func (op fwdOp[F]) Arity() int           { return len(op.inDims) }
func (op fwdOp[F]) Type() hm.Type        { return fnType(op.inDims, op.outDims) }
func (op fwdOp[F]) ReturnsPtr() bool     { return false }
func (op fwdOp[F]) CallsExtern() bool    { return false }
func (op fwdOp[F]) OverwritesInput() int { return -1 }
func (op fwdOp[F]) String() string       { return op.f.String() }
func (op fwdOp[F]) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "levy.%s.%p", op.f.String(), op.out)
}
func (op fwdOp[F]) Hashcode() uint32   { return hashOf(fmt.Sprintf("%s.%p", op.f.String(), op.out)) }
func (op fwdOp[F]) DiffWRT(int) []bool { return op.f.Diff() }

func (op fwdOp[F]) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	shapes := make([]tensor.Shape, len(in))
	for i, s := range in {
		sh, ok := s.(tensor.Shape)
		if !ok {
			return nil, fmt.Errorf("nn: %v: input %d has no shape", op, i)
		}
		shapes[i] = sh
	}
	return op.f.Shape(shapes)
}

func (op fwdOp[F]) Do(v ...G.Value) (G.Value, error) {
	if len(v) != len(op.inShapes) {
		return nil, fmt.Errorf("nn: %v: %d inputs, want %d", op, len(v), len(op.inShapes))
	}
	for i, x := range v {
		if x.Dtype() != Dtype[F]() {
			return nil, fmt.Errorf("nn: %v: input %d is %v, want %v", op, i, x.Dtype(), Dtype[F]())
		}
		if !x.Shape().Eq(op.inShapes[i]) {
			return nil, fmt.Errorf("nn: %v: input %d has shape %v, want %v", op, i, x.Shape(), op.inShapes[i])
		}
	}
	y := op.out.get(Dtype[F](), op.outShape...)
	op.f.Forward(y.Data().([]F), op.scr.values(v))
	return y, nil
}

func (op fwdOp[F]) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	if sf, ok := op.f.(SumFn[F]); ok {
		return op.sumDiff(sf, in, out, grad)
	}
	args := append(append(G.Nodes{}, in...), out, grad)
	sizes := make([]int, len(in))
	total := 0
	for i, n := range in {
		if op.f.Diff()[i] {
			sizes[i] = n.Shape().TotalSize()
			total += sizes[i]
		}
	}
	dims := append(append([]int{}, op.inDims...), op.outDims, op.outDims)
	bwd := bwdOp[F]{f: op.f, inDims: dims, sizes: sizes, total: total, out: new(outBuf), scr: new(scratch[F])}
	packed, err := G.ApplyOp(bwd, args...)
	if err != nil {
		return nil, err
	}
	d := make(G.Nodes, len(in))
	off := 0
	for i, n := range in {
		if sizes[i] == 0 {
			continue
		}
		if d[i], err = G.ApplyOp(viewOp{lo: off, shape: n.Shape().Clone()}, packed); err != nil {
			return nil, err
		}
		off += sizes[i]
	}
	return d, nil
}

// sumDiff is SymDiff for a SumFn: one gradient, shared by every input.
func (op fwdOp[F]) sumDiff(f SumFn[F], in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	d := grad
	if !f.Linear() {
		args := append(append(G.Nodes{}, in...), out, grad)
		dims := append(append([]int{}, op.inDims...), op.outDims, op.outDims)
		var err error
		bwd := sumBwdOp[F]{f: f, inDims: dims, out: new(outBuf), scr: new(scratch[F])}
		if d, err = G.ApplyOp(bwd, args...); err != nil {
			return nil, err
		}
	}
	ds := make(G.Nodes, len(in))
	for i := range ds {
		ds[i] = d
	}
	return ds, nil
}

// bwdOp: (in..., out, dOut) → the packed gradients of the differentiated
// inputs, in input order.
type bwdOp[F kern.Float] struct {
	f      Fn[F]
	inDims []int
	sizes  []int
	total  int
	out    *outBuf
	scr    *scratch[F]
}

func (op bwdOp[F]) Arity() int           { return len(op.inDims) }
func (op bwdOp[F]) Type() hm.Type        { return fnType(op.inDims, 1) }
func (op bwdOp[F]) ReturnsPtr() bool     { return false }
func (op bwdOp[F]) CallsExtern() bool    { return false }
func (op bwdOp[F]) OverwritesInput() int { return -1 }
func (op bwdOp[F]) String() string       { return op.f.String() + "Grad" }
func (op bwdOp[F]) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "levy.%sGrad.%p", op.f.String(), op.out)
}
func (op bwdOp[F]) Hashcode() uint32 { return hashOf(fmt.Sprintf("%sGrad.%p", op.f.String(), op.out)) }
func (op bwdOp[F]) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.total}, nil
}

func (op bwdOp[F]) Do(v ...G.Value) (G.Value, error) {
	n := len(v) - 2
	packed := op.out.get(Dtype[F](), op.total)
	buf := packed.Data().([]F)
	dIn := op.scr.grads(n)
	off := 0
	for i, s := range op.sizes {
		if s > 0 {
			dIn[i] = buf[off : off+s]
			off += s
		}
	}
	vals := op.scr.values(v)
	op.f.Backward(dIn, vals[n+1], vals[n], vals[:n])
	return packed, nil
}

// sumBwdOp: (in..., out, dOut) → the one gradient of a SumFn's inputs,
// of the output's shape.
type sumBwdOp[F kern.Float] struct {
	f      SumFn[F]
	inDims []int
	out    *outBuf
	scr    *scratch[F]
}

func (op sumBwdOp[F]) Arity() int           { return len(op.inDims) }
func (op sumBwdOp[F]) Type() hm.Type        { return fnType(op.inDims, op.inDims[len(op.inDims)-1]) }
func (op sumBwdOp[F]) ReturnsPtr() bool     { return false }
func (op sumBwdOp[F]) CallsExtern() bool    { return false }
func (op sumBwdOp[F]) OverwritesInput() int { return -1 }
func (op sumBwdOp[F]) String() string       { return op.f.String() + "Grad" }
func (op sumBwdOp[F]) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "levy.%sGrad.%p", op.f.String(), op.out)
}
func (op sumBwdOp[F]) Hashcode() uint32 {
	return hashOf(fmt.Sprintf("%sGrad.%p", op.f.String(), op.out))
}
func (op sumBwdOp[F]) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[len(in)-1].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("nn: %v: the gradient has no shape", op)
	}
	return s.Clone(), nil
}

func (op sumBwdOp[F]) Do(v ...G.Value) (G.Value, error) {
	n := len(v) - 2
	d := op.out.get(Dtype[F](), v[n+1].Shape()...)
	dIn := op.scr.grads(n)
	dIn[0] = d.Data().([]F)
	vals := op.scr.values(v)
	op.f.Backward(dIn, vals[n+1], vals[n], vals[:n])
	return d, nil
}

// viewOp views [lo, lo+size) of a vector as a tensor of shape, without
// copying.
type viewOp struct {
	lo    int
	shape tensor.Shape
}

func (op viewOp) Arity() int           { return 1 }
func (op viewOp) Type() hm.Type        { return fnType([]int{1}, op.shape.Dims()) }
func (op viewOp) ReturnsPtr() bool     { return false }
func (op viewOp) CallsExtern() bool    { return false }
func (op viewOp) OverwritesInput() int { return -1 }
func (op viewOp) String() string       { return fmt.Sprintf("View[%d:+%v]", op.lo, op.shape) }
func (op viewOp) WriteHash(h hash.Hash) {
	fmt.Fprint(h, "levy.", op.String())
}
func (op viewOp) Hashcode() uint32 { return hashOf(op.String()) }
func (op viewOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}

func (op viewOp) Do(v ...G.Value) (G.Value, error) {
	n := op.shape.TotalSize()
	var back any
	switch d := v[0].Data().(type) {
	case []float32:
		back = d[op.lo : op.lo+n]
	case []float64:
		back = d[op.lo : op.lo+n]
	default:
		return nil, fmt.Errorf("nn: %v: unsupported %T", op, d)
	}
	return tensor.New(tensor.WithShape(op.shape...), tensor.WithBacking(back)), nil
}
