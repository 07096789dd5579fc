// Command gostep times levy's mlp.Trainer the way bench/torch_mlp.py
// times PyTorch: batch 1024, MSE to a fixed function of (x, τ), AdamW lr
// 5e−3, median step time over 200 steps after 20 warm-up steps.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"time"

	G "gorgonia.org/gorgonia"

	"github.com/levy-ml/levy/losses"
	"github.com/levy-ml/levy/nn"
	"github.com/levy-ml/levy/nn/mlp"
)

func main() {
	batch := flag.Int("batch", 1024, "batch size")
	steps := flag.Int("steps", 200, "timed steps")
	warm := flag.Int("warmup", 20, "untimed warm-up steps")
	flag.Parse()
	if err := run(*batch, *steps, *warm); err != nil {
		fmt.Fprintln(os.Stderr, "gostep:", err)
		os.Exit(1)
	}
}

// mse is the loss levy trains DDPM with: the fused losses.MSE Op, the
// counterpart of PyTorch's ((out − target)²).mean().
func mse(out, target *G.Node) (*G.Node, error) { return losses.Graph(losses.MSE, out, target) }

func run(n, steps, warm int) error {
	m, err := mlp.New(mlp.DefaultConfig(), 1)
	if err != nil {
		return err
	}
	tr, err := mlp.NewTrainer(m, mse, nn.DefaultAdamW())
	if err != nil {
		return err
	}
	defer tr.Close()
	rng := rand.New(rand.NewPCG(1, 1))
	x, tau, target := make([]float32, 2*n), make([]float32, n), make([]float32, 2*n)
	for i := range n {
		x[2*i], x[2*i+1] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
		tau[i] = float32(rng.Float64())
		target[2*i], target[2*i+1] = x[2*i+1]*tau[i], -x[2*i]
	}
	var times []float64
	var loss float64
	for s := range warm + steps {
		t0 := time.Now()
		if loss, err = tr.Step(x, tau, target); err != nil {
			return err
		}
		if s >= warm {
			times = append(times, time.Since(t0).Seconds()*1e3)
		}
	}
	slices.Sort(times)
	fmt.Printf("levy mlp: %d params, batch %d, GOMAXPROCS %d, final loss %.4g\n",
		m.Config().NumParams(), n, runtime.GOMAXPROCS(0), loss)
	fmt.Printf("median_ms %.3f\n", times[len(times)/2])
	return nil
}
