package kern

import (
	"math"

	"golang.org/x/sys/cpu"
)

//go:noescape
func kernNN(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)

//go:noescape
func kernTN(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)

// HasAVX2FMA reports whether the CPU and OS support AVX2 and FMA.
func HasAVX2FMA() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }

// UseAsm selects the AVX2 GEMM and UseAsmSiLU the AVX2 SiLU; benchmarks
// switch them off to measure what they buy.
var UseAsm = HasAVX2FMA()

var UseAsmSiLU = UseAsm

// sgemmAcc computes c += op(a)·b with b [k,n] and c [m,n] row-major;
// op(a) is a [m,k] (tA false) or aᵀ with a [k,m] (tA true). Full 4×16
// tiles run in assembly, the edges in Go.
func sgemmAcc(tA bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m == 0 || n == 0 || k == 0 {
		return
	}
	need := (m-1)*lda + k
	if tA {
		need = (k-1)*lda + m
	}
	if len(a) < need || len(b) < (k-1)*ldb+n || len(c) < (m-1)*ldc+n {
		panic("kern: sgemmAcc: slice too short")
	}
	m4, n16 := m&^3, n&^15
	for i := 0; i < m4; i += 4 {
		for j := 0; j < n16; j += 16 {
			if tA {
				kernTN(k, &a[i], lda, &b[j], ldb, &c[i*ldc+j], ldc)
			} else {
				kernNN(k, &a[i*lda], lda, &b[j], ldb, &c[i*ldc+j], ldc)
			}
		}
	}
	edge := func(i0, i1, j0, j1 int) {
		for i := i0; i < i1; i++ {
			for j := j0; j < j1; j++ {
				var s float32
				if tA {
					for l := range k {
						s += a[l*lda+i] * b[l*ldb+j]
					}
				} else {
					ar := a[i*lda : i*lda+k]
					for l, v := range ar {
						s += v * b[l*ldb+j]
					}
				}
				c[i*ldc+j] += s
			}
		}
	}
	edge(0, m4, n16, n)
	edge(m4, m, 0, n)
}

//go:noescape
func siluAVX(y, s, u *float32, n int, c *[14 * 8]float32)

// siluConsts are siluAVX's constants, each repeated over 8 lanes.
var siluConsts = func() *[14 * 8]float32 {
	const log2e, ln2hi, ln2lo = 1.44269504088896341, 0.693359375, -2.12194440e-4
	vals := [13]float32{-88, 87, -log2e, 12582912, ln2hi, ln2lo,
		1.0 / 720, -1.0 / 120, 1.0 / 24, -1.0 / 6, 1.0 / 2, -1, 1}
	var c [14 * 8]float32
	for i, v := range vals {
		for l := range 8 {
			c[i*8+l] = v
		}
	}
	for l := range 8 {
		c[13*8+l] = math.Float32frombits(127)
	}
	return &c
}()

// siluFast sets s = σ(u) and y = u·s for the first len(y) &^ 7 values and
// returns how many it did.
func siluFast(y, s, u []float32) int {
	n := len(y) &^ 7
	if !UseAsmSiLU || n == 0 {
		return 0
	}
	_, _ = s[n-1], u[n-1]
	siluAVX(&y[0], &s[0], &u[0], n, siluConsts)
	return n
}
