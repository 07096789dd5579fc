package unet

import (
	"math/rand/v2"
	"testing"

	"github.com/levy-ml/levy/losses"
	"github.com/levy-ml/levy/nn"
)

// BenchmarkTrainStep: one training step (forward, backward, AdamW) of
// DefaultConfig on a batch of 16 32×32 images; reports steps/s and
// images/s.
func BenchmarkTrainStep(b *testing.B) { benchTrain(b, DefaultConfig()) }

// BenchmarkTrainStepNarrow is BenchmarkTrainStep with 16 base channels
// (the width of examples/fashion-mnist.yaml).
func BenchmarkTrainStepNarrow(b *testing.B) {
	c := DefaultConfig()
	c.ModelChannels, c.NormGroups = 16, 16
	benchTrain(b, c)
}

func benchTrain(b *testing.B, cfg Config) {
	m, err := New(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	randomize(m, 2)
	tr, err := NewTrainer(m, losses.MSE, Optim{AdamW: nn.AdamW{LR: 1e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	const n = 16
	x, eps, tau := batchOf(n, 1)
	if _, err := tr.Step(x, tau, eps); err != nil { // build the graph
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := tr.Step(x, tau, eps); err != nil {
			b.Fatal(err)
		}
	}
	s := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/s, "steps/s")
	b.ReportMetric(float64(b.N*n)/s, "images/s")
}

// BenchmarkDenoise: one network evaluation of a batch of 64 images, the
// unit of sampling; reports images/s per network evaluation (a sampler
// with K steps makes K of them per image).
func BenchmarkDenoise(b *testing.B) {
	m, err := New(DefaultConfig(), 1)
	if err != nil {
		b.Fatal(err)
	}
	randomize(m, 2)
	d := NewDenoiser(m)
	defer d.Close()
	const n = 64
	x, _, tau := batchOf(n, 1)
	out := make([]float32, len(x))
	if err := d.Denoise(out, x, tau); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := d.Denoise(out, x, tau); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "images/s")
}

func batchOf(n int, c int) (x, eps, tau []float32) {
	rng := rand.New(rand.NewPCG(9, 9))
	x, eps, tau = make([]float32, n*c*32*32), make([]float32, n*c*32*32), make([]float32, n)
	for i := range x {
		x[i], eps[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
	}
	for i := range tau {
		tau[i] = rng.Float32()
	}
	return x, eps, tau
}

// BenchmarkConvBackward compares the two ways of the weight gradient.
func BenchmarkConvBackward(b *testing.B) {
	g := convGeom{B: 16, Ci: 64, H: 16, W: 16, Co: 64, K: 3, S: 1}
	x, w, bias := make([]float32, g.B*g.inSize()), make([]float32, g.wSize()), make([]float32, g.Co)
	y := make([]float32, g.B*g.outSize())
	dx, dw := make([]float32, len(x)), make([]float32, len(w))
	for i := range x {
		x[i] = float32(i%13) - 6
	}
	convFwd(y, x, w, bias, g)
	for _, rows := range []bool{true, false} {
		b.Run(map[bool]string{true: "transpose+asm", false: "gonum-NT"}[rows], func(b *testing.B) {
			defer func(v bool) { useRows = v }(useRows)
			useRows = rows
			for b.Loop() {
				convBwd(dx, dw, bias, y, x, w, g)
			}
		})
	}
}
