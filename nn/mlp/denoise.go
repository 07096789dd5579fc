package mlp

import (
	"fmt"
)

// denoiseRows is the row chunk of Denoise: small enough that a chunk's
// activations stay in L1/L2 and every kernel runs on one core; the
// chunks are shared among the cores.
const denoiseRows = 64

// Denoise writes the network's output for x [n,Dim] at times tau [n]
// into dst [n,Dim], n = len(tau). It runs the same kernels as the
// training graph, without building a graph. When all τ are equal (one
// sampling step) the time branch is evaluated once. Denoise only reads
// the model, so concurrent calls are safe; it must not run during a
// training step.
func (m *Model) Denoise(dst, x, tau []float32) error {
	n, d := len(tau), m.cfg.Dim
	if len(x) != n*d || len(dst) != n*d {
		return fmt.Errorf("mlp: Denoise: len(dst) = %d, len(x) = %d, len(tau) = %d: want %d·n, %d·n, n",
			len(dst), len(x), len(tau), d, d)
	}
	if n == 0 {
		return nil
	}
	h, t, p := m.cfg.Hidden, m.cfg.TimeEmbed, m.params
	w := func(i int) []float32 { return p[i].Data }

	// Time branch: c[b] = SiLU(Lin_t(temb)) per block, one row if τ is shared.
	tr := n
	if allEqual(tau) {
		tr = 1
	}
	temb := make([]float32, tr*t)
	e0 := make([]float32, tr*t)
	linearFwd(e0, tau[:tr], w(m.lay.time0.w), w(m.lay.time0.b), tr, 1, t)
	addActFwd(e0, e0, nil, nil, t, true)
	linearFwd(temb, e0, w(m.lay.time2.w), w(m.lay.time2.b), tr, t, t)
	addActFwd(temb, temb, nil, nil, t, true)
	cs := make([][]float32, len(m.lay.blocks))
	for i, b := range m.lay.blocks {
		cs[i] = make([]float32, tr*h)
		linearFwd(cs[i], temb, w(b.time.w), w(b.time.b), tr, t, h)
		addActFwd(cs[i], cs[i], nil, nil, h, true)
	}

	lay := m.lay
	prep := func(l linIdx) weights[float32] {
		s := p[l.w].Shape
		return prepW(w(l.w), s[1], s[0])
	}
	win, wout := prep(lay.in), prep(lay.out)
	w1, w2 := make([]weights[float32], len(lay.blocks)), make([]weights[float32], len(lay.blocks))
	for i, b := range lay.blocks {
		w1[i], w2[i] = prep(b.lin1), prep(b.lin2)
	}
	parallel(n, denoiseRows, func(lo, hi int) {
		r := hi - lo
		hb, zb, ab := make([]float32, r*h), make([]float32, r*h), make([]float32, r*h)
		linearRows(hb, x[lo*d:hi*d], win, w(lay.in.b), r, d, h)
		lnActFwd(hb, hb, w(lay.inNorm.g), w(lay.inNorm.b), nil, r, h, true)
		for i, b := range lay.blocks {
			linearRows(ab, hb, w1[i], w(b.lin1.b), r, h, h)
			lnActFwd(ab, ab, w(b.norm1.g), w(b.norm1.b), nil, r, h, true)
			c := cs[i]
			for k := range r {
				row := ab[k*h : (k+1)*h]
				cr := c[:h]
				if tr > 1 {
					cr = c[(lo+k)*h : (lo+k+1)*h]
				}
				for j := range row {
					row[j] += cr[j]
				}
			}
			linearRows(zb, ab, w2[i], w(b.lin2.b), r, h, h)
			lnActFwd(zb, zb, w(b.norm2.g), w(b.norm2.b), nil, r, h, false)
			addActFwd(hb, zb, hb, nil, h, true)
		}
		linearRows(dst[lo*d:hi*d], hb, wout, w(lay.out.b), r, h, d)
	})
	return nil
}

func allEqual(v []float32) bool {
	for _, x := range v[1:] {
		if x != v[0] {
			return false
		}
	}
	return true
}
