package unet

import (
	"math"
	"sync"

	"github.com/levy-ml/levy/internal/kern"
)

// The U-Net's kernels, generic over float32 (training, sampling) and
// float64 (gradient checks). Tensors are NCHW, row-major. Work is split
// over the images of a batch in fixed chunks (kern.Parallel), and
// per-image partial sums (weight gradients) are added in image order, so
// a result does not depend on the number of cores.

type float = kern.Float

// scratch hands out temporary buffers, reused across calls.
type scratch[F float] struct{ pool sync.Pool }

func (s *scratch[F]) get(n int) []F {
	if p, ok := s.pool.Get().(*[]F); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]F, n)
}

func (s *scratch[F]) put(b []F) { s.pool.Put(&b) }

var (
	scratch32 scratch[float32]
	scratch64 scratch[float64]
)

func getBuf[F float](n int) []F {
	var z F
	if _, ok := any(z).(float32); ok {
		return any(scratch32.get(n)).([]F)
	}
	return any(scratch64.get(n)).([]F)
}

func putBuf[F float](b []F) {
	switch b := any(b).(type) {
	case []float32:
		scratch32.put(b)
	case []float64:
		scratch64.put(b)
	}
}

// ---- convolution: K×K, stride S, zero padding K/2 ----

// convGeom is the geometry of a convolution over a batch.
type convGeom struct {
	B, Ci, H, W, Co, K, S int
}

func (g convGeom) pad() int      { return g.K / 2 }
func (g convGeom) ho() int       { return (g.H+2*g.pad()-g.K)/g.S + 1 }
func (g convGeom) wo() int       { return (g.W+2*g.pad()-g.K)/g.S + 1 }
func (g convGeom) cols() int     { return g.Ci * g.K * g.K } // rows of the column matrix
func (g convGeom) direct() bool  { return g.K == 1 && g.S == 1 }
func (g convGeom) inSize() int   { return g.Ci * g.H * g.W }
func (g convGeom) outSize() int  { return g.Co * g.ho() * g.wo() }
func (g convGeom) wSize() int    { return g.Co * g.cols() }
func (g convGeom) outPlane() int { return g.ho() * g.wo() }

// im2col writes the column matrix of one image x [Ci,H,W] into cols
// [Ci·K·K, Ho·Wo]: row (ci,ky,kx), column (oy,ox) holds
// x[ci, oy·S+ky−P, ox·S+kx−P], or 0 outside the image. With stride 1 a
// row of the output is a shifted copy of a row of the image.
func im2col[F float](cols, x []F, g convGeom) {
	ho, wo, p := g.ho(), g.wo(), g.pad()
	r := 0
	for ci := range g.Ci {
		plane := x[ci*g.H*g.W : (ci+1)*g.H*g.W]
		for ky := range g.K {
			for kx := range g.K {
				row := cols[r*ho*wo : (r+1)*ho*wo]
				// Columns ox with 0 ≤ ox·S+kx−p < W.
				lo := max(0, (p-kx+g.S-1)/g.S)
				hi := min(wo, (g.W-1+p-kx)/g.S+1)
				for oy := range ho {
					iy := oy*g.S + ky - p
					dst := row[oy*wo : (oy+1)*wo]
					if iy < 0 || iy >= g.H || lo >= hi {
						clear(dst)
						continue
					}
					src := plane[iy*g.W : (iy+1)*g.W]
					clear(dst[:lo])
					clear(dst[hi:])
					if g.S == 1 {
						copy(dst[lo:hi], src[lo+kx-p:hi+kx-p])
					} else {
						for ox := lo; ox < hi; ox++ {
							dst[ox] = src[ox*g.S+kx-p]
						}
					}
				}
				r++
			}
		}
	}
}

// im2row is im2col transposed: rows [Ho·Wo, Ci·K·K], built from the
// column matrix (tmp, same size) by a blocked transpose.
func im2row[F float](rows, tmp, x []F, g convGeom) {
	im2col(tmp, x, g)
	transpose(rows, tmp, g.cols(), g.outPlane())
}

// transpose writes the [c, r] transpose of a [r, c] matrix, in 16×16
// tiles that stay in cache.
func transpose[F float](dst, src []F, r, c int) {
	const t = 16
	for i0 := 0; i0 < r; i0 += t {
		i1 := min(r, i0+t)
		for j0 := 0; j0 < c; j0 += t {
			j1 := min(c, j0+t)
			for i := i0; i < i1; i++ {
				srow := src[i*c : i*c+c]
				for j := j0; j < j1; j++ {
					dst[j*r+i] = srow[j]
				}
			}
		}
	}
}

// col2im adds a column matrix back onto an image: the adjoint of im2col.
func col2im[F float](dx, cols []F, g convGeom) {
	ho, wo, p := g.ho(), g.wo(), g.pad()
	r := 0
	for ci := range g.Ci {
		plane := dx[ci*g.H*g.W : (ci+1)*g.H*g.W]
		for ky := range g.K {
			for kx := range g.K {
				row := cols[r*ho*wo : (r+1)*ho*wo]
				for oy := range ho {
					iy := oy*g.S + ky - p
					if iy < 0 || iy >= g.H {
						continue
					}
					dst := plane[iy*g.W : (iy+1)*g.W]
					src := row[oy*wo : (oy+1)*wo]
					for ox, v := range src {
						if ix := ox*g.S + kx - p; ix >= 0 && ix < g.W {
							dst[ix] += v
						}
					}
				}
				r++
			}
		}
	}
}

// convFwd computes y [B,Co,Ho,Wo] = conv(x [B,Ci,H,W], w [Co,Ci,K,K]) + b.
func convFwd[F float](y, x, w, b []F, g convGeom) {
	np, nc := g.outPlane(), g.cols()
	kern.Parallel(g.B, 1, func(lo, hi int) {
		var cols []F
		if !g.direct() {
			cols = getBuf[F](nc * np)
			defer putBuf(cols)
		}
		for i := lo; i < hi; i++ {
			xi, yi := x[i*g.inSize():(i+1)*g.inSize()], y[i*g.outSize():(i+1)*g.outSize()]
			src := xi
			if !g.direct() {
				im2col(cols, xi, g)
				src = cols
			}
			for co := range g.Co {
				row := yi[co*np : (co+1)*np]
				for j := range row {
					row[j] = b[co]
				}
			}
			kern.GemmSerial(false, false, g.Co, np, nc, w, nc, src, np, 1, yi, np)
		}
	})
}

// useRows computes the weight gradient from the transposed column matrix
// with the assembly GEMM, rather than with gonum's transposed GEMM.
var useRows = true

// convBwd computes dx (if not nil, overwritten), dw and db (overwritten)
// from dy.
func convBwd[F float](dx, dw, db, dy, x, w []F, g convGeom) {
	np, nc := g.outPlane(), g.cols()
	parts := getBuf[F](g.B * g.wSize()) // per-image dw, added in order
	defer putBuf(parts)
	kern.Parallel(g.B, 1, func(lo, hi int) {
		rows := getBuf[F](np * nc)
		defer putBuf(rows)
		cols := getBuf[F](nc * np)
		defer putBuf(cols)
		for i := lo; i < hi; i++ {
			xi, dyi := x[i*g.inSize():(i+1)*g.inSize()], dy[i*g.outSize():(i+1)*g.outSize()]
			src := xi
			if !g.direct() {
				im2col(cols, xi, g)
				src = cols
			}
			if useRows {
				transpose(rows, src, nc, np)
				kern.GemmSerial(false, false, g.Co, nc, np, dyi, np, rows, nc, 0, parts[i*g.wSize():(i+1)*g.wSize()], nc)
			} else {
				kern.GemmSerial(false, true, g.Co, nc, np, dyi, np, src, np, 0, parts[i*g.wSize():(i+1)*g.wSize()], nc)
			}
			if dx == nil {
				continue
			}
			dxi := dx[i*g.inSize() : (i+1)*g.inSize()]
			if g.direct() {
				kern.GemmSerial(true, false, nc, np, g.Co, w, nc, dyi, np, 0, dxi, np)
				continue
			}
			kern.GemmSerial(true, false, nc, np, g.Co, w, nc, dyi, np, 0, cols, np)
			clear(dxi)
			col2im(dxi, cols, g)
		}
	})
	copy(dw, parts[:g.wSize()])
	for i := 1; i < g.B; i++ {
		p := parts[i*g.wSize() : (i+1)*g.wSize()]
		for j, v := range p {
			dw[j] += v
		}
	}
	clear(db)
	for i := range g.B {
		dyi := dy[i*g.outSize() : (i+1)*g.outSize()]
		for co := range g.Co {
			var s F
			for _, v := range dyi[co*np : (co+1)*np] {
				s += v
			}
			db[co] += s
		}
	}
}

// ---- group normalisation (+ scale-shift, + SiLU) ----

// gnGeom: x [B,C,P] in G groups of C/G channels.
type gnGeom struct {
	B, C, P, G int
	scaleShift bool // y ← y·(1+scale) + shift with ss [B,2C] (scale first)
	silu       bool
}

// gnEps is GroupNorm's ε (PyTorch's default).
const gnEps = 1e-5

// gnStats sets mean and rstd [B·G] of x.
func gnStats[F float](mean, rstd, x []F, g gnGeom) {
	cg := g.C / g.G
	m := cg * g.P
	kern.Parallel(g.B*g.G, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := x[i*m : (i+1)*m] // group i = (b, grp): channels contiguous
			var s float64
			for _, a := range v {
				s += float64(a)
			}
			mu := s / float64(m)
			var q float64
			for _, a := range v {
				d := float64(a) - mu
				q += d * d
			}
			mean[i], rstd[i] = F(mu), F(1/math.Sqrt(q/float64(m)+gnEps))
		}
	})
}

// gnPre computes the value before the SiLU for element (b,c,p):
// u = (xhat·γ + β)·(1+scale) + shift, also returning xhat and y0 = xhat·γ+β.
func gnFwd[F float](y, x, gamma, beta, ss, mean, rstd []F, g gnGeom) {
	gnStats(mean, rstd, x, g)
	cg := g.C / g.G
	kern.Parallel(g.B, 1, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			for c := range g.C {
				gi := b*g.G + c/cg
				mu, rs := mean[gi], rstd[gi]
				a, d := gamma[c]*rs, beta[c]-gamma[c]*rs*mu
				if g.scaleShift {
					sc, sh := 1+ss[b*2*g.C+c], ss[b*2*g.C+g.C+c]
					a, d = a*sc, d*sc+sh
				}
				off := (b*g.C + c) * g.P
				xs, ys := x[off:off+g.P], y[off:off+g.P]
				for p, v := range xs {
					ys[p] = a*v + d
				}
				if g.silu {
					siluInPlace(ys)
				}
			}
		}
	})
}

// siluInPlace sets v ← v·σ(v).
func siluInPlace[F float](v []F) {
	switch v := any(v).(type) {
	case []float32:
		s := getBuf[float32](len(v))
		kern.SiLURow(v, v, s)
		putBuf(s)
	case []float64:
		for i, u := range v {
			v[i] = u / (1 + math.Exp(-u))
		}
	}
}

func sigmoid[F float](u F) F {
	if f, ok := any(u).(float32); ok {
		return F(1 / (1 + kern.Exp32(-f)))
	}
	return F(1 / (1 + math.Exp(-float64(u))))
}

// gnBwd computes dx, dgamma, dbeta (overwritten) and dss (if scaleShift,
// overwritten) from dy, recomputing the forward values from x and the
// kept statistics.
func gnBwd[F float](dx, dgamma, dbeta, dss, dy, x, gamma, beta, ss, mean, rstd []F, g gnGeom) {
	cg := g.C / g.G
	parts := getBuf[F](g.B * 2 * g.C) // per-image dgamma, dbeta
	defer putBuf(parts)
	kern.Parallel(g.B, 1, func(lo, hi int) {
		d0 := getBuf[F](cg * g.P) // dL/dy0 for one group
		defer putBuf(d0)
		for b := lo; b < hi; b++ {
			pg, pb := parts[b*2*g.C:b*2*g.C+g.C], parts[b*2*g.C+g.C:(b+1)*2*g.C]
			for grp := range g.G {
				gi := b*g.G + grp
				mu, rs := mean[gi], rstd[gi]
				var sumD, sumDX float64 // Σ dxhat, Σ dxhat·xhat over the group
				for cc := range cg {
					c := grp*cg + cc
					off := (b*g.C + c) * g.P
					xs, dys := x[off:off+g.P], dy[off:off+g.P]
					dd := d0[cc*g.P : (cc+1)*g.P]
					sc, sh := F(1), F(0)
					if g.scaleShift {
						sc, sh = 1+ss[b*2*g.C+c], ss[b*2*g.C+g.C+c]
					}
					var dsc, dsh, dga, dbe F
					for p, xv := range xs {
						xh := (xv - mu) * rs
						y0 := xh*gamma[c] + beta[c]
						d := dys[p]
						if g.silu {
							u := y0*sc + sh
							s := sigmoid(u)
							d *= s * (1 + u*(1-s))
						}
						dsc += d * y0
						dsh += d
						d *= sc // dL/dy0
						dga += d * xh
						dbe += d
						dh := d * gamma[c] // dL/dxhat
						dd[p] = dh
						sumD += float64(dh)
						sumDX += float64(dh) * float64(xh)
					}
					pg[c], pb[c] = dga, dbe
					if g.scaleShift {
						dss[b*2*g.C+c], dss[b*2*g.C+g.C+c] = dsc, dsh
					}
				}
				m := float64(cg * g.P)
				mD, mDX := F(sumD/m), F(sumDX/m)
				for cc := range cg {
					c := grp*cg + cc
					off := (b*g.C + c) * g.P
					xs, dxs := x[off:off+g.P], dx[off:off+g.P]
					dd := d0[cc*g.P : (cc+1)*g.P]
					for p, xv := range xs {
						xh := (xv - mu) * rs
						dxs[p] = rs * (dd[p] - mD - xh*mDX)
					}
				}
			}
		}
	})
	clear(dgamma)
	clear(dbeta)
	for b := range g.B {
		for c := range g.C {
			dgamma[c] += parts[b*2*g.C+c]
			dbeta[c] += parts[b*2*g.C+g.C+c]
		}
	}
}

// ---- linear: z [n,out] = x [n,in]·wᵀ + b, w [out,in] ----

func linearFwd[F float](z, x, w, b []F, n, in, out int) {
	for i := range n {
		copy(z[i*out:(i+1)*out], b)
	}
	kern.GemmSerial(false, true, n, out, in, x, in, w, in, 1, z, out)
}

func linearBwd[F float](dx, dw, db, dz, x, w []F, n, in, out int) {
	if dx != nil {
		kern.GemmSerial(false, false, n, in, out, dz, out, w, in, 0, dx, in)
	}
	kern.GemmSerial(true, false, out, in, n, dz, out, x, in, 0, dw, in)
	clear(db)
	for i := range n {
		for j, v := range dz[i*out : (i+1)*out] {
			db[j] += v
		}
	}
}

// ---- nearest upsampling ×2: [B,C,H,W] → [B,C,2H,2W] ----

func upFwd[F float](y, x []F, planes, h, w int) {
	for pl := range planes {
		src, dst := x[pl*h*w:(pl+1)*h*w], y[pl*4*h*w:(pl+1)*4*h*w]
		for i := range 2 * h {
			row := dst[i*2*w : (i+1)*2*w]
			s := src[(i/2)*w : (i/2+1)*w]
			for j := range row {
				row[j] = s[j/2]
			}
		}
	}
}

func upBwd[F float](dx, dy []F, planes, h, w int) {
	for pl := range planes {
		src, dst := dy[pl*4*h*w:(pl+1)*4*h*w], dx[pl*h*w:(pl+1)*h*w]
		clear(dst)
		for i := range 2 * h {
			row := src[i*2*w : (i+1)*2*w]
			d := dst[(i/2)*w : (i/2+1)*w]
			for j, v := range row {
				d[j/2] += v
			}
		}
	}
}

// ---- self-attention over qkv [B, 3C, T] (improved-diffusion's legacy
// order: head h holds q, k, v in channels [3hc, 3hc+c), [3hc+c, 3hc+2c),
// [3hc+2c, 3hc+3c) with c = C/heads) → a [B, C, T] ----

type attnGeom struct{ B, C, T, Heads int }

func (g attnGeom) ch() int { return g.C / g.Heads }

// attnFwd sets a and the softmax weights prob [B·heads, T, T].
func attnFwd[F float](a, qkv, prob []F, g attnGeom) {
	c, T := g.ch(), g.T
	scale := F(1 / math.Sqrt(float64(c))) // (1/c^¼)² on q·k
	kern.Parallel(g.B*g.Heads, 1, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/g.Heads, bh%g.Heads
			base := qkv[(b*3*g.C+3*h*c)*T:]
			q, k, v := base[:c*T], base[c*T:2*c*T], base[2*c*T:3*c*T]
			P := prob[bh*T*T : (bh+1)*T*T]
			kern.GemmSerial(true, false, T, T, c, q, T, k, T, 0, P, T) // P[t,s] = Σ q[c,t] k[c,s]
			for t := range T {
				row := P[t*T : (t+1)*T]
				mx := row[0] * scale
				for i := range row {
					row[i] *= scale
					mx = max(mx, row[i])
				}
				var sum float64
				for i, v := range row {
					e := expF(v - mx)
					row[i] = e
					sum += float64(e)
				}
				inv := F(1 / sum)
				for i := range row {
					row[i] *= inv
				}
			}
			out := a[(b*g.C+h*c)*T : (b*g.C+(h+1)*c)*T]
			kern.GemmSerial(false, true, c, T, T, v, T, P, T, 0, out, T) // a[c,t] = Σ_s v[c,s] P[t,s]
		}
	})
}

func expF[F float](x F) F {
	if f, ok := any(x).(float32); ok {
		return F(kern.Exp32(f))
	}
	return F(math.Exp(float64(x)))
}

// attnBwd sets dqkv (overwritten) from da, qkv and the kept prob.
func attnBwd[F float](dqkv, da, qkv, prob []F, g attnGeom) {
	c, T := g.ch(), g.T
	scale := F(1 / math.Sqrt(float64(c)))
	kern.Parallel(g.B*g.Heads, 1, func(lo, hi int) {
		dP := getBuf[F](T * T)
		defer putBuf(dP)
		for bh := lo; bh < hi; bh++ {
			b, h := bh/g.Heads, bh%g.Heads
			off := (b*3*g.C + 3*h*c) * T
			q, k, v := qkv[off:off+c*T], qkv[off+c*T:off+2*c*T], qkv[off+2*c*T:off+3*c*T]
			dq, dk, dv := dqkv[off:off+c*T], dqkv[off+c*T:off+2*c*T], dqkv[off+2*c*T:off+3*c*T]
			P := prob[bh*T*T : (bh+1)*T*T]
			dA := da[(b*g.C+h*c)*T : (b*g.C+(h+1)*c)*T]
			kern.GemmSerial(false, false, c, T, T, dA, T, P, T, 0, dv, T) // dv = dA·P
			kern.GemmSerial(true, false, T, T, c, dA, T, v, T, 0, dP, T)  // dP = dAᵀ·v
			for t := range T {                                            // dS = P ∘ (dP − rowsum(P∘dP)), times the scale
				pr, dr := P[t*T:(t+1)*T], dP[t*T:(t+1)*T]
				var s float64
				for i, p := range pr {
					s += float64(p) * float64(dr[i])
				}
				for i, p := range pr {
					dr[i] = p * (dr[i] - F(s)) * scale
				}
			}
			kern.GemmSerial(false, true, c, T, T, k, T, dP, T, 0, dq, T)  // dq[c,t] = Σ_s k[c,s] dS[t,s]
			kern.GemmSerial(false, false, c, T, T, q, T, dP, T, 0, dk, T) // dk[c,s] = Σ_t q[c,t] dS[t,s]
		}
	})
}
