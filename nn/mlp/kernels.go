package mlp

import (
	"math"

	"github.com/levy-ml/levy/internal/kern"
)

// float is the element type of the kernels: float32 for training and
// sampling, float64 for the gradient checks.
type float = kern.Float

// lnEps is LayerNorm's ε (PyTorch's default).
const lnEps = 1e-5

// The kernels below are internal/kern's, under the names this package
// has always used.

func gemmSerial[F float](tA, tB bool, m, n, k int, a []F, lda int, b []F, ldb int, beta F, c []F, ldc int) {
	kern.GemmSerial(tA, tB, m, n, k, a, lda, b, ldb, beta, c, ldc)
}

func gemm[F float](tA, tB bool, m, n, k int, a []F, lda int, b []F, ldb int, beta F, c []F, ldc int) {
	kern.Gemm(tA, tB, m, n, k, a, lda, b, ldb, beta, c, ldc)
}

func parallel(n, grain int, f func(lo, hi int)) { kern.Parallel(n, grain, f) }

func rowGrain(w int) int { return kern.RowGrain(w) }

func sigmoidRow[F float](s, u []F) { kern.SigmoidRow(s, u) }

func siluRow[F float](y, u, s []F) { kern.SiLURow(y, u, s) }

func exp32(x float32) float32 { return kern.Exp32(x) }

// linearFwd computes z = x·wᵀ + b for x [n,in], w [out,in], b [out].
func linearFwd[F float](z, x, w, b []F, n, in, out int) {
	linearRows(z, x, prepW(w, in, out), b, n, in, out)
}

// weights is w [out,in] in the layout the GEMM wants: wᵀ [in,out] for
// the assembly kernels (tB false), w itself for gonum (tB true).
type weights[F float] struct {
	w   []F
	tB  bool
	ldb int
}

func prepW[F float](w []F, in, out int) weights[F] {
	if _, ok := any(w).([]float32); !ok || !kern.UseAsm {
		return weights[F]{w, true, in}
	}
	wt := make([]F, in*out)
	for o := range out {
		for i := range in {
			wt[i*out+o] = w[o*in+i]
		}
	}
	return weights[F]{wt, false, out}
}

// linearRows is linearFwd with prepared weights.
func linearRows[F float](z, x []F, w weights[F], b []F, n, in, out int) {
	parallel(n, 64, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			copy(z[i*out:(i+1)*out], b)
		}
		gemmSerial(false, w.tB, hi-lo, out, in, x[lo*in:], in, w.w, w.ldb, 1, z[lo*out:], out)
	})
}

// linearDX computes dx = dz·w for dz [n,out], w [out,in].
func linearDX[F float](dx, dz, w []F, n, in, out int) {
	gemm(false, false, n, in, out, dz, out, w, in, 0, dx, in)
}

// linearDW computes dw = dzᵀ·x for dz [n,out], x [n,in].
func linearDW[F float](dw, dz, x []F, n, in, out int) {
	parallel(out, max(1, (out+1)/2), func(lo, hi int) {
		gemmSerial(true, false, hi-lo, in, n, dz[lo:], out, x, in, 0, dw[lo*in:], in)
	})
}

// colSum sets db[j] = Σ_i dz[i,j] for dz [n,out], summing rows in order.
func colSum[F float](db, dz []F, n, out int) {
	clear(db)
	for i := range n {
		row := dz[i*out : (i+1)*out]
		for j, v := range row {
			db[j] += v
		}
	}
}

// siluGradSig sets d = dy·silu'(u) given s = σ(u); d may be dy or u.
func siluGradSig[F float](d, dy, u, s []F) {
	for j := range d {
		sj := s[j]
		d[j] = dy[j] * sj * (1 + u[j]*(1-sj))
	}
}

// siluGradRow sets d = dy·silu'(u) = dy·σ(u)(1 + u(1 − σ(u))); d may be dy.
func siluGradRow[F float](d, dy, u, s []F) {
	sigmoidRow(s, u)
	for j := range d {
		sj := s[j]
		d[j] = dy[j] * sj * (1 + u[j]*(1-sj))
	}
}

// rowStats returns the mean and 1/sqrt(var + ε) of a row (biased
// variance, two passes). Four partial sums break the add latency chain.
func rowStats[F float](z []F) (mean, rstd F) {
	var s0, s1, s2, s3 F
	i := 0
	for ; i+4 <= len(z); i += 4 {
		s0 += z[i]
		s1 += z[i+1]
		s2 += z[i+2]
		s3 += z[i+3]
	}
	for ; i < len(z); i++ {
		s0 += z[i]
	}
	mean = ((s0 + s1) + (s2 + s3)) / F(len(z))
	var q0, q1, q2, q3 F
	i = 0
	for ; i+4 <= len(z); i += 4 {
		d0, d1, d2, d3 := z[i]-mean, z[i+1]-mean, z[i+2]-mean, z[i+3]-mean
		q0 += d0 * d0
		q1 += d1 * d1
		q2 += d2 * d2
		q3 += d3 * d3
	}
	for ; i < len(z); i++ {
		d := z[i] - mean
		q0 += d * d
	}
	q := ((q0 + q1) + (q2 + q3)) / F(len(z))
	return mean, F(1 / math.Sqrt(float64(q)+lnEps))
}

// lnActFwd sets y = act(LN(z)·g + beta) row-wise for z [n,h]; act is SiLU
// if silu, else the identity. y may be z. If sig is not nil, the
// sigmoids of the SiLU are kept there for the backward pass.
func lnActFwd[F float](y, z, g, beta, sig []F, n, h int, silu bool) {
	parallel(n, rowGrain(h), func(lo, hi int) {
		s := make([]F, h)
		for i := lo; i < hi; i++ {
			zr, yr := z[i*h:(i+1)*h], y[i*h:(i+1)*h]
			mean, rstd := rowStats(zr)
			for j := range yr {
				yr[j] = (zr[j]-mean)*rstd*g[j] + beta[j]
			}
			if silu {
				sr := s
				if sig != nil {
					sr = sig[i*h : (i+1)*h]
				}
				siluRow(yr, yr, sr)
			}
		}
	})
}

// lnActBwd is the backward pass of lnActFwd: it overwrites dz [n,h],
// dg [h] and dbeta [h]. sig holds the forward pass's sigmoids, or is nil
// to recompute them. The reductions over rows use fixed chunks summed in
// order.
func lnActBwd[F float](dz, dg, db, z, g, beta, dy, sig []F, n, h int, silu bool) {
	grain := rowGrain(h)
	chunks := (n + grain - 1) / grain
	part := make([]F, chunks*2*h)
	parallel(n, grain, func(lo, hi int) {
		pg := part[(lo/grain)*2*h : (lo/grain)*2*h+h]
		pb := part[(lo/grain)*2*h+h : (lo/grain+1)*2*h]
		zh, du, s := make([]F, h), make([]F, h), make([]F, h)
		for i := lo; i < hi; i++ {
			zr, dyr, dzr := z[i*h:(i+1)*h], dy[i*h:(i+1)*h], dz[i*h:(i+1)*h]
			mean, rstd := rowStats(zr)
			for j := range zh {
				zh[j] = (zr[j] - mean) * rstd
			}
			if silu {
				for j := range du {
					du[j] = zh[j]*g[j] + beta[j]
				}
				if sig != nil {
					siluGradSig(du, dyr, du, sig[i*h:(i+1)*h])
				} else {
					siluGradRow(du, dyr, du, s)
				}
			} else {
				copy(du, dyr)
			}
			var m1, m2 F
			for j := range du {
				pg[j] += du[j] * zh[j]
				pb[j] += du[j]
				d := du[j] * g[j]
				m1 += d
				m2 += d * zh[j]
			}
			m1 /= F(h)
			m2 /= F(h)
			for j := range dzr {
				dzr[j] = rstd * (du[j]*g[j] - m1 - zh[j]*m2)
			}
		}
	})
	clear(dg)
	clear(db)
	for c := range chunks {
		for j := range h {
			dg[j] += part[c*2*h+j]
			db[j] += part[c*2*h+h+j]
		}
	}
}

// addRow sets dst = a[i] + b[i] for row i of width h (b may be nil).
func addRow[F float](dst, a, b []F, i, h int) {
	ar := a[i*h : (i+1)*h]
	if b == nil {
		copy(dst, ar)
		return
	}
	br := b[i*h : (i+1)*h]
	for j := range dst {
		dst[j] = ar[j] + br[j]
	}
}

// addActFwd sets y = act(a + b) elementwise (b may be nil: y = act(a)).
// If sig is not nil, the sigmoids are kept there for the backward pass.
func addActFwd[F float](y, a, b, sig []F, h int, silu bool) {
	n := len(y) / h
	parallel(n, rowGrain(h), func(lo, hi int) {
		s := make([]F, h)
		for i := lo; i < hi; i++ {
			yr := y[i*h : (i+1)*h]
			addRow(yr, a, b, i, h)
			if silu {
				sr := s
				if sig != nil {
					sr = sig[i*h : (i+1)*h]
				}
				siluRow(yr, yr, sr)
			}
		}
	})
}

// addActBwd sets d = dy·act'(a + b) (b may be nil); sig holds the
// forward pass's sigmoids, or is nil to recompute them.
func addActBwd[F float](d, a, b, dy, sig []F, h int) {
	n := len(d) / h
	parallel(n, rowGrain(h), func(lo, hi int) {
		u, s := make([]F, h), make([]F, h)
		for i := lo; i < hi; i++ {
			addRow(u, a, b, i, h)
			if sig != nil {
				siluGradSig(d[i*h:(i+1)*h], dy[i*h:(i+1)*h], u, sig[i*h:(i+1)*h])
			} else {
				siluGradRow(d[i*h:(i+1)*h], dy[i*h:(i+1)*h], u, s)
			}
		}
	})
}
