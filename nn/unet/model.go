package unet

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/levy-ml/levy/nn"
)

type initKind int

const (
	initUniform initKind = iota // PyTorch's default: U(±1/√fan_in), fan_in = shape[1:] (bias: its layer's)
	initZero
	initOne
)

type pspec struct {
	name  string
	shape []int
	init  initKind
	fanIn int
}

// Model is the U-Net's weights.
type Model struct {
	cfg    Config
	specs  []pspec
	flat   []float32
	params []nn.Param
}

// New returns a U-Net initialised from seed: convolution and linear
// weights and biases uniform in ±1/√fan_in (PyTorch's default), GroupNorm
// gains 1 and biases 0, and the output convolutions of every residual
// block, every attention block and the network zero.
func New(cfg Config, seed uint64) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Model{cfg: cfg}
	// Walk the architecture once on a throwaway graph to list the
	// parameters in their order.
	b := &builder[float64]{g: nn.NewGraph(), cfg: cfg, B: 1, collect: true}
	b.net()
	if b.err != nil {
		return nil, b.err
	}
	m.specs = b.specs
	initParams(m, seed)
	return m, nil
}

func size(s []int) int {
	n := 1
	for _, v := range s {
		n *= v
	}
	return n
}

// Config is the model's configuration.
func (m *Model) Config() Config { return m.cfg }

// Params returns the parameters in a fixed order, named as the PyTorch
// improved-diffusion UNetModel names them (convolution weights [out, in,
// k, k]; the attention's qkv and proj_out as 1×1 convolutions).
func (m *Model) Params() []nn.Param { return append([]nn.Param(nil), m.params...) }

// NumParams is the number of weights.
func (m *Model) NumParams() int { return len(m.flat) }

// Flat is every weight, in Params order (aliased).
func (m *Model) Flat() []float32 { return m.flat }

// builder walks the architecture, creating parameter nodes (or, with
// collect, only listing them) and the ops between them.
type builder[F float] struct {
	g       *G.ExprGraph
	cfg     Config
	B       int
	collect bool
	train   bool // with dropout
	specs   []pspec
	values  []*tensor.Dense // build: the parameters' values, in order
	params  []*G.Node
	masks   []*G.Node // dropout masks (data)
	err     error
}

func (b *builder[F]) param(name string, shape []int, init initKind, fanIn int) *G.Node {
	i := len(b.params)
	if b.collect {
		b.specs = append(b.specs, pspec{name: name, shape: shape, init: init, fanIn: fanIn})
	} else if i >= len(b.values) || b.values[i] == nil {
		b.fail(fmt.Errorf("unet: no value for parameter %d (%s)", i, name))
		return nil
	}
	var n *G.Node
	if b.collect {
		n = G.NewTensor(b.g, nn.Dtype[F](), len(shape), G.WithShape(shape...), G.WithName(name))
	} else {
		n = G.NewTensor(b.g, nn.Dtype[F](), len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(b.values[i]))
	}
	b.params = append(b.params, n)
	return n
}

func (b *builder[F]) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

func (b *builder[F]) op(f nn.Fn[F], in ...*G.Node) *G.Node {
	if b.err != nil {
		return nil
	}
	for _, n := range in {
		if n == nil {
			b.fail(fmt.Errorf("unet: %v: missing input", f))
			return nil
		}
	}
	n, err := nn.Apply(f, in...)
	if err != nil {
		b.fail(fmt.Errorf("unet: %v: %w", f, err))
	}
	return n
}

func shapeOf(n *G.Node) (c, h, w int) {
	s := n.Shape()
	return s[1], s[2], s[3]
}

// conv adds name.{weight,bias} and a K×K convolution with stride s.
func (b *builder[F]) conv(name string, x *G.Node, co, k, s int, init initKind, dataIn bool) *G.Node {
	if b.err != nil {
		return nil
	}
	ci, h, w := shapeOf(x)
	fan := ci * k * k
	wt := b.param(name+".weight", []int{co, ci, k, k}, init, fan)
	bias := b.param(name+".bias", []int{co}, init, fan)
	return b.op(&convFn[F]{g: convGeom{B: b.B, Ci: ci, H: h, W: w, Co: co, K: k, S: s}, dataIn: dataIn}, x, wt, bias)
}

func (b *builder[F]) linear(name string, x *G.Node, out int, dataIn bool) *G.Node {
	if b.err != nil {
		return nil
	}
	in := x.Shape()[1]
	wt := b.param(name+".weight", []int{out, in}, initUniform, in)
	bias := b.param(name+".bias", []int{out}, initUniform, in)
	return b.op(&linearFn[F]{n: b.B, in: in, out: out, dataIn: dataIn}, x, wt, bias)
}

// norm adds name.{weight,bias} and GroupNorm (with ss: scale-shift).
func (b *builder[F]) norm(name string, x, ss *G.Node, silu bool) *G.Node {
	if b.err != nil {
		return nil
	}
	c, h, w := shapeOf(x)
	gm := b.param(name+".weight", []int{c}, initOne, 0)
	bt := b.param(name+".bias", []int{c}, initZero, 0)
	if ss != nil {
		return b.op(newGN[F](b.B, c, h, w, b.cfg.groups(c), true, silu), x, gm, bt, ss)
	}
	return b.op(newGN[F](b.B, c, h, w, b.cfg.groups(c), false, silu), x, gm, bt)
}

// res is a residual block with scale-shift time conditioning.
func (b *builder[F]) res(name string, x, emb *G.Node, co int) *G.Node {
	if b.err != nil {
		return nil
	}
	ci, h, w := shapeOf(x)
	hd := b.norm(name+".in_layers.0", x, nil, true)
	hd = b.conv(name+".in_layers.2", hd, co, 3, 1, initUniform, false)
	ss := b.linear(name+".emb_layers.1", emb, 2*co, false)
	hd = b.norm(name+".out_layers.0", hd, ss, true)
	if b.cfg.Dropout > 0 && b.train && b.err == nil {
		mask := G.NewTensor(b.g, nn.Dtype[F](), 4, G.WithShape(b.B, co, h, w), G.WithName(fmt.Sprintf("dropout.%d", len(b.masks))),
			G.WithValue(tensor.New(tensor.Of(nn.Dtype[F]()), tensor.WithShape(b.B, co, h, w))))
		b.masks = append(b.masks, mask)
		hd = b.op(dropFn[F]{}, hd, mask)
	}
	hd = b.conv(name+".out_layers.3", hd, co, 3, 1, initZero, false)
	skip := x
	if ci != co {
		skip = b.conv(name+".skip_connection", x, co, 1, 1, initUniform, false)
	}
	return b.op(addFn[F]{}, skip, hd)
}

// attn is a self-attention block: x + proj(attention(qkv(norm(x)))).
func (b *builder[F]) attn(name string, x *G.Node) *G.Node {
	if b.err != nil {
		return nil
	}
	c, h, w := shapeOf(x)
	n := b.norm(name+".norm", x, nil, false)
	qkv := b.conv(name+".qkv", n, 3*c, 1, 1, initUniform, false)
	a := b.op(newAttn[F](b.B, c, h, w, b.cfg.NumHeads), qkv)
	p := b.conv(name+".proj_out", a, c, 1, 1, initZero, false)
	return b.op(addFn[F]{}, x, p)
}

// inputs are the graph's data nodes.
type inputs struct {
	x, temb *G.Node // [B,C,H,W] noisy images, [B,ModelChannels] sinusoidal time features
}

// net builds the network on new data nodes and returns them and the
// output [B,C,H,W].
func (b *builder[F]) net() (inputs, *G.Node) {
	c, s, mc := b.cfg.InChannels, b.cfg.ImageSize, b.cfg.ModelChannels
	dt := nn.Dtype[F]()
	in := inputs{
		x: G.NewTensor(b.g, dt, 4, G.WithShape(b.B, c, s, s), G.WithName("x"),
			G.WithValue(tensor.New(tensor.Of(dt), tensor.WithShape(b.B, c, s, s)))),
		temb: G.NewMatrix(b.g, dt, G.WithShape(b.B, mc), G.WithName("temb"),
			G.WithValue(tensor.New(tensor.Of(dt), tensor.WithShape(b.B, mc)))),
	}
	emb := b.linear("time_embed.0", in.temb, b.cfg.TimeEmbed(), true)
	emb = b.op(siluFn[F]{}, emb)
	emb = b.linear("time_embed.2", emb, b.cfg.TimeEmbed(), false)
	// Every block's emb_layers starts with SiLU(emb): computed once.
	embAct := b.op(siluFn[F]{}, emb)

	h := b.conv("input_blocks.0.0", in.x, mc, 3, 1, initUniform, true)
	skips := []*G.Node{h}
	idx, ds := 1, 1
	for lvl, mult := range b.cfg.ChannelMult {
		for range b.cfg.NumResBlocks {
			name := fmt.Sprintf("input_blocks.%d", idx)
			h = b.res(name+".0", h, embAct, mult*mc)
			if b.cfg.attnAt(ds) {
				h = b.attn(name+".1", h)
			}
			skips = append(skips, h)
			idx++
		}
		if lvl != len(b.cfg.ChannelMult)-1 {
			ch, _, _ := shapeOrZero(h)
			h = b.conv(fmt.Sprintf("input_blocks.%d.0.op", idx), h, ch, 3, 2, initUniform, false)
			skips = append(skips, h)
			idx++
			ds *= 2
		}
	}
	h = b.res("middle_block.0", h, embAct, b.cfg.ChannelMult[len(b.cfg.ChannelMult)-1]*mc)
	h = b.attn("middle_block.1", h)
	h = b.res("middle_block.2", h, embAct, b.cfg.ChannelMult[len(b.cfg.ChannelMult)-1]*mc)
	idx = 0
	for lvl := len(b.cfg.ChannelMult) - 1; lvl >= 0; lvl-- {
		mult := b.cfg.ChannelMult[lvl]
		for i := range b.cfg.NumResBlocks + 1 {
			if b.err != nil {
				return in, nil
			}
			name := fmt.Sprintf("output_blocks.%d", idx)
			skip := skips[len(skips)-1]
			skips = skips[:len(skips)-1]
			ca, _, _ := shapeOf(h)
			cb, hh, ww := shapeOf(skip)
			h = b.op(&concatFn[F]{B: b.B, Ca: ca, Cb: cb, P: hh * ww}, h, skip)
			h = b.res(name+".0", h, embAct, mult*mc)
			sub := 1
			if b.cfg.attnAt(ds) {
				h = b.attn(name+".1", h)
				sub = 2
			}
			if lvl > 0 && i == b.cfg.NumResBlocks {
				if b.err != nil {
					return in, nil
				}
				ch, hh, ww := shapeOf(h)
				h = b.op(&upFn[F]{B: b.B, C: ch, H: hh, W: ww}, h)
				h = b.conv(fmt.Sprintf("%s.%d.conv", name, sub), h, ch, 3, 1, initUniform, false)
				ds /= 2
			}
			idx++
		}
	}
	h = b.norm("out.0", h, nil, true)
	out := b.conv("out.2", h, c, 3, 1, initZero, false)
	return in, out
}

func shapeOrZero(n *G.Node) (c, h, w int) {
	if n == nil {
		return 0, 0, 0
	}
	return shapeOf(n)
}

// TimeFeatures writes the sinusoidal features [n, dim] of the times tau
// (docs/algorithms.md §3.5: the scaled time k/T or t, not the step index): for i <
// dim/2, cos(τ·f_i) and sin(τ·f_i) with f_i = 10000^(−i/(dim/2)),
// improved-DDPM's timestep_embedding with max period 10000.
func TimeFeatures(dst, tau []float32, dim int) {
	half := dim / 2
	for j, t := range tau {
		row := dst[j*dim : (j+1)*dim]
		for i := range half {
			f := math.Exp(-math.Log(10000) * float64(i) / float64(half))
			a := float64(t) * f
			row[i], row[half+i] = float32(math.Cos(a)), float32(math.Sin(a))
		}
		if dim%2 == 1 {
			row[dim-1] = 0
		}
	}
}
