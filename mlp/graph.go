package mlp

import (
	G "gorgonia.org/gorgonia"
)

// netGraph appends the network to x's graph: x [n,Dim] and tau [n,1]
// are data, p holds the parameter nodes in Params order (float32 or
// float64). It returns the output node [n,Dim].
func netGraph(lay layout, p []*G.Node, x, tau *G.Node) (out *G.Node, err error) {
	apply := func(op G.Op, in ...*G.Node) *G.Node {
		if err != nil {
			return nil
		}
		var n *G.Node
		n, err = G.ApplyOp(op, in...)
		return n
	}
	lin := func(in *G.Node, l linIdx, data bool) *G.Node {
		return apply(linearOp{newBase(), data}, in, p[l.w], p[l.b])
	}
	ln := func(z *G.Node, l lnIdx, silu bool) *G.Node {
		return apply(lnActOp{newBase(), silu, new(outBuf)}, z, p[l.g], p[l.b])
	}
	silu := func(a *G.Node) *G.Node { return apply(addActOp{newBase(), 1, true, new(outBuf)}, a) }

	temb := silu(lin(silu(lin(tau, lay.time0, true)), lay.time2, false))
	h := ln(lin(x, lay.in, true), lay.inNorm, true)
	for _, b := range lay.blocks {
		a := ln(lin(h, b.lin1, false), b.norm1, true)
		c := silu(lin(temb, b.time, false))
		s := apply(addActOp{newBase(), 2, false, nil}, a, c)
		z := ln(lin(s, b.lin2, false), b.norm2, false)
		h = apply(addActOp{newBase(), 2, true, new(outBuf)}, z, h)
	}
	out = lin(h, lay.out, false)
	return out, err
}
