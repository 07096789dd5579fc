package toy2d

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/levy-ml/levy/internal/atomicfile"
	"github.com/levy-ml/levy/nn/mlp"
	"github.com/levy-ml/levy/safetensors"
)

// Files of a model directory.
const (
	ConfigFile  = "model.json"
	WeightsFile = "model.safetensors"
)

// ErrNoModel is returned when a directory holds no model.
var ErrNoModel = errors.New("toy: no model")

type modelFile struct {
	Format    int         `json:"format"`
	Config    TrainConfig `json:"train"`
	Steps     int         `json:"steps"`
	FinalLoss float64     `json:"final_loss"`
	Seconds   float64     `json:"train_seconds"`
}

const formatVersion = 1

// Save writes the model to dir: model.json (the training configuration)
// and model.safetensors (the weights, loadable by Python's safetensors).
func Save(dir string, t *Trained) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var ts []safetensors.Tensor
	for _, p := range t.Model.Params() {
		ts = append(ts, safetensors.Tensor{Name: p.Name, Shape: p.Shape, Data: p.Data})
	}
	meta := map[string]string{"format": "levy-mlp", "method": t.Config.Method,
		"alpha": strconv.FormatFloat(t.Config.Alpha, 'g', -1, 64)}
	if err := atomicfile.Write(filepath.Join(dir, WeightsFile), 0o644, func(w io.Writer) error {
		return safetensors.Encode(w, ts, meta)
	}); err != nil {
		return fmt.Errorf("toy: %w", err)
	}
	b, err := json.MarshalIndent(modelFile{Format: formatVersion, Config: t.Config, Steps: t.Steps,
		FinalLoss: t.FinalLoss, Seconds: t.Seconds}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ConfigFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("toy: %w", err)
	}
	return nil
}

// Load reads a model directory written by Save and regenerates its
// training data from the seed.
func Load(dir string) (*Trained, error) {
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s (no %s)", ErrNoModel, dir, ConfigFile)
	}
	if err != nil {
		return nil, err
	}
	var mf modelFile
	if err := json.Unmarshal(b, &mf); err != nil {
		return nil, fmt.Errorf("toy: %s: %w", filepath.Join(dir, ConfigFile), err)
	}
	if mf.Format != formatVersion {
		return nil, fmt.Errorf("toy: %s: format %d, this levy reads %d", filepath.Join(dir, ConfigFile), mf.Format, formatVersion)
	}
	if err := mf.Config.Validate(); err != nil {
		return nil, fmt.Errorf("toy: %s: %w", filepath.Join(dir, ConfigFile), err)
	}
	m, err := mlp.New(mf.Config.Model, 0)
	if err != nil {
		return nil, err
	}
	wpath := filepath.Join(dir, WeightsFile)
	ts, _, err := safetensors.ReadFile(wpath)
	if err != nil {
		return nil, err
	}
	byName := map[string]safetensors.Tensor{}
	for _, t := range ts {
		byName[t.Name] = t
	}
	for _, p := range m.Params() {
		t, ok := byName[p.Name]
		if !ok {
			return nil, fmt.Errorf("toy: %s: missing tensor %q", wpath, p.Name)
		}
		if len(t.Data) != len(p.Data) {
			return nil, fmt.Errorf("toy: %s: tensor %q has %d values, the model wants %d", wpath, p.Name, len(t.Data), len(p.Data))
		}
		copy(p.Data, t.Data)
	}
	data, err := Dataset(mf.Config)
	if err != nil {
		return nil, err
	}
	return &Trained{Config: mf.Config, Model: m, Data: data, Steps: mf.Steps, FinalLoss: mf.FinalLoss, Seconds: mf.Seconds}, nil
}
