package mlp

import (
	"github.com/levy-ml/levy/internal/kern"

	"math"
	"testing"
)

// TestPureGoPathMatchesAssembly runs the same 20 training steps and a
// Denoise with the assembly kernels and with the pure-Go fallback
// (gonum's sgemm, scalar exp, σ recomputed), which machines without
// AVX2/FMA use. Losses and outputs must agree to float32 rounding.
func TestPureGoPathMatchesAssembly(t *testing.T) {
	defer func(a, s, k bool) { kern.UseAsm, kern.UseAsmSiLU, keepSigma = a, s, k }(kern.UseAsm, kern.UseAsmSiLU, keepSigma)
	run := func(asm bool) (losses []float64, out []float32) {
		kern.UseAsm, kern.UseAsmSiLU, keepSigma = asm && kern.HasAVX2FMA(), asm && kern.HasAVX2FMA(), asm
		m, tr := newTrainer(t, 11)
		x, tau, tg := batch(256, 3)
		for range 20 {
			l, err := tr.Step(x, tau, tg)
			if err != nil {
				t.Fatal(err)
			}
			losses = append(losses, l)
		}
		out = make([]float32, len(x))
		if err := m.Denoise(out, x, tau); err != nil {
			t.Fatal(err)
		}
		return losses, out
	}
	la, oa := run(true)
	lg, og := run(false)
	for i := range la {
		if math.Abs(la[i]-lg[i]) > 1e-4*(1+math.Abs(la[i])) {
			t.Errorf("step %d: loss %.7g (assembly) vs %.7g (pure Go)", i, la[i], lg[i])
		}
	}
	var maxd float64
	for i := range oa {
		maxd = max(maxd, math.Abs(float64(oa[i]-og[i])))
		if d := math.Abs(float64(oa[i] - og[i])); d > 1e-3*(1+math.Abs(float64(oa[i]))) {
			t.Fatalf("Denoise[%d]: %v (assembly) vs %v (pure Go)", i, oa[i], og[i])
		}
	}
	t.Logf("max |Δ Denoise| = %.3g, final loss %.7g vs %.7g", maxd, la[len(la)-1], lg[len(lg)-1])
	if !kern.HasAVX2FMA() {
		t.Log("no AVX2/FMA here: both runs took the pure-Go path")
	}
}
