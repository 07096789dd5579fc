//go:build !amd64

package kern

// UseAsm and UseAsmSiLU are false: no assembly on this architecture.
var UseAsm, UseAsmSiLU = false, false

// HasAVX2FMA is false off amd64.
func HasAVX2FMA() bool { return false }

func sgemmAcc(tA bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	panic("kern: sgemmAcc without assembly")
}

func siluFast(y, s, u []float32) int { return 0 }
