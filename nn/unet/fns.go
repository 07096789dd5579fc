package unet

import (
	"fmt"

	"gorgonia.org/tensor"
)

// The differentiable kernels of the network, as nn.Fn (nn.Apply makes
// them graph nodes).

func wantShape(name string, got tensor.Shape, want ...int) error {
	if !got.Eq(tensor.Shape(want)) {
		return fmt.Errorf("unet: %s: shape %v, want %v", name, got, want)
	}
	return nil
}

// convFn: (x [B,Ci,H,W], w [Co,Ci,K,K], b [Co]) → [B,Co,Ho,Wo].
type convFn[F float] struct {
	g      convGeom
	dataIn bool // x is data: no gradient
}

func (f *convFn[F]) String() string {
	return fmt.Sprintf("Conv%dx%d/%d(%d→%d)", f.g.K, f.g.K, f.g.S, f.g.Ci, f.g.Co)
}
func (f *convFn[F]) Diff() []bool { return []bool{!f.dataIn, true, true} }
func (f *convFn[F]) Shape(in []tensor.Shape) (tensor.Shape, error) {
	g := f.g
	if err := wantShape(f.String()+" x", in[0], g.B, g.Ci, g.H, g.W); err != nil {
		return nil, err
	}
	if err := wantShape(f.String()+" w", in[1], g.Co, g.Ci, g.K, g.K); err != nil {
		return nil, err
	}
	if err := wantShape(f.String()+" b", in[2], g.Co); err != nil {
		return nil, err
	}
	return tensor.Shape{g.B, g.Co, g.ho(), g.wo()}, nil
}
func (f *convFn[F]) Forward(out []F, in [][]F) { convFwd(out, in[0], in[1], in[2], f.g) }
func (f *convFn[F]) Backward(d [][]F, dy, _ []F, in [][]F) {
	convBwd(d[0], d[1], d[2], dy, in[0], in[1], f.g)
}

// gnFn: (x [B,C,H,W], γ [C], β [C][, ss [B,2C]]) → [B,C,H,W]:
// GroupNorm, then the scale-shift, then SiLU, as gnGeom says.
type gnFn[F float] struct {
	g          gnGeom
	h, w       int
	mean, rstd []F
}

func newGN[F float](b, c, h, w, groups int, scaleShift, silu bool) *gnFn[F] {
	g := gnGeom{B: b, C: c, P: h * w, G: groups, scaleShift: scaleShift, silu: silu}
	return &gnFn[F]{g: g, h: h, w: w, mean: make([]F, b*groups), rstd: make([]F, b*groups)}
}

func (f *gnFn[F]) String() string {
	return fmt.Sprintf("GroupNorm(%d/%d,ss=%v,silu=%v)", f.g.C, f.g.G, f.g.scaleShift, f.g.silu)
}
func (f *gnFn[F]) Diff() []bool {
	if f.g.scaleShift {
		return []bool{true, true, true, true}
	}
	return []bool{true, true, true}
}
func (f *gnFn[F]) Shape(in []tensor.Shape) (tensor.Shape, error) {
	g := f.g
	if len(in) != len(f.Diff()) {
		return nil, fmt.Errorf("unet: %v: %d inputs, want %d", f, len(in), len(f.Diff()))
	}
	if err := wantShape(f.String()+" x", in[0], g.B, g.C, f.h, f.w); err != nil {
		return nil, err
	}
	if err := wantShape(f.String()+" γ", in[1], g.C); err != nil {
		return nil, err
	}
	if err := wantShape(f.String()+" β", in[2], g.C); err != nil {
		return nil, err
	}
	if g.scaleShift {
		if err := wantShape(f.String()+" scale-shift", in[3], g.B, 2*g.C); err != nil {
			return nil, err
		}
	}
	return in[0].Clone(), nil
}
func (f *gnFn[F]) ss(in [][]F) []F {
	if f.g.scaleShift {
		return in[3]
	}
	return nil
}
func (f *gnFn[F]) Forward(out []F, in [][]F) {
	gnFwd(out, in[0], in[1], in[2], f.ss(in), f.mean, f.rstd, f.g)
}
func (f *gnFn[F]) Backward(d [][]F, dy, _ []F, in [][]F) {
	var dss []F
	if f.g.scaleShift {
		dss = d[3]
	}
	gnBwd(d[0], d[1], d[2], dss, dy, in[0], in[1], in[2], f.ss(in), f.mean, f.rstd, f.g)
}

// linearFn: (x [n,in], w [out,in], b [out]) → [n,out].
type linearFn[F float] struct {
	n, in, out int
	dataIn     bool
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
func (f *linearFn[F]) Forward(out []F, in [][]F) {
	linearFwd(out, in[0], in[1], in[2], f.n, f.in, f.out)
}
func (f *linearFn[F]) Backward(d [][]F, dy, _ []F, in [][]F) {
	linearBwd(d[0], d[1], d[2], dy, in[0], in[1], f.n, f.in, f.out)
}

// siluFn: x → x·σ(x), any shape.
type siluFn[F float] struct{}

func (siluFn[F]) String() string { return "SiLU" }
func (siluFn[F]) Diff() []bool   { return []bool{true} }
func (siluFn[F]) Shape(in []tensor.Shape) (tensor.Shape, error) {
	return in[0].Clone(), nil
}
func (siluFn[F]) Forward(out []F, in [][]F) {
	copy(out, in[0])
	siluInPlace(out)
}
func (siluFn[F]) Backward(d [][]F, dy, _ []F, in [][]F) {
	for i, u := range in[0] {
		s := sigmoid(u)
		d[0][i] = dy[i] * s * (1 + u*(1-s))
	}
}

// addFn: (a, b) → a + b, same shapes.
type addFn[F float] struct{}

func (addFn[F]) String() string { return "Add" }
func (addFn[F]) Diff() []bool   { return []bool{true, true} }
func (addFn[F]) Shape(in []tensor.Shape) (tensor.Shape, error) {
	if !in[0].Eq(in[1]) {
		return nil, fmt.Errorf("unet: Add: shapes %v and %v", in[0], in[1])
	}
	return in[0].Clone(), nil
}
func (addFn[F]) Forward(out []F, in [][]F) {
	for i, a := range in[0] {
		out[i] = a + in[1][i]
	}
}
func (addFn[F]) Backward(d [][]F, dy, _ []F, _ [][]F) {
	copy(d[0], dy)
	copy(d[1], dy)
}

// upFn: [B,C,H,W] → [B,C,2H,2W], nearest.
type upFn[F float] struct{ B, C, H, W int }

func (f *upFn[F]) String() string { return "Upsample2x" }
func (f *upFn[F]) Diff() []bool   { return []bool{true} }
func (f *upFn[F]) Shape(in []tensor.Shape) (tensor.Shape, error) {
	if err := wantShape("Upsample x", in[0], f.B, f.C, f.H, f.W); err != nil {
		return nil, err
	}
	return tensor.Shape{f.B, f.C, 2 * f.H, 2 * f.W}, nil
}
func (f *upFn[F]) Forward(out []F, in [][]F) { upFwd(out, in[0], f.B*f.C, f.H, f.W) }
func (f *upFn[F]) Backward(d [][]F, dy, _ []F, _ [][]F) {
	upBwd(d[0], dy, f.B*f.C, f.H, f.W)
}

// concatFn: (a [B,Ca,H,W], b [B,Cb,H,W]) → [B,Ca+Cb,H,W].
type concatFn[F float] struct{ B, Ca, Cb, P int }

func (f *concatFn[F]) String() string { return fmt.Sprintf("Concat(%d+%d)", f.Ca, f.Cb) }
func (f *concatFn[F]) Diff() []bool   { return []bool{true, true} }
func (f *concatFn[F]) Shape(in []tensor.Shape) (tensor.Shape, error) {
	a, b := in[0], in[1]
	if a.Dims() != 4 || b.Dims() != 4 || a[0] != b[0] || a[2] != b[2] || a[3] != b[3] || a[1] != f.Ca || b[1] != f.Cb {
		return nil, fmt.Errorf("unet: %v: shapes %v and %v", f, a, b)
	}
	return tensor.Shape{a[0], a[1] + b[1], a[2], a[3]}, nil
}
func (f *concatFn[F]) Forward(out []F, in [][]F) {
	na, nb := f.Ca*f.P, f.Cb*f.P
	for b := range f.B {
		copy(out[b*(na+nb):], in[0][b*na:(b+1)*na])
		copy(out[b*(na+nb)+na:], in[1][b*nb:(b+1)*nb])
	}
}
func (f *concatFn[F]) Backward(d [][]F, dy, _ []F, _ [][]F) {
	na, nb := f.Ca*f.P, f.Cb*f.P
	for b := range f.B {
		copy(d[0][b*na:(b+1)*na], dy[b*(na+nb):])
		copy(d[1][b*nb:(b+1)*nb], dy[b*(na+nb)+na:b*(na+nb)+na+nb])
	}
}

// attnFn: qkv [B,3C,H,W] → [B,C,H,W], multi-head self-attention over the
// H·W positions.
type attnFn[F float] struct {
	g    attnGeom
	h, w int
	prob []F
}

func newAttn[F float](b, c, h, w, heads int) *attnFn[F] {
	g := attnGeom{B: b, C: c, T: h * w, Heads: heads}
	return &attnFn[F]{g: g, h: h, w: w, prob: make([]F, b*heads*g.T*g.T)}
}

func (f *attnFn[F]) String() string { return fmt.Sprintf("Attention(%d,heads=%d)", f.g.C, f.g.Heads) }
func (f *attnFn[F]) Diff() []bool   { return []bool{true} }
func (f *attnFn[F]) Shape(in []tensor.Shape) (tensor.Shape, error) {
	if err := wantShape(f.String()+" qkv", in[0], f.g.B, 3*f.g.C, f.h, f.w); err != nil {
		return nil, err
	}
	return tensor.Shape{f.g.B, f.g.C, f.h, f.w}, nil
}
func (f *attnFn[F]) Forward(out []F, in [][]F) { attnFwd(out, in[0], f.prob, f.g) }
func (f *attnFn[F]) Backward(d [][]F, dy, _ []F, in [][]F) {
	attnBwd(d[0], dy, in[0], f.prob, f.g)
}

// dropFn: x·mask, with mask data (0 or 1/(1−p)) set before each run.
type dropFn[F float] struct{}

func (dropFn[F]) String() string { return "Dropout" }
func (dropFn[F]) Diff() []bool   { return []bool{true, false} }
func (dropFn[F]) Shape(in []tensor.Shape) (tensor.Shape, error) {
	if !in[0].Eq(in[1]) {
		return nil, fmt.Errorf("unet: Dropout: shapes %v and %v", in[0], in[1])
	}
	return in[0].Clone(), nil
}
func (dropFn[F]) Forward(out []F, in [][]F) {
	for i, v := range in[0] {
		out[i] = v * in[1][i]
	}
}
func (dropFn[F]) Backward(d [][]F, dy, _ []F, in [][]F) {
	for i, v := range dy {
		d[0][i] = v * in[1][i]
	}
}
