package unet

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The U-Net runs as a gorgonia ExprGraph whose nodes are this package's
// own Ops: each wraps a kernel pair (forward, backward) of kernels.go.
// The forward Op's symbolic derivative is one backward node that writes
// the gradients of all differentiated inputs into one packed vector, and
// one view node per input that cuts its part out without copying. Every
// node owns its output buffer and reuses it on the next run of the tape,
// so a training step allocates little. Kernels that need forward values
// in their backward pass (the softmax weights, the GroupNorm statistics)
// keep them in their own state between the two.

// fn is a differentiable kernel with fixed geometry.
type fn[F float] interface {
	String() string
	shape(in []tensor.Shape) (tensor.Shape, error)
	diff() []bool // which inputs get a gradient
	fwd(out []F, in [][]F)
	bwd(dIn [][]F, dOut, out []F, in [][]F) // dIn[i] is nil where !diff()[i]; overwrite the rest
}

func dtypeOf[F float]() tensor.Dtype {
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

func values[F float](v []G.Value) [][]F {
	out := make([][]F, len(v))
	for i, x := range v {
		out[i] = x.Data().([]F)
	}
	return out
}

// fwdOp runs f forward.
type fwdOp[F float] struct {
	f       fn[F]
	inDims  []int
	outDims int
	out     *outBuf
}

func (op fwdOp[F]) Arity() int           { return len(op.inDims) }
func (op fwdOp[F]) Type() hm.Type        { return fnType(op.inDims, op.outDims) }
func (op fwdOp[F]) ReturnsPtr() bool     { return false }
func (op fwdOp[F]) CallsExtern() bool    { return false }
func (op fwdOp[F]) OverwritesInput() int { return -1 }
func (op fwdOp[F]) String() string       { return op.f.String() }
func (op fwdOp[F]) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "levyUNet.%s.%p", op.f.String(), op.out)
}
func (op fwdOp[F]) Hashcode() uint32   { return hashOf(fmt.Sprintf("%s.%p", op.f.String(), op.out)) }
func (op fwdOp[F]) DiffWRT(int) []bool { return op.f.diff() }

func (op fwdOp[F]) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	shapes := make([]tensor.Shape, len(in))
	for i, s := range in {
		sh, ok := s.(tensor.Shape)
		if !ok {
			return nil, fmt.Errorf("unet: %v: input %d has no shape", op, i)
		}
		shapes[i] = sh
	}
	return op.f.shape(shapes)
}

func (op fwdOp[F]) Do(v ...G.Value) (G.Value, error) {
	shapes := make([]tensor.Shape, len(v))
	for i, x := range v {
		shapes[i] = x.Shape()
		if x.Dtype() != dtypeOf[F]() {
			return nil, fmt.Errorf("unet: %v: input %d is %v, want %v", op, i, x.Dtype(), dtypeOf[F]())
		}
	}
	s, err := op.f.shape(shapes)
	if err != nil {
		return nil, err
	}
	y := op.out.get(dtypeOf[F](), s...)
	op.f.fwd(y.Data().([]F), values[F](v))
	return y, nil
}

func (op fwdOp[F]) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	args := append(append(G.Nodes{}, in...), out, grad)
	sizes := make([]int, len(in))
	total := 0
	for i, n := range in {
		if op.f.diff()[i] {
			sizes[i] = n.Shape().TotalSize()
			total += sizes[i]
		}
	}
	dims := append(append([]int{}, op.inDims...), op.outDims, op.outDims)
	packed, err := G.ApplyOp(bwdOp[F]{f: op.f, inDims: dims, sizes: sizes, total: total, out: new(outBuf)}, args...)
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

// bwdOp: (in..., out, dOut) → the packed gradients of the differentiated
// inputs, in input order.
type bwdOp[F float] struct {
	f      fn[F]
	inDims []int
	sizes  []int
	total  int
	out    *outBuf
}

func (op bwdOp[F]) Arity() int           { return len(op.inDims) }
func (op bwdOp[F]) Type() hm.Type        { return fnType(op.inDims, 1) }
func (op bwdOp[F]) ReturnsPtr() bool     { return false }
func (op bwdOp[F]) CallsExtern() bool    { return false }
func (op bwdOp[F]) OverwritesInput() int { return -1 }
func (op bwdOp[F]) String() string       { return op.f.String() + "Grad" }
func (op bwdOp[F]) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "levyUNet.%sGrad.%p", op.f.String(), op.out)
}
func (op bwdOp[F]) Hashcode() uint32 { return hashOf(fmt.Sprintf("%sGrad.%p", op.f.String(), op.out)) }
func (op bwdOp[F]) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.total}, nil
}

func (op bwdOp[F]) Do(v ...G.Value) (G.Value, error) {
	n := len(v) - 2
	packed := op.out.get(dtypeOf[F](), op.total)
	buf := packed.Data().([]F)
	dIn := make([][]F, n)
	off := 0
	for i, s := range op.sizes {
		if s > 0 {
			dIn[i] = buf[off : off+s]
			off += s
		}
	}
	vals := values[F](v)
	op.f.bwd(dIn, vals[n+1], vals[n], vals[:n])
	return packed, nil
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
	fmt.Fprint(h, "levyUNet.", op.String())
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
		return nil, fmt.Errorf("unet: %v: unsupported %T", op, d)
	}
	return tensor.New(tensor.WithShape(op.shape...), tensor.WithBacking(back)), nil
}

// apply adds f applied to in to the graph.
func apply[F float](f fn[F], in ...*G.Node) (*G.Node, error) {
	dims := make([]int, len(in))
	shapes := make([]tensor.Shape, len(in))
	for i, n := range in {
		dims[i] = n.Dims()
		shapes[i] = n.Shape()
	}
	s, err := f.shape(shapes)
	if err != nil {
		return nil, err
	}
	return G.ApplyOp(fwdOp[F]{f: f, inDims: dims, outDims: s.Dims(), out: new(outBuf)}, in...)
}
