package quality

import (
	"fmt"
	"math"
	"strings"

	"github.com/levy-ml/levy/internal/kern"
	"github.com/levy-ml/levy/safetensors"
)

// Inception is Inception-v3 as pytorch-fid uses it for FID (the
// torchvision module names, pytorch-fid's FID blocks): images resized to
// 299×299 (bilinear, align_corners=False), grey images repeated to three
// channels, and the 2048 pool features. Written by hand because no Go
// library runs it; inference only.
//
// The channel counts are read from the weights, so the same code runs a
// narrow stand-in network of the same topology (the tests use one) and
// the real one. Batch norms are folded into the convolutions at load.
type Inception struct {
	convs map[string]*iconv
	dim   int
}

// iconv is a BasicConv2d: a bias-free convolution, batch norm (eps 1e−3)
// and ReLU, folded into weights and a bias.
type iconv struct {
	co, ci, kh, kw int
	sh, sw, ph, pw int
	w, b           []float32
}

// inceptionGeometry: stride and padding of each convolution (its kernel
// size comes from the weights); absent names are stride 1, no padding.
var inceptionGeometry = map[string][4]int{
	"Conv2d_1a_3x3": {2, 2, 0, 0},
	"Conv2d_2b_3x3": {1, 1, 1, 1},
}

// geometry returns stride and padding for a convolution with a kh×kw
// kernel: Inception pads "same" except where it strides by 2.
func geometry(name string, kh, kw int) (sh, sw, ph, pw int) {
	if g, ok := inceptionGeometry[name]; ok {
		return g[0], g[1], g[2], g[3]
	}
	strided := []string{"Mixed_6a.branch3x3.", "Mixed_6a.branch3x3dbl_3", "Mixed_7a.branch3x3_2", "Mixed_7a.branch7x7x3_4"}
	for _, s := range strided {
		if strings.HasPrefix(name+".", s) || strings.HasPrefix(name, s) {
			return 2, 2, 0, 0
		}
	}
	if strings.HasPrefix(name, "Conv2d_") { // the stem's other convolutions
		return 1, 1, 0, 0
	}
	return 1, 1, kh / 2, kw / 2
}

// LoadInception reads Inception-v3 weights in safetensors with
// torchvision's names (Conv2d_1a_3x3.conv.weight, ….bn.running_var, …;
// fc is ignored).
func LoadInception(path string) (*Inception, error) {
	ts, _, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("quality: Inception weights %s: %w", path, err)
	}
	by := map[string]safetensors.Tensor{}
	for _, t := range ts {
		by[t.Name] = t
	}
	net := &Inception{convs: map[string]*iconv{}}
	for _, name := range inceptionConvNames() {
		w, ok := by[name+".conv.weight"]
		if !ok {
			return nil, fmt.Errorf("quality: %s: no tensor %s.conv.weight: not Inception-v3 with torchvision's names", path, name)
		}
		if len(w.Shape) != 4 {
			return nil, fmt.Errorf("quality: %s: %s.conv.weight has shape %v, want 4 dimensions", path, name, w.Shape)
		}
		c := &iconv{co: w.Shape[0], ci: w.Shape[1], kh: w.Shape[2], kw: w.Shape[3]}
		c.sh, c.sw, c.ph, c.pw = geometry(name, c.kh, c.kw)
		bn := make([][]float32, 4)
		for i, part := range []string{"weight", "bias", "running_mean", "running_var"} {
			t, ok := by[name+".bn."+part]
			if !ok || len(t.Data) != c.co {
				return nil, fmt.Errorf("quality: %s: %s.bn.%s missing or not of %d values", path, name, part, c.co)
			}
			bn[i] = t.Data
		}
		k := c.ci * c.kh * c.kw
		c.w = make([]float32, len(w.Data))
		c.b = make([]float32, c.co)
		for o := range c.co {
			s := float64(bn[0][o]) / math.Sqrt(float64(bn[3][o])+1e-3)
			for j := range k {
				c.w[o*k+j] = float32(float64(w.Data[o*k+j]) * s)
			}
			c.b[o] = float32(float64(bn[1][o]) - float64(bn[2][o])*s)
		}
		net.convs[name] = c
	}
	// The feature width: what Mixed_7c concatenates.
	cv := net.convs
	net.dim = cv["Mixed_7c.branch1x1"].co + cv["Mixed_7c.branch3x3_2a"].co + cv["Mixed_7c.branch3x3_2b"].co +
		cv["Mixed_7c.branch3x3dbl_3a"].co + cv["Mixed_7c.branch3x3dbl_3b"].co + cv["Mixed_7c.branch_pool"].co
	// Check that every convolution's input width matches what reaches it.
	if _, err := net.forward(make([]float32, 3*inceptionSize*inceptionSize), true); err != nil {
		return nil, fmt.Errorf("quality: %s: %w", path, err)
	}
	return net, nil
}

const inceptionSize = 299

func inceptionConvNames() []string {
	names := []string{"Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3"}
	for _, m := range []string{"Mixed_5b", "Mixed_5c", "Mixed_5d"} {
		for _, b := range []string{"branch1x1", "branch5x5_1", "branch5x5_2", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3", "branch_pool"} {
			names = append(names, m+"."+b)
		}
	}
	for _, b := range []string{"branch3x3", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"} {
		names = append(names, "Mixed_6a."+b)
	}
	for _, m := range []string{"Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"} {
		for _, b := range []string{"branch1x1", "branch7x7_1", "branch7x7_2", "branch7x7_3", "branch7x7dbl_1", "branch7x7dbl_2",
			"branch7x7dbl_3", "branch7x7dbl_4", "branch7x7dbl_5", "branch_pool"} {
			names = append(names, m+"."+b)
		}
	}
	for _, b := range []string{"branch3x3_1", "branch3x3_2", "branch7x7x3_1", "branch7x7x3_2", "branch7x7x3_3", "branch7x7x3_4"} {
		names = append(names, "Mixed_7a."+b)
	}
	for _, m := range []string{"Mixed_7b", "Mixed_7c"} {
		for _, b := range []string{"branch1x1", "branch3x3_1", "branch3x3_2a", "branch3x3_2b", "branch3x3dbl_1", "branch3x3dbl_2",
			"branch3x3dbl_3a", "branch3x3dbl_3b", "branch_pool"} {
			names = append(names, m+"."+b)
		}
	}
	return names
}

// Dim is the feature width (2048 for the real network).
func (n *Inception) Dim() int { return n.dim }

// Features implements unet.FeatureNet for images [n, 1 or 3, H, W] in
// [−1, 1].
func (n *Inception) Features(dst, x []float32, count int) error {
	if count == 0 || len(x)%count != 0 || len(dst) != count*n.dim {
		return fmt.Errorf("quality: Inception: %d values for %d images, %d feature values for %d", len(x), count, len(dst), count*n.dim)
	}
	per := len(x) / count
	c := 3
	if per%3 != 0 {
		c = 1
	}
	s := int(math.Round(math.Sqrt(float64(per / c))))
	if c*s*s != per {
		c, s = 1, int(math.Round(math.Sqrt(float64(per))))
		if s*s != per {
			return fmt.Errorf("quality: Inception: images of %d values are not square with 1 or 3 channels", per)
		}
	}
	for i := range count {
		img := resizeBilinear(x[i*per:(i+1)*per], c, s, s, inceptionSize, inceptionSize)
		if c == 1 {
			img = append(append(img, img...), img...)
		}
		f, err := n.forward(img, false)
		if err != nil {
			return err
		}
		copy(dst[i*n.dim:], f)
	}
	return nil
}

// tensor3 is one image's activations [c, h, w].
type tensor3 struct {
	d       []float32
	c, h, w int
}

func (n *Inception) forward(img []float32, check bool) ([]float32, error) {
	var err error
	conv := func(name string, in tensor3) tensor3 {
		if err != nil {
			return in
		}
		cv := n.convs[name]
		if cv.ci != in.c {
			err = fmt.Errorf("%s takes %d channels, %d reach it", name, cv.ci, in.c)
			return in
		}
		if check {
			ho := (in.h+2*cv.ph-cv.kh)/cv.sh + 1
			wo := (in.w+2*cv.pw-cv.kw)/cv.sw + 1
			return tensor3{make([]float32, cv.co*ho*wo), cv.co, ho, wo}
		}
		return cv.apply(in)
	}
	cat := func(ts ...tensor3) tensor3 {
		if err != nil {
			return ts[0]
		}
		out := tensor3{h: ts[0].h, w: ts[0].w}
		for _, t := range ts {
			if t.h != out.h || t.w != out.w {
				err = fmt.Errorf("branches of %d×%d and %d×%d do not concatenate", out.h, out.w, t.h, t.w)
				return ts[0]
			}
			out.c += t.c
			out.d = append(out.d, t.d...)
		}
		return out
	}
	x := tensor3{img, 3, inceptionSize, inceptionSize}
	x = conv("Conv2d_1a_3x3", x)
	x = conv("Conv2d_2a_3x3", x)
	x = conv("Conv2d_2b_3x3", x)
	x = maxPool(x, 2, 0)
	x = conv("Conv2d_3b_1x1", x)
	x = conv("Conv2d_4a_3x3", x)
	x = maxPool(x, 2, 0)
	for _, m := range []string{"Mixed_5b", "Mixed_5c", "Mixed_5d"} {
		p := m + "."
		x = cat(conv(p+"branch1x1", x),
			conv(p+"branch5x5_2", conv(p+"branch5x5_1", x)),
			conv(p+"branch3x3dbl_3", conv(p+"branch3x3dbl_2", conv(p+"branch3x3dbl_1", x))),
			conv(p+"branch_pool", avgPool(x)))
	}
	x = cat(conv("Mixed_6a.branch3x3", x),
		conv("Mixed_6a.branch3x3dbl_3", conv("Mixed_6a.branch3x3dbl_2", conv("Mixed_6a.branch3x3dbl_1", x))),
		maxPool(x, 2, 0))
	for _, m := range []string{"Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"} {
		p := m + "."
		b7 := conv(p+"branch7x7_3", conv(p+"branch7x7_2", conv(p+"branch7x7_1", x)))
		bd := conv(p+"branch7x7dbl_1", x)
		for _, k := range []string{"2", "3", "4", "5"} {
			bd = conv(p+"branch7x7dbl_"+k, bd)
		}
		x = cat(conv(p+"branch1x1", x), b7, bd, conv(p+"branch_pool", avgPool(x)))
	}
	x = cat(conv("Mixed_7a.branch3x3_2", conv("Mixed_7a.branch3x3_1", x)),
		conv("Mixed_7a.branch7x7x3_4", conv("Mixed_7a.branch7x7x3_3", conv("Mixed_7a.branch7x7x3_2", conv("Mixed_7a.branch7x7x3_1", x)))),
		maxPool(x, 2, 0))
	for _, m := range []string{"Mixed_7b", "Mixed_7c"} {
		p := m + "."
		b3 := conv(p+"branch3x3_1", x)
		bd := conv(p+"branch3x3dbl_2", conv(p+"branch3x3dbl_1", x))
		// pytorch-fid: the first E block pools by average (padding not
		// counted), the second by maximum.
		pool := avgPool(x)
		if m == "Mixed_7c" {
			pool = maxPool(x, 1, 1)
		}
		x = cat(conv(p+"branch1x1", x),
			cat(conv(p+"branch3x3_2a", b3), conv(p+"branch3x3_2b", b3)),
			cat(conv(p+"branch3x3dbl_3a", bd), conv(p+"branch3x3dbl_3b", bd)),
			conv(p+"branch_pool", pool))
	}
	if err != nil {
		return nil, err
	}
	// Global average pool.
	out := make([]float32, x.c)
	hw := x.h * x.w
	for c := range x.c {
		var s float64
		for _, v := range x.d[c*hw : (c+1)*hw] {
			s += float64(v)
		}
		out[c] = float32(s / float64(hw))
	}
	return out, nil
}

// apply runs the folded convolution and ReLU (im2col and levy's GEMM).
func (cv *iconv) apply(in tensor3) tensor3 {
	ho := (in.h+2*cv.ph-cv.kh)/cv.sh + 1
	wo := (in.w+2*cv.pw-cv.kw)/cv.sw + 1
	p := ho * wo
	k := cv.ci * cv.kh * cv.kw
	cols := make([]float32, k*p)
	r := 0
	for ci := range cv.ci {
		plane := in.d[ci*in.h*in.w : (ci+1)*in.h*in.w]
		for ky := range cv.kh {
			for kx := range cv.kw {
				row := cols[r*p : (r+1)*p]
				r++
				for oy := range ho {
					iy := oy*cv.sh - cv.ph + ky
					dst := row[oy*wo : (oy+1)*wo]
					if iy < 0 || iy >= in.h {
						clear(dst)
						continue
					}
					src := plane[iy*in.w : (iy+1)*in.w]
					for ox := range wo {
						ix := ox*cv.sw - cv.pw + kx
						if ix < 0 || ix >= in.w {
							dst[ox] = 0
						} else {
							dst[ox] = src[ix]
						}
					}
				}
			}
		}
	}
	out := make([]float32, cv.co*p)
	for o := range cv.co {
		b := cv.b[o]
		for j := range p {
			out[o*p+j] = b
		}
	}
	kern.Gemm(false, false, cv.co, p, k, cv.w, k, cols, p, 1, out, p)
	for i, v := range out {
		if v < 0 {
			out[i] = 0
		}
	}
	return tensor3{out, cv.co, ho, wo}
}

// maxPool is a 3×3 max pool with the given stride and padding (padding
// never wins).
func maxPool(in tensor3, stride, pad int) tensor3 {
	ho := (in.h+2*pad-3)/stride + 1
	wo := (in.w+2*pad-3)/stride + 1
	out := tensor3{make([]float32, in.c*ho*wo), in.c, ho, wo}
	for c := range in.c {
		plane := in.d[c*in.h*in.w:]
		for oy := range ho {
			for ox := range wo {
				m := float32(math.Inf(-1))
				for ky := range 3 {
					iy := oy*stride - pad + ky
					if iy < 0 || iy >= in.h {
						continue
					}
					for kx := range 3 {
						ix := ox*stride - pad + kx
						if ix >= 0 && ix < in.w {
							m = max(m, plane[iy*in.w+ix])
						}
					}
				}
				out.d[c*ho*wo+oy*wo+ox] = m
			}
		}
	}
	return out
}

// avgPool is a 3×3 average pool, stride 1, padding 1, dividing by the
// number of pixels inside the image (count_include_pad=False).
func avgPool(in tensor3) tensor3 {
	out := tensor3{make([]float32, len(in.d)), in.c, in.h, in.w}
	for c := range in.c {
		plane := in.d[c*in.h*in.w:]
		for y := range in.h {
			for x := range in.w {
				var s float32
				n := 0
				for iy := max(0, y-1); iy <= min(in.h-1, y+1); iy++ {
					for ix := max(0, x-1); ix <= min(in.w-1, x+1); ix++ {
						s += plane[iy*in.w+ix]
						n++
					}
				}
				out.d[c*in.h*in.w+y*in.w+x] = s / float32(n)
			}
		}
	}
	return out
}

// resizeBilinear resizes [c, h, w] to [c, ho, wo] as PyTorch's
// interpolate(mode="bilinear", align_corners=False): source coordinate
// (o + ½)·in/out − ½, clamped at 0.
func resizeBilinear(x []float32, c, h, w, ho, wo int) []float32 {
	out := make([]float32, c*ho*wo)
	src := func(o, in, outN int) (int, int, float32) {
		s := (float64(o)+0.5)*float64(in)/float64(outN) - 0.5
		s = max(s, 0)
		i0 := int(s)
		i0 = min(i0, in-1)
		i1 := min(i0+1, in-1)
		return i0, i1, float32(s - float64(i0))
	}
	for ch := range c {
		plane := x[ch*h*w:]
		for oy := range ho {
			y0, y1, fy := src(oy, h, ho)
			for ox := range wo {
				x0, x1, fx := src(ox, w, wo)
				top := plane[y0*w+x0]*(1-fx) + plane[y0*w+x1]*fx
				bot := plane[y1*w+x0]*(1-fx) + plane[y1*w+x1]*fx
				out[ch*ho*wo+oy*wo+ox] = top*(1-fy) + bot*fy
			}
		}
	}
	return out
}
