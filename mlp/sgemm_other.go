//go:build !amd64

package mlp

var useAsm, useAsmSiLU = false, false

func sgemmAcc(tA bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	panic("mlp: sgemmAcc without assembly")
}

func siluFast(y, s, u []float32) int { return 0 }
