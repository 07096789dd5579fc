package mlp

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGemmMatchesNaive checks gemm (the assembly kernels where the CPU has
// them, gonum otherwise) against a float64 triple loop, for tile-sized
// and ragged shapes and every transpose case the network uses.
func TestGemmMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, s := range [][3]int{{4, 16, 1}, {64, 64, 64}, {1024, 64, 32}, {37, 50, 19}, {5, 2, 64}, {3, 1, 7}, {130, 33, 1}} {
		m, n, k := s[0], s[1], s[2]
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}} {
			tA, tB := tr[0], tr[1]
			a, b := make([]float32, m*k), make([]float32, k*n)
			c := make([]float32, m*n)
			for i := range a {
				a[i] = float32(rng.NormFloat64())
			}
			for i := range b {
				b[i] = float32(rng.NormFloat64())
			}
			for i := range c {
				c[i] = float32(rng.NormFloat64())
			}
			at := func(i, l int) float64 {
				if tA {
					return float64(a[l*m+i])
				}
				return float64(a[i*k+l])
			}
			bt := func(l, j int) float64 {
				if tB {
					return float64(b[j*k+l])
				}
				return float64(b[l*n+j])
			}
			lda, ldb := k, n
			if tA {
				lda = m
			}
			if tB {
				ldb = k
			}
			want := make([]float64, m*n)
			for i := range m {
				for j := range n {
					s := 0.5 * float64(c[i*n+j])
					for l := range k {
						s += at(i, l) * bt(l, j)
					}
					want[i*n+j] = s
				}
			}
			gemm(tA, tB, m, n, k, a, lda, b, ldb, 0.5, c, n)
			for i := range want {
				if d := math.Abs(float64(c[i]) - want[i]); d > 1e-5*(1+float64(k)) {
					t.Fatalf("m,n,k = %d,%d,%d tA=%v tB=%v: c[%d] = %v, want %v", m, n, k, tA, tB, i, c[i], want[i])
				}
			}
		}
	}
}

// TestSiLUMatchesFloat64 checks the float32 SiLU (AVX2 where available,
// exp32 otherwise) against float64 math over the whole useful range.
func TestSiLUMatchesFloat64(t *testing.T) {
	const n = 4003
	u := make([]float32, n)
	for i := range u {
		u[i] = -100 + 200*float32(i)/float32(n-1)
	}
	u[7], u[8] = 0, float32(math.Inf(-1)) // σ(−Inf) must be ≈ 0, not NaN
	y, s := make([]float32, n), make([]float32, n)
	siluRow(y, u, s)
	for i, v := range u {
		ws := 1 / (1 + math.Exp(-float64(v)))
		if math.IsInf(float64(v), -1) {
			if !(s[i] >= 0 && s[i] < 1e-37) {
				t.Errorf("σ(−Inf) = %v, want 0 up to the e^−88 saturation", s[i])
			}
			continue
		}
		wy := float64(v) * ws
		// Below u = −88 the sigmoid saturates at e^−88 ≈ 6e−39 (absolute error < 1e−37).
		if d := math.Abs(float64(s[i]) - ws); d > 4e-7*ws+1e-37 {
			t.Errorf("σ(%v) = %v, want %v (rel err %.2g)", v, s[i], ws, d/ws)
		}
		if d := math.Abs(float64(y[i]) - wy); d > 5e-7*math.Abs(wy)+1e-35 {
			t.Errorf("silu(%v) = %v, want %v", v, y[i], wy)
		}
	}
}
