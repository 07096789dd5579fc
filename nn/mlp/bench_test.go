package mlp

import (
	"math/rand/v2"
	"testing"

	"github.com/levy-ml/levy/internal/kern"
	"github.com/levy-ml/levy/nn"
)

// batch returns a deterministic batch of n points with the test target.
func batch(n int, seed uint64) (x, tau, target []float32) {
	rng := rand.New(rand.NewPCG(seed, 7))
	x, tau, target = make([]float32, 2*n), make([]float32, n), make([]float32, 2*n)
	for i := range n {
		x[2*i], x[2*i+1] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
		tau[i] = float32(rng.Float64())
		target[2*i], target[2*i+1] = x[2*i+1]*tau[i], -x[2*i]
	}
	return x, tau, target
}

// BenchmarkTrainStep1024 is one AdamW training step (forward, backward,
// update) at the released batch size.
func BenchmarkTrainStep1024(b *testing.B) {
	m, err := New(DefaultConfig(), 1)
	if err != nil {
		b.Fatal(err)
	}
	tr, err := NewTrainer(m, mseLoss, nn.DefaultAdamW())
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	x, tau, tg := batch(1024, 1)
	if _, err := tr.Step(x, tau, tg); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := tr.Step(x, tau, tg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/step")
}

// BenchmarkDenoise15000 is one sampler call on 15 000 points at one τ.
func BenchmarkDenoise15000(b *testing.B) {
	m, err := New(DefaultConfig(), 1)
	if err != nil {
		b.Fatal(err)
	}
	const n = 15000
	x, _, _ := batch(n, 2)
	tau := make([]float32, n)
	for i := range tau {
		tau[i] = 0.5
	}
	dst := make([]float32, 2*n)
	for b.Loop() {
		if err := m.Denoise(dst, x, tau); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/call")
}

// BenchmarkTrainStages re-measures the optimisations of bench/README.md
// one on top of the other (the row-parallel custom ops are always on).
func BenchmarkTrainStages(b *testing.B) {
	defer func(a, s, k bool) { kern.UseAsm, kern.UseAsmSiLU, keepSigma = a, s, k }(kern.UseAsm, kern.UseAsmSiLU, keepSigma)
	avail := kern.UseAsm
	for _, st := range []struct {
		name            string
		asm, silu, keep bool
	}{
		{"1-ops+gonum", false, false, false},
		{"2-asm-gemm", true, false, false},
		{"3-keep-sigma", true, false, true},
		{"4-asm-silu", true, true, true},
	} {
		if st.asm && !avail {
			b.Logf("%s: no AVX2/FMA on this CPU, skipped", st.name)
			continue
		}
		b.Run(st.name, func(b *testing.B) {
			kern.UseAsm, kern.UseAsmSiLU, keepSigma = st.asm, st.silu, st.keep
			BenchmarkTrainStep1024(b)
		})
	}
}
