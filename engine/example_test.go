package engine_test

import (
	"errors"
	"fmt"
	"math"

	"github.com/levy-ml/levy/engine"
	"github.com/levy-ml/levy/job"
)

// One training step of the default 2-D job on the CPU engine, as a worker
// drives it: Backward fills the gradient buckets (a worker all-reduces
// them here), Apply takes the optimiser step and updates the EMA.
func Example() {
	eng, err := engine.New(engine.Config{Spec: job.Default(), Device: -1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer eng.Close()
	l := eng.Layout()
	fmt.Printf("%d parameter tensors, %d parameters, %d bucket(s)\n", len(l.Params), l.Size, len(l.Buckets))

	// A batch of 4 noised 2-D points at time τ = 0.5, target ε = 0.
	b := engine.Batch{X: []float32{0.1, 0.2, -0.3, 0.4, 0.5, -0.6, 0.7, 0.8}, Tau: []float32{0.5, 0.5, 0.5, 0.5}, Target: make([]float32, 8)}
	ready := 0
	loss, err := eng.Backward(engine.Step{Index: 0, Rank: 0}, b, func(int) { ready++ })
	fmt.Printf("loss finite: %v, buckets readied: %d, err: %v\n", !math.IsNaN(loss) && !math.IsInf(loss, 0), ready, err)
	fmt.Println("apply:", eng.Apply())

	// A NaN in the batch is refused and leaves the buckets alone.
	b.X[0] = float32(math.NaN())
	_, err = eng.Backward(engine.Step{Index: 1}, b, nil)
	fmt.Println("NaN batch refused:", errors.Is(err, engine.ErrNonFinite))

	// A GPU goes to the probe, which this build answers.
	_, err = engine.New(engine.Config{Spec: job.Default(), Device: 0})
	fmt.Println("GPU 0:", errors.Is(err, engine.ErrNoGPU))
	// Output:
	// 60 parameter tensors, 55010 parameters, 1 bucket(s)
	// loss finite: true, buckets readied: 1, err: <nil>
	// apply: <nil>
	// NaN batch refused: true
	// GPU 0: true
}
