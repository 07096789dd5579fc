package quality

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/levy-ml/levy/nn/unet"
	"github.com/levy-ml/levy/safetensors"
)

var _ unet.FeatureNet = (*Inception)(nil)

// standIn writes a narrow Inception-v3: torchvision's module names and
// kernel shapes, a few channels per convolution (torchvision's counts
// divided by 32), random weights and batch-norm statistics. It returns
// the path and the feature width.
func standIn(t *testing.T, seed uint64, drop string) (string, int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 9))
	var ts []safetensors.Tensor
	add := func(name string, ci, co, kh, kw int) int {
		co = max(1, co/32)
		if name != drop {
			w := make([]float32, co*ci*kh*kw)
			for i := range w {
				w[i] = float32(rng.NormFloat64() / math.Sqrt(float64(ci*kh*kw)))
			}
			ts = append(ts, safetensors.Tensor{Name: name + ".conv.weight", Shape: []int{co, ci, kh, kw}, Data: w})
		}
		for _, p := range []string{"weight", "bias", "running_mean", "running_var"} {
			v := make([]float32, co)
			for i := range v {
				switch p {
				case "weight", "running_var":
					v[i] = float32(0.5 + rng.Float64())
				default:
					v[i] = float32(0.1 * rng.NormFloat64())
				}
			}
			ts = append(ts, safetensors.Tensor{Name: name + ".bn." + p, Shape: []int{co}, Data: v})
		}
		return co
	}
	c := add("Conv2d_1a_3x3", 3, 32, 3, 3)
	c = add("Conv2d_2a_3x3", c, 32, 3, 3)
	c = add("Conv2d_2b_3x3", c, 64, 3, 3)
	c = add("Conv2d_3b_1x1", c, 80, 1, 1)
	c = add("Conv2d_4a_3x3", c, 192, 3, 3)
	for _, m := range []struct {
		name string
		pool int
	}{{"Mixed_5b", 32}, {"Mixed_5c", 64}, {"Mixed_5d", 64}} {
		p := m.name + "."
		a := add(p+"branch1x1", c, 64, 1, 1)
		b := add(p+"branch5x5_2", add(p+"branch5x5_1", c, 48, 1, 1), 64, 5, 5)
		d := add(p+"branch3x3dbl_3", add(p+"branch3x3dbl_2", add(p+"branch3x3dbl_1", c, 64, 1, 1), 96, 3, 3), 96, 3, 3)
		e := add(p+"branch_pool", c, m.pool, 1, 1)
		c = a + b + d + e
	}
	a := add("Mixed_6a.branch3x3", c, 384, 3, 3)
	d := add("Mixed_6a.branch3x3dbl_3", add("Mixed_6a.branch3x3dbl_2", add("Mixed_6a.branch3x3dbl_1", c, 64, 1, 1), 96, 3, 3), 96, 3, 3)
	c = a + d + c
	for _, m := range []struct {
		name string
		c7   int
	}{{"Mixed_6b", 128}, {"Mixed_6c", 160}, {"Mixed_6d", 160}, {"Mixed_6e", 192}} {
		p := m.name + "."
		a := add(p+"branch1x1", c, 192, 1, 1)
		b := add(p+"branch7x7_3", add(p+"branch7x7_2", add(p+"branch7x7_1", c, m.c7, 1, 1), m.c7, 1, 7), 192, 7, 1)
		d := add(p+"branch7x7dbl_1", c, m.c7, 1, 1)
		d = add(p+"branch7x7dbl_2", d, m.c7, 7, 1)
		d = add(p+"branch7x7dbl_3", d, m.c7, 1, 7)
		d = add(p+"branch7x7dbl_4", d, m.c7, 7, 1)
		d = add(p+"branch7x7dbl_5", d, 192, 1, 7)
		e := add(p+"branch_pool", c, 192, 1, 1)
		c = a + b + d + e
	}
	a = add("Mixed_7a.branch3x3_2", add("Mixed_7a.branch3x3_1", c, 192, 1, 1), 320, 3, 3)
	b := add("Mixed_7a.branch7x7x3_1", c, 192, 1, 1)
	b = add("Mixed_7a.branch7x7x3_2", b, 192, 1, 7)
	b = add("Mixed_7a.branch7x7x3_3", b, 192, 7, 1)
	b = add("Mixed_7a.branch7x7x3_4", b, 192, 3, 3)
	c = a + b + c
	for _, m := range []string{"Mixed_7b", "Mixed_7c"} {
		p := m + "."
		a := add(p+"branch1x1", c, 320, 1, 1)
		b1 := add(p+"branch3x3_1", c, 384, 1, 1)
		b := add(p+"branch3x3_2a", b1, 384, 1, 3) + add(p+"branch3x3_2b", b1, 384, 3, 1)
		d1 := add(p+"branch3x3dbl_2", add(p+"branch3x3dbl_1", c, 448, 1, 1), 384, 3, 3)
		d := add(p+"branch3x3dbl_3a", d1, 384, 1, 3) + add(p+"branch3x3dbl_3b", d1, 384, 3, 1)
		e := add(p+"branch_pool", c, 192, 1, 1)
		c = a + b + d + e
	}
	ts = append(ts, safetensors.Tensor{Name: "fc.weight", Shape: []int{2, c}, Data: make([]float32, 2*c)})
	path := filepath.Join(t.TempDir(), "inception.safetensors")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := safetensors.Encode(f, ts, nil); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path, c
}

// TestInceptionStandIn: a narrow network with Inception-v3's names and
// topology loads, gives features of the width its last block
// concatenates, and through the same Scorer separates real images from
// noise; a file with a tensor missing is refused by name.
func TestInceptionStandIn(t *testing.T) {
	path, dim := standIn(t, 1, "")
	net, err := LoadInception(path)
	if err != nil {
		t.Fatal(err)
	}
	if net.Dim() != dim {
		t.Fatalf("feature width %d, want %d", net.Dim(), dim)
	}
	_, te := fixture(t, 10, 60)
	real, err := Images(te, 60)
	if err != nil {
		t.Fatal(err)
	}
	const d = 1024
	sc, err := NewScorer(net, real[:30*d], 30)
	if err != nil {
		t.Fatal(err)
	}
	same, err := sc.Score(real[30*d:], 30)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	noise := make([]float32, 30*d)
	for i := range noise {
		noise[i] = float32(2*rng.Float64() - 1)
	}
	far, err := sc.Score(noise, 30)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stand-in (%d features): real vs real %v, real vs noise %v", dim, same, far)
	if !(far["fd"] > 3*same["fd"]) {
		t.Errorf("FD of noise %.4g is not 3× that of real images %.4g", far["fd"], same["fd"])
	}

	bad, _ := standIn(t, 1, "Mixed_6c.branch7x7dbl_3")
	if _, err := LoadInception(bad); err == nil || !strings.Contains(err.Error(), "Mixed_6c.branch7x7dbl_3.conv.weight") {
		t.Fatalf("missing tensor: %v", err)
	}
}

// TestInceptionConvFoldsBatchNorm: a folded convolution equals the direct
// sum Σ w·x, then (y − mean)/√(var + 1e−3)·γ + β, then ReLU, computed here
// loop by loop, with stride and padding.
func TestInceptionConvFoldsBatchNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const ci, co, kh, kw, h, w, sh, ph, pw = 3, 4, 3, 2, 7, 6, 2, 1, 0
	wt := make([]float32, co*ci*kh*kw)
	for i := range wt {
		wt[i] = float32(rng.NormFloat64())
	}
	gam, bet, mean, vr := make([]float32, co), make([]float32, co), make([]float32, co), make([]float32, co)
	for o := range co {
		gam[o], bet[o], mean[o], vr[o] = float32(rng.Float64()+0.5), float32(rng.NormFloat64()), float32(rng.NormFloat64()), float32(rng.Float64()+0.1)
	}
	cv := &iconv{co: co, ci: ci, kh: kh, kw: kw, sh: sh, sw: sh, ph: ph, pw: pw, w: make([]float32, len(wt)), b: make([]float32, co)}
	k := ci * kh * kw
	for o := range co {
		s := float64(gam[o]) / math.Sqrt(float64(vr[o])+1e-3)
		for j := range k {
			cv.w[o*k+j] = float32(float64(wt[o*k+j]) * s)
		}
		cv.b[o] = float32(float64(bet[o]) - float64(mean[o])*s)
	}
	x := tensor3{make([]float32, ci*h*w), ci, h, w}
	for i := range x.d {
		x.d[i] = float32(rng.NormFloat64())
	}
	got := cv.apply(x)
	ho, wo := (h+2*ph-kh)/sh+1, (w+2*pw-kw)/sh+1
	if got.h != ho || got.w != wo || got.c != co {
		t.Fatalf("output %d×%d×%d, want %d×%d×%d", got.c, got.h, got.w, co, ho, wo)
	}
	for o := range co {
		for oy := range ho {
			for ox := range wo {
				var s float64
				for c := range ci {
					for ky := range kh {
						for kx := range kw {
							iy, ix := oy*sh-ph+ky, ox*sh-pw+kx
							if iy >= 0 && iy < h && ix >= 0 && ix < w {
								s += float64(wt[((o*ci+c)*kh+ky)*kw+kx]) * float64(x.d[(c*h+iy)*w+ix])
							}
						}
					}
				}
				want := max(0, (s-float64(mean[o]))/math.Sqrt(float64(vr[o])+1e-3)*float64(gam[o])+float64(bet[o]))
				if g := float64(got.d[(o*ho+oy)*wo+ox]); math.Abs(g-want) > 1e-4*(1+math.Abs(want)) {
					t.Fatalf("out[%d,%d,%d] = %v, want %v", o, oy, ox, g, want)
				}
			}
		}
	}
}

// TestPoolsAndResize against values worked by hand (and by PyTorch's
// definitions: bilinear with align_corners=False, average pooling that
// does not count padding).
func TestPoolsAndResize(t *testing.T) {
	// [0, 1] → 4 wide: source x = (o+½)/2 − ½ = −¼ (clamped 0), ¼, ¾, 1¼ (→ 1).
	r := resizeBilinear([]float32{0, 1}, 1, 1, 2, 1, 4)
	for i, want := range []float32{0, 0.25, 0.75, 1} {
		if math.Abs(float64(r[i]-want)) > 1e-7 {
			t.Fatalf("resize: %v", r)
		}
	}
	x := tensor3{[]float32{1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 3, 3}
	a := avgPool(x)
	// Corner (0,0) averages 1, 2, 4, 5; the centre all nine.
	if a.d[0] != 3 || a.d[4] != 5 {
		t.Fatalf("avgPool: %v", a.d)
	}
	m := maxPool(x, 1, 1)
	if m.d[0] != 5 || m.d[8] != 9 || m.h != 3 {
		t.Fatalf("maxPool stride 1: %v", m.d)
	}
	m = maxPool(x, 2, 0)
	if m.h != 1 || m.d[0] != 9 {
		t.Fatalf("maxPool stride 2: %v", m.d)
	}
}
