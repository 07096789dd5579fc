package checkpoint_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/levy-ml/levy/checkpoint"
	"github.com/levy-ml/levy/safetensors"
)

// Example saves three checkpoints keeping the newest two, truncates the
// newest one, and resumes from the one before it.
func Example() {
	tmp, err := os.MkdirTemp("", "levy-checkpoint-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(tmp)
	root := filepath.Join(tmp, "runs", "grid9", "checkpoints")

	for _, step := range []int64{320, 640, 960} {
		m := checkpoint.Manifest{
			Job:     json.RawMessage(`{"method":"dlpm","alpha":1.7}`),
			Step:    step,
			Epoch:   step / 32,
			RNG:     checkpoint.RNGState{Seed: 1, Scheme: "pcg(splitmix(seed,tag,step,index))", Next: step},
			Created: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC),
		}
		w := float32(step) / 1000
		files := []checkpoint.File{
			{Name: "model.safetensors", Tensors: []safetensors.Tensor{{Name: "w", Shape: []int{2}, Data: []float32{w, -w}}}},
			{Name: "optim.safetensors", Tensors: []safetensors.Tensor{{Name: "step", Shape: []int{}, Data: []float32{float32(step)}}}},
		}
		if _, err := checkpoint.Save(root, m, files, 2); err != nil {
			panic(err)
		}
	}
	dirs, _ := checkpoint.List(root)
	for _, d := range dirs {
		fmt.Println("kept", filepath.Base(d))
	}

	// A torn write of the newest checkpoint.
	if err := os.Truncate(filepath.Join(root, "step-00000960", "model.safetensors"), 10); err != nil {
		panic(err)
	}
	c, skipped, err := checkpoint.Latest(root)
	if err != nil {
		panic(err)
	}
	for _, e := range skipped {
		fmt.Println("skipped, corrupt:", errors.Is(e, checkpoint.ErrCorrupt))
	}
	fmt.Println("resume from step", c.Manifest.Step, "epoch", c.Manifest.Epoch, "rng next step", c.Manifest.RNG.Next)
	fmt.Println("w =", c.Tensors("model.safetensors")["w"].Data)
	// Output:
	// kept step-00000640
	// kept step-00000960
	// skipped, corrupt: true
	// resume from step 640 epoch 20 rng next step 640
	// w = [0.64 -0.64]
}
