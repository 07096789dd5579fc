package unet

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/levy-ml/levy/losses"
	"github.com/levy-ml/levy/nn"
)

// tiny is a U-Net small enough for finite differences over its whole
// graph but with every kind of block: two levels, a channel change (skip
// convolution), attention at both the 4² level and the middle, a stride-2
// downsample and a nearest upsample.
func tiny() Config {
	return Config{ImageSize: 8, InChannels: 2, ModelChannels: 4, ChannelMult: []int{1, 2}, NumResBlocks: 1,
		AttentionDS: []int{2}, NumHeads: 2, NormGroups: 2}
}

// randomize replaces every weight (the zero-initialised output
// convolutions too, which would otherwise hide the gradients below them).
func randomize(m *Model, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := range m.flat {
		m.flat[i] = float32(0.4 * rng.NormFloat64())
	}
}

// graphCheck builds a float64 graph with build, a loss Σ R∘out for
// random R, and compares gorgonia's gradients of the listed parameters
// with central finite differences on a sample of their entries.
func graphCheck(t *testing.T, name string, build func(b *builder[float64]) (*G.Node, []*G.Node), seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 2))
	b := &builder[float64]{g: G.NewGraph(), cfg: tiny(), B: 2, collect: true}
	out, data := build(b)
	if b.err != nil {
		t.Fatal(b.err)
	}
	// Give every parameter and data node a random value.
	vals := map[*G.Node][]float64{}
	for _, n := range append(append([]*G.Node{}, b.params...), data...) {
		d := make([]float64, n.Shape().TotalSize())
		for i := range d {
			d[i] = 0.5 * rng.NormFloat64()
		}
		if err := G.Let(n, tensor.New(tensor.WithShape(n.Shape()...), tensor.WithBacking(d))); err != nil {
			t.Fatal(err)
		}
		vals[n] = d
	}
	R := make([]float64, out.Shape().TotalSize())
	for i := range R {
		R[i] = rng.NormFloat64()
	}
	rn := G.NewTensor(b.g, tensor.Float64, out.Dims(), G.WithShape(out.Shape()...), G.WithName("R"),
		G.WithValue(tensor.New(tensor.WithShape(out.Shape()...), tensor.WithBacking(R))))
	loss := G.Must(G.Sum(G.Must(G.HadamardProd(out, rn))))
	grads, err := G.Grad(loss, b.params...)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(b.g)
	defer vm.Close()
	eval := func() float64 {
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		return loss.Value().Data().(float64)
	}
	eval()
	analytic := make([][]float64, len(grads))
	for i, g := range grads {
		analytic[i] = append([]float64(nil), g.Value().Data().([]float64)...)
	}
	const h, tol = 1e-6, 1e-6
	worst, checked := 0.0, 0
	for i, p := range b.params {
		d := vals[p]
		idx := rng.Perm(len(d))
		if len(idx) > 8 {
			idx = idx[:8]
		}
		for _, j := range idx {
			v := d[j]
			d[j] = v + h
			lp := eval()
			d[j] = v - h
			lm := eval()
			d[j] = v
			num := (lp - lm) / (2 * h)
			e := math.Abs(analytic[i][j]-num) / (1 + math.Abs(num))
			worst = max(worst, e)
			checked++
			if !(e <= tol) {
				t.Fatalf("%s: d/d %s[%d] = %.9g, finite differences %.9g", name, p.Name(), j, analytic[i][j], num)
			}
		}
	}
	t.Logf("%s: %d parameters, %d entries checked, worst relative error %.2g", name, len(b.params), checked, worst)
}

func dataNode(b *builder[float64], name string, shape ...int) *G.Node {
	return G.NewTensor(b.g, tensor.Float64, len(shape), G.WithShape(shape...), G.WithName(name))
}

// TestBlockGradients checks each block of the U-Net, as the network
// wires it, against finite differences.
func TestBlockGradients(t *testing.T) {
	graphCheck(t, "ResBlock 4→4", func(b *builder[float64]) (*G.Node, []*G.Node) {
		x, e := dataNode(b, "x", 2, 4, 4, 4), dataNode(b, "e", 2, 16)
		return b.res("r", x, e, 4), []*G.Node{x, e}
	}, 1)
	graphCheck(t, "ResBlock 4→8 (skip conv)", func(b *builder[float64]) (*G.Node, []*G.Node) {
		x, e := dataNode(b, "x", 2, 4, 4, 4), dataNode(b, "e", 2, 16)
		return b.res("r", x, e, 8), []*G.Node{x, e}
	}, 2)
	graphCheck(t, "AttentionBlock", func(b *builder[float64]) (*G.Node, []*G.Node) {
		x := dataNode(b, "x", 2, 4, 3, 3)
		return b.attn("a", x), []*G.Node{x}
	}, 3)
	graphCheck(t, "Downsample", func(b *builder[float64]) (*G.Node, []*G.Node) {
		x := dataNode(b, "x", 2, 4, 4, 4)
		return b.conv("d", x, 4, 3, 2, initUniform, false), []*G.Node{x}
	}, 4)
	graphCheck(t, "Upsample+conv", func(b *builder[float64]) (*G.Node, []*G.Node) {
		x := dataNode(b, "x", 2, 4, 2, 2)
		u := b.op(&upFn[float64]{B: 2, C: 4, H: 2, W: 2}, x)
		return b.conv("u", u, 4, 3, 1, initUniform, false), []*G.Node{x}
	}, 5)
	graphCheck(t, "TimeEmbed", func(b *builder[float64]) (*G.Node, []*G.Node) {
		x := dataNode(b, "t", 2, 4)
		e := b.op(siluFn[float64]{}, b.linear("te0", x, 16, true))
		return b.linear("te2", e, 16, false), []*G.Node{x}
	}, 6)
	graphCheck(t, "whole U-Net", func(b *builder[float64]) (*G.Node, []*G.Node) {
		in, out := b.net()
		return out, []*G.Node{in.x, in.temb}
	}, 7)
}

// TestNetworkShapesAndNames: the parameters carry improved-diffusion's
// names, the output has the input's shape, and the zero-initialised
// output convolution makes a fresh network output 0.
func TestNetworkShapesAndNames(t *testing.T) {
	m, err := New(DefaultConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, p := range m.Params() {
		names[p.Name] = true
	}
	for _, n := range []string{"time_embed.0.weight", "input_blocks.0.0.weight", "input_blocks.1.0.in_layers.0.weight",
		"input_blocks.1.0.emb_layers.1.weight", "input_blocks.2.0.op.weight", "input_blocks.3.0.skip_connection.weight",
		"input_blocks.5.1.qkv.weight", "middle_block.1.proj_out.weight", "output_blocks.1.2.conv.weight", "output_blocks.3.1.conv.weight", "out.2.weight"} {
		if !names[n] {
			t.Errorf("no parameter %s", n)
		}
	}
	t.Logf("DefaultConfig: %d parameters in %d tensors", m.NumParams(), len(m.Params()))
	d := NewDenoiser(m)
	defer d.Close()
	x := make([]float32, 3*32*32)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	out := make([]float32, len(x))
	if err := d.Denoise(out, x, []float32{0.1, 0.5, 0.9}); err != nil {
		t.Fatal(err)
	}
	for i, v := range out {
		if v != 0 {
			t.Fatalf("fresh network: out[%d] = %v, want 0 (zero-initialised output convolution)", i, v)
		}
	}
}

// TestFloat32MatchesFloat64: the float32 forward pass (AVX2 kernels where
// available) agrees with the float64 one to float32 rounding.
func TestFloat32MatchesFloat64(t *testing.T) {
	m, err := New(tiny(), 2)
	if err != nil {
		t.Fatal(err)
	}
	randomize(m, 3)
	rng := rand.New(rand.NewPCG(4, 4))
	n := 3
	x := make([]float32, n*2*8*8)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	tau := []float32{0.05, 0.5, 0.95}
	g32, err := buildGraph[float32](m, n, "")
	if err != nil {
		t.Fatal(err)
	}
	g64, err := buildGraph[float64](m, n, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []interface {
		load(*Model, []float32, []float32, []float32, *rand.Rand, float64) error
		run() error
	}{g32, g64} {
		if err := g.load(m, x, tau, nil, nil, 0); err != nil {
			t.Fatal(err)
		}
		if err := g.run(); err != nil {
			t.Fatal(err)
		}
	}
	a, b := g32.out.Value().Data().([]float32), g64.out.Value().Data().([]float64)
	var worst, scale float64
	for i := range a {
		worst = max(worst, math.Abs(float64(a[i])-b[i]))
		scale = max(scale, math.Abs(b[i]))
	}
	t.Logf("max |float32 − float64| = %.3g (output scale %.3g)", worst, scale)
	if worst > 1e-4*scale {
		t.Errorf("float32 and float64 differ by %.3g at scale %.3g", worst, scale)
	}
}

// TestOverfitsEightImages: trained on one fixed batch of 8 images with
// fixed noise and times, the U-Net drives the ε-prediction loss below 5 %
// of its starting value: the network, its gradients and the optimiser
// fit together.
func TestOverfitsEightImages(t *testing.T) {
	cfg := Config{ImageSize: 16, InChannels: 1, ModelChannels: 16, ChannelMult: []int{1, 2}, NumResBlocks: 1,
		AttentionDS: []int{2}, NumHeads: 2, NormGroups: 8}
	m, err := New(cfg, 5)
	if err != nil {
		t.Fatal(err)
	}
	opt := Optim{AdamW: nn.AdamW{LR: 2e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}, ClipNorm: 1}
	tr, err := NewTrainer(m, losses.MSE, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	rng := rand.New(rand.NewPCG(6, 6))
	const n = 8
	x, eps := make([]float32, n*16*16), make([]float32, n*16*16)
	tau := make([]float32, n)
	for i := range n {
		tau[i] = float32(i+1) / (n + 1)
		a := float32(math.Sqrt(1 - float64(tau[i])))
		for p := range 16 * 16 {
			img := float32(-1)
			if (p/16-8)*(p/16-8)+(p%16-8)*(p%16-8) < (i+2)*(i+2) { // discs of different radii
				img = 1
			}
			e := float32(rng.NormFloat64())
			eps[i*256+p] = e
			x[i*256+p] = a*img + float32(math.Sqrt(float64(tau[i])))*e
		}
	}
	first := 0.0
	var last float64
	for step := range 300 {
		l, err := tr.Step(x, tau, eps)
		if err != nil {
			t.Fatal(err)
		}
		if step == 0 {
			first = l
		}
		last = l
	}
	t.Logf("loss %.4g → %.3g after 300 steps (%d parameters)", first, last, m.NumParams())
	if !(last < 0.05*first) {
		t.Errorf("loss %.4f → %.4f: did not fall below 5%% of the start", first, last)
	}
}
