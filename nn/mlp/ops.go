package mlp

import (
	"fmt"

	"gorgonia.org/tensor"
)

// The network's differentiable kernels, as nn.Fn: graph.go applies them
// with nn.Apply, which gives each a symbolic derivative. They run the
// kernels of kernels.go, in float32 or float64.

// keepSigma lets the SiLU kernels keep σ for their backward pass
// (benchmarks switch it off to measure what it buys). It is read when a
// graph is built.
var keepSigma = true

// sigmas is the buffer a SiLU kernel keeps its sigmoids in between the
// forward and the backward pass.
type sigmas[F float] struct {
	keep bool // keep them (else the backward pass recomputes them)
	s    []F
	kept bool // the last forward pass kept them
}

// forward returns the buffer for n values, or nil if not keeping.
func (k *sigmas[F]) forward(n int) []F {
	k.kept = k.keep
	if !k.keep {
		return nil
	}
	if len(k.s) != n {
		k.s = make([]F, n)
	}
	return k.s
}

// backward returns the sigmoids the forward pass kept, or nil.
func (k *sigmas[F]) backward() []F {
	if !k.kept {
		return nil
	}
	return k.s
}

func wantShape(name string, got tensor.Shape, want ...int) error {
	if !got.Eq(tensor.Shape(want)) {
		return fmt.Errorf("mlp: %s: shape %v, want %v", name, got, want)
	}
	return nil
}

// linearFn: (x [n,in], w [out,in], b [out]) → z = x·wᵀ + b [n,out].
type linearFn[F float] struct {
	n, in, out int
	dataIn     bool // x is data: skip its gradient
}

func (f *linearFn[F]) String() string { return fmt.Sprintf("Linear(%d→%d)", f.in, f.out) }
func (f *linearFn[F]) Diff() []bool   { return []bool{!f.dataIn, true, true} }
func (f *linearFn[F]) Shape(in []tensor.Shape) (tensor.Shape, error) {
	if err := wantShape(f.String()+" x", in[0], f.n, f.in); err != nil {
		return nil, err
	}
	if err := wantShape(f.String()+" w", in[1], f.out, f.in); err != nil {
		return nil, err
	}
	if err := wantShape(f.String()+" b", in[2], f.out); err != nil {
		return nil, err
	}
	return tensor.Shape{f.n, f.out}, nil
}
func (f *linearFn[F]) Forward(z []F, in [][]F) { linearFwd(z, in[0], in[1], in[2], f.n, f.in, f.out) }
func (f *linearFn[F]) Backward(d [][]F, dz, _ []F, in [][]F) {
	if d[0] != nil {
		linearDX(d[0], dz, in[1], f.n, f.in, f.out)
	}
	linearDW(d[1], dz, in[0], f.n, f.in, f.out)
	colSum(d[2], dz, f.n, f.out)
}

// lnActFn: (z [n,h], g [h], beta [h]) → y = act(LN(z)·g + beta) [n,h],
// act SiLU or the identity.
type lnActFn[F float] struct {
	n, h int
	silu bool
	sig  sigmas[F]
}

func newLNAct[F float](n, h int, silu bool) *lnActFn[F] {
	return &lnActFn[F]{n: n, h: h, silu: silu, sig: sigmas[F]{keep: silu && keepSigma}}
}

func (f *lnActFn[F]) String() string { return fmt.Sprintf("LayerNorm(%d,silu=%v)", f.h, f.silu) }
func (f *lnActFn[F]) Diff() []bool   { return []bool{true, true, true} }
func (f *lnActFn[F]) Shape(in []tensor.Shape) (tensor.Shape, error) {
	if err := wantShape(f.String()+" z", in[0], f.n, f.h); err != nil {
		return nil, err
	}
	if err := wantShape(f.String()+" g", in[1], f.h); err != nil {
		return nil, err
	}
	if err := wantShape(f.String()+" beta", in[2], f.h); err != nil {
		return nil, err
	}
	return tensor.Shape{f.n, f.h}, nil
}
func (f *lnActFn[F]) Forward(y []F, in [][]F) {
	lnActFwd(y, in[0], in[1], in[2], f.sig.forward(f.n*f.h), f.n, f.h, f.silu)
}
func (f *lnActFn[F]) Backward(d [][]F, dy, _ []F, in [][]F) {
	lnActBwd(d[0], d[1], d[2], in[0], in[1], in[2], dy, f.sig.backward(), f.n, f.h, f.silu)
}

// addActFn: (a [n,h][, b [n,h]]) → y = act(a + b) [n,h], act SiLU or the
// identity; with one input y = act(a). It is an nn.SumFn: both inputs
// share one gradient, and without SiLU it is the output's.
type addActFn[F float] struct {
	n, h, arity int
	silu        bool
	sig         sigmas[F]
}

func newAddAct[F float](n, h, arity int, silu bool) *addActFn[F] {
	return &addActFn[F]{n: n, h: h, arity: arity, silu: silu, sig: sigmas[F]{keep: silu && keepSigma}}
}

func (f *addActFn[F]) String() string { return fmt.Sprintf("AddAct(%d,silu=%v)", f.arity, f.silu) }
func (f *addActFn[F]) Linear() bool   { return !f.silu }
func (f *addActFn[F]) Diff() []bool {
	d := make([]bool, f.arity)
	for i := range d {
		d[i] = true
	}
	return d
}
func (f *addActFn[F]) Shape(in []tensor.Shape) (tensor.Shape, error) {
	if len(in) != f.arity {
		return nil, fmt.Errorf("mlp: %v: %d inputs, want %d", f, len(in), f.arity)
	}
	for i, s := range in {
		if err := wantShape(fmt.Sprintf("%v input %d", f, i), s, f.n, f.h); err != nil {
			return nil, err
		}
	}
	return tensor.Shape{f.n, f.h}, nil
}

// second returns the second input, or nil.
func (f *addActFn[F]) second(in [][]F) []F {
	if f.arity < 2 {
		return nil
	}
	return in[1]
}
func (f *addActFn[F]) Forward(y []F, in [][]F) {
	addActFwd(y, in[0], f.second(in), f.sig.forward(f.n*f.h), f.h, f.silu)
}

// Backward writes the inputs' shared gradient into d[0] (nn.SumFn); it
// runs only with SiLU.
func (f *addActFn[F]) Backward(d [][]F, dy, _ []F, in [][]F) {
	addActBwd(d[0], in[0], f.second(in), dy, f.sig.backward(), f.h)
}
