package engine

import (
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/levy-ml/levy/checkpoint"
	"github.com/levy-ml/levy/job"
)

// The files of an engine's state in a checkpoint (package checkpoint):
// the weights, their EMA (both with the format, method and α in their
// metadata) and the optimiser state (tensors "m.<param>" and
// "v.<param>", the step count in the metadata).
const (
	ModelFile = "model.safetensors"
	EMAFile   = "ema.safetensors"
	OptimFile = "optim.safetensors"
)

// Format is the "format" metadata of a job's weight files.
func Format(spec job.Spec) string {
	if spec.IsImage() {
		return "levy-unet"
	}
	return "levy-mlp"
}

// Files lays s out as a checkpoint's files (the tensors alias s).
func Files(spec job.Spec, s State) []checkpoint.File {
	meta := map[string]string{"format": Format(spec), "method": spec.Method,
		"alpha": strconv.FormatFloat(spec.Alpha, 'g', -1, 64)}
	optim := make([]Tensor, 0, len(s.M)+len(s.V))
	for _, t := range s.M {
		optim = append(optim, Tensor{Name: "m." + t.Name, Shape: t.Shape, Data: t.Data})
	}
	for _, t := range s.V {
		optim = append(optim, Tensor{Name: "v." + t.Name, Shape: t.Shape, Data: t.Data})
	}
	return []checkpoint.File{
		{Name: ModelFile, Tensors: s.Params, Meta: meta},
		{Name: EMAFile, Tensors: s.EMA, Meta: meta},
		{Name: OptimFile, Tensors: optim, Meta: map[string]string{"format": "levy-adamw", "step": strconv.FormatInt(s.OptimStep, 10)}},
	}
}

// ReadState reads the state of an engine of layout lay from checkpoint
// c (written by Files); errors name the file and the tensor.
func ReadState(lay Layout, c *checkpoint.Checkpoint) (State, error) {
	var s State
	var err error
	if s.Params, err = readTensors(lay, c, ModelFile, ""); err != nil {
		return s, err
	}
	if s.EMA, err = readTensors(lay, c, EMAFile, ""); err != nil {
		return s, err
	}
	if s.M, err = readTensors(lay, c, OptimFile, "m."); err != nil {
		return s, err
	}
	if s.V, err = readTensors(lay, c, OptimFile, "v."); err != nil {
		return s, err
	}
	f, _ := fileOf(c, OptimFile)
	st, err := strconv.ParseInt(f.Meta["step"], 10, 64)
	if err != nil || st < 0 {
		return s, fmt.Errorf("engine: %s: optimiser metadata step %q: want an integer ≥ 0", filepath.Join(c.Dir, OptimFile), f.Meta["step"])
	}
	s.OptimStep = st
	return s, nil
}

// ReadWeights reads the weights (the EMA's if ema) of layout lay from
// checkpoint c.
func ReadWeights(lay Layout, c *checkpoint.Checkpoint, ema bool) ([]Tensor, error) {
	name := ModelFile
	if ema {
		name = EMAFile
	}
	return readTensors(lay, c, name, "")
}

func fileOf(c *checkpoint.Checkpoint, name string) (checkpoint.File, bool) {
	for _, f := range c.Files {
		if f.Name == name {
			return f, true
		}
	}
	return checkpoint.File{}, false
}

// readTensors returns the tensors prefix+<param> of file name of c, in
// layout order, named as the parameters.
func readTensors(lay Layout, c *checkpoint.Checkpoint, name, prefix string) ([]Tensor, error) {
	f, ok := fileOf(c, name)
	if !ok {
		return nil, fmt.Errorf("engine: %s: no %s", c.Dir, name)
	}
	by := make(map[string]Tensor, len(f.Tensors))
	for _, t := range f.Tensors {
		by[t.Name] = t
	}
	out := make([]Tensor, len(lay.Params))
	for i, p := range lay.Params {
		t, ok := by[prefix+p.Name]
		if !ok || len(t.Data) != p.Len {
			return nil, fmt.Errorf("engine: %s: tensor %q missing or of the wrong size", filepath.Join(c.Dir, name), prefix+p.Name)
		}
		out[i] = Tensor{Name: p.Name, Shape: p.Shape, Data: t.Data}
	}
	return out, nil
}
