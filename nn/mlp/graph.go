package mlp

import (
	G "gorgonia.org/gorgonia"

	"github.com/levy-ml/levy/nn"
)

// netGraph appends the network to x's graph: x [n,Dim] and tau [n,1]
// are data, p holds the parameter nodes in Params order (all of type F).
// It returns the output node [n,Dim].
func netGraph[F float](cfg Config, lay layout, p []*G.Node, x, tau *G.Node) (out *G.Node, err error) {
	n, d, h, t := x.Shape()[0], cfg.Dim, cfg.Hidden, cfg.TimeEmbed
	apply := func(f nn.Fn[F], in ...*G.Node) *G.Node {
		if err != nil {
			return nil
		}
		var y *G.Node
		y, err = nn.Apply(f, in...)
		return y
	}
	lin := func(in *G.Node, l linIdx, fanIn, fanOut int, data bool) *G.Node {
		return apply(&linearFn[F]{n: n, in: fanIn, out: fanOut, dataIn: data}, in, p[l.w], p[l.b])
	}
	ln := func(z *G.Node, l lnIdx, silu bool) *G.Node {
		return apply(newLNAct[F](n, h, silu), z, p[l.g], p[l.b])
	}
	silu := func(a *G.Node, w int) *G.Node { return apply(newAddAct[F](n, w, 1, true), a) }

	temb := silu(lin(silu(lin(tau, lay.time0, 1, t, true), t), lay.time2, t, t, false), t)
	hid := ln(lin(x, lay.in, d, h, true), lay.inNorm, true)
	for _, b := range lay.blocks {
		a := ln(lin(hid, b.lin1, h, h, false), b.norm1, true)
		c := silu(lin(temb, b.time, t, h, false), h)
		s := apply(newAddAct[F](n, h, 2, false), a, c)
		z := ln(lin(s, b.lin2, h, h, false), b.norm2, false)
		hid = apply(newAddAct[F](n, h, 2, true), z, hid)
	}
	out = lin(hid, lay.out, h, d, false)
	return out, err
}
