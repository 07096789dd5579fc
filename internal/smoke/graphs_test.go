package smoke

import (
	"os"
	"os/exec"
	"sync"
	"testing"

	G "gorgonia.org/gorgonia"

	"github.com/levy-ml/levy/losses"
	"github.com/levy-ml/levy/nn"
	"github.com/levy-ml/levy/nn/mlp"
	"github.com/levy-ml/levy/nn/unet"
)

// childEnv marks the child process of TestFirstGraphsInParallel.
const childEnv = "LEVY_SMOKE_FIRST_GRAPHS"

// TestFirstGraphsInParallel: the first training graphs of a process,
// eight MLPs and eight U-Nets, are built and run by sixteen goroutines
// at once, as the ranks of an in-process cluster do. gorgonia caches the
// hashes of the constant nodes all graphs share lazily (see
// nn.NewGraph): without the warm-up there, the race detector reports
// the first Grad calls here in about a third of runs (the goroutines
// often synchronise through gorgonia's node pool first, which hides it;
// mlp's TestNewGraphWarmsConstants checks the warm-up itself). The check
// needs a process that has built no graph yet, so it runs in a child.
func TestFirstGraphsInParallel(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		firstGraphs(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFirstGraphsInParallel$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child process: %v\n%s", err, out)
	}
}

func firstGraphs(t *testing.T) {
	start := make(chan struct{})
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for seed := range uint64(8) {
		wg.Add(2)
		go func() { defer wg.Done(); <-start; errs <- mlpStep(seed) }()
		go func() { defer wg.Done(); <-start; errs <- unetStep(seed) }()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// mlpStep takes one step of a small MLP under a squared-error loss
// (Square's derivative adds the shared constant two).
func mlpStep(seed uint64) error {
	m, err := mlp.New(mlp.Config{Dim: 2, Hidden: 8, Blocks: 1, TimeEmbed: 4}, seed)
	if err != nil {
		return err
	}
	tr, err := mlp.NewTrainer(m, func(out, target *G.Node) (*G.Node, error) {
		d, err := G.Sub(out, target)
		if err != nil {
			return nil, err
		}
		sq, err := G.Square(d)
		if err != nil {
			return nil, err
		}
		return G.Mean(sq)
	}, nn.DefaultAdamW())
	if err != nil {
		return err
	}
	defer tr.Close()
	n := 2
	_, err = tr.Step(make([]float32, 2*n), make([]float32, n), make([]float32, 2*n))
	return err
}

// unetStep takes one step of a tiny U-Net.
func unetStep(seed uint64) error {
	cfg := unet.Config{ImageSize: 8, InChannels: 1, ModelChannels: 4, ChannelMult: []int{1, 2}, NumResBlocks: 1,
		AttentionDS: []int{2}, NumHeads: 2, NormGroups: 2}
	m, err := unet.New(cfg, seed)
	if err != nil {
		return err
	}
	tr, err := unet.NewTrainer(m, losses.MSE, unet.Optim{AdamW: nn.DefaultAdamW()})
	if err != nil {
		return err
	}
	defer tr.Close()
	n, size := 1, 8*8
	_, err = tr.Step(make([]float32, n*size), make([]float32, n), make([]float32, n*size))
	return err
}
