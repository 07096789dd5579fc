// Package kern holds the dense kernels shared by levy's networks (the
// 2-D MLP and the image U-Net): GEMM, with AVX2/FMA assembly tiles on
// amd64 and gonum's BLAS elsewhere, a float32 exp and SiLU, and a
// deterministic parallel-for. They are written by hand because no
// maintained pure-Go library is fast enough here: gonum's sgemm reaches
// ≈13 GFLOP/s on the MLP's 1024×64×64 products and the standard library
// has only a float64 exp (bench/README.md has the measurements).
package kern

import (
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Float is the element type of the kernels: float32 for training and
// sampling, float64 for gradient checks.
type Float interface{ float32 | float64 }

var blasImpl gonum.Implementation

func trans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

// GemmSerial computes c = op(a)·op(b) + beta·c on one core; op(a) is
// m×k, op(b) is k×n, all row-major.
func GemmSerial[F Float](tA, tB bool, m, n, k int, a []F, lda int, b []F, ldb int, beta F, c []F, ldc int) {
	switch a := any(a).(type) {
	case []float32:
		if UseAsm && !tB {
			c := any(c).([]float32)
			for i := range m {
				row := c[i*ldc : i*ldc+n]
				if beta == 0 {
					clear(row)
				} else {
					for j := range row {
						row[j] *= float32(beta)
					}
				}
			}
			sgemmAcc(tA, m, n, k, a, lda, any(b).([]float32), ldb, c, ldc)
			return
		}
		blasImpl.Sgemm(trans(tA), trans(tB), m, n, k, 1, a, lda, any(b).([]float32), ldb,
			float32(beta), any(c).([]float32), ldc)
	case []float64:
		blasImpl.Dgemm(trans(tA), trans(tB), m, n, k, 1, a, lda, any(b).([]float64), ldb,
			float64(beta), any(c).([]float64), ldc)
	}
}

// Gemm is GemmSerial with the rows of c shared among the cores. Chunks
// are small enough for gonum to stay on its serial path.
func Gemm[F Float](tA, tB bool, m, n, k int, a []F, lda int, b []F, ldb int, beta F, c []F, ldc int) {
	Parallel(m, 64, func(lo, hi int) {
		off := lo * lda
		if tA {
			off = lo
		}
		GemmSerial(tA, tB, hi-lo, n, k, a[off:], lda, b, ldb, beta, c[lo*ldc:], ldc)
	})
}

// SigmoidRow sets s = σ(u). float32 uses Exp32, float64 math.Exp.
func SigmoidRow[F Float](s, u []F) {
	switch s := any(s).(type) {
	case []float32:
		u := any(u).([]float32)
		u = u[:len(s)]
		for j, v := range u {
			s[j] = 1 / (1 + Exp32(-v))
		}
	case []float64:
		u := any(u).([]float64)
		u = u[:len(s)]
		for j, v := range u {
			s[j] = 1 / (1 + math.Exp(-v))
		}
	}
}

// SiLURow sets y = u·σ(u) and s = σ(u); y may be u.
func SiLURow[F Float](y, u, s []F) {
	if y32, ok := any(y).([]float32); ok {
		if done := siluFast(y32, any(s).([]float32), any(u).([]float32)); done > 0 {
			y, u, s = y[done:], u[done:], s[done:]
		}
	}
	SigmoidRow(s[:len(y)], u)
	for j := range y {
		y[j] = u[j] * s[j]
	}
}

// Exp32 is e^x in float32 to about 2 ulp: Cody–Waite reduction x = k·ln2
// + r, |r| ≤ ln2/2, a degree-6 Taylor polynomial for e^r, and 2^k put
// in the exponent bits. x is clamped to [−87, 88], which is all a
// sigmoid needs (σ is then 0 or 1 to float32 precision).
func Exp32(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
		magic = 12582912 // 1.5·2²³: adding and subtracting it rounds to an integer
	)
	x = min(max(x, -87), 88)
	fk := (x*log2e + magic) - magic
	r := x - fk*ln2hi - fk*ln2lo
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720))))))
	return p * math.Float32frombits(uint32(int32(fk)+127)<<23)
}
