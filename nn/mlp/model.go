package mlp

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/levy-ml/levy/nn"
)

// linIdx and lnIdx locate a layer's tensors in Params.
type (
	linIdx   struct{ w, b int }
	lnIdx    struct{ g, b int }
	blockIdx struct {
		lin1  linIdx
		norm1 lnIdx
		time  linIdx
		lin2  linIdx
		norm2 lnIdx
	}
	layout struct {
		time0, time2 linIdx
		in           linIdx
		inNorm       lnIdx
		blocks       []blockIdx
		out          linIdx
	}
)

type spec struct {
	name  string
	shape []int
}

// specs lists the parameters in Params order, with the layout indexing it.
func specs(c Config) ([]spec, layout) {
	var s []spec
	add := func(name string, shape ...int) int {
		s = append(s, spec{name, shape})
		return len(s) - 1
	}
	lin := func(name string, in, out int) linIdx {
		return linIdx{add(name+".weight", out, in), add(name+".bias", out)}
	}
	ln := func(name string, h int) lnIdx {
		return lnIdx{add(name+".weight", h), add(name+".bias", h)}
	}
	d, h, t := c.Dim, c.Hidden, c.TimeEmbed
	var l layout
	l.time0 = lin("time.0", 1, t)
	l.time2 = lin("time.2", t, t)
	l.in = lin("in.lin", d, h)
	l.inNorm = ln("in.norm", h)
	for i := range c.Blocks {
		p := fmt.Sprintf("blocks.%d.", i)
		l.blocks = append(l.blocks, blockIdx{
			lin1: lin(p+"lin1", h, h), norm1: ln(p+"norm1", h),
			time: lin(p+"time", t, h),
			lin2: lin(p+"lin2", h, h), norm2: ln(p+"norm2", h),
		})
	}
	l.out = lin("out", h, d)
	return s, l
}

func size(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Model is the denoiser of docs/algorithms.md §6.3 (module docs). Its parameters live
// in one contiguous float32 slice.
type Model struct {
	cfg    Config
	lay    layout
	flat   []float32
	params []nn.Param
}

// New returns a model with PyTorch's default initialisation drawn from a
// PCG stream seeded by seed: every Linear weight and bias uniform in
// ±1/√fan_in (drawn in Params order, row-major), LayerNorm gains 1 and
// biases 0.
func New(cfg Config, seed uint64) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s, lay := specs(cfg)
	m := &Model{cfg: cfg, lay: lay, flat: make([]float32, cfg.NumParams())}
	m.params = paramsOver(s, m.flat)
	rng := rand.New(rand.NewPCG(seed, 0x6c657679)) // "levy"
	uniform := func(p nn.Param, fanIn int) {
		bound := 1 / math.Sqrt(float64(fanIn))
		for i := range p.Data {
			p.Data[i] = float32((2*rng.Float64() - 1) * bound)
		}
	}
	lin := func(l linIdx) {
		fanIn := m.params[l.w].Shape[1]
		uniform(m.params[l.w], fanIn)
		uniform(m.params[l.b], fanIn)
	}
	ln := func(l lnIdx) {
		for i := range m.params[l.g].Data {
			m.params[l.g].Data[i] = 1
		}
	}
	lin(lay.time0)
	lin(lay.time2)
	lin(lay.in)
	ln(lay.inNorm)
	for _, b := range lay.blocks {
		lin(b.lin1)
		ln(b.norm1)
		lin(b.time)
		lin(b.lin2)
		ln(b.norm2)
	}
	lin(lay.out)
	return m, nil
}

// paramsOver cuts flat into the tensors of s.
func paramsOver(s []spec, flat []float32) []nn.Param {
	ps := make([]nn.Param, len(s))
	off := 0
	for i, sp := range s {
		n := size(sp.shape)
		ps[i] = nn.Param{Name: sp.name, Shape: append([]int(nil), sp.shape...), Data: flat[off : off+n : off+n]}
		off += n
	}
	return ps
}

// Config returns the model's configuration.
func (m *Model) Config() Config { return m.cfg }

// Params returns the parameters in a fixed order, named as the PyTorch
// module of bench/torch_mlp.py names them (Linear weights are [out, in]):
//
//	time.0.{weight,bias}, time.2.{weight,bias}      τ → Linear(1,T) → SiLU → Linear(T,T) → SiLU
//	in.lin.{weight,bias}, in.norm.{weight,bias}     Linear(Dim,H) → LayerNorm(H) → SiLU
//	blocks.<i>.lin1, .norm1, .time, .lin2, .norm2   each {weight,bias}, i = 0 … Blocks−1
//	out.{weight,bias}                               Linear(H,Dim)
//
// Data aliases the live weights: writing it changes the model.
func (m *Model) Params() []nn.Param { return append([]nn.Param(nil), m.params...) }
