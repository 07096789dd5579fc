package toy2d

import (
	"context"
	"fmt"
	"math"
	"time"

	G "gorgonia.org/gorgonia"

	"github.com/levy-ml/levy/losses"
	"github.com/levy-ml/levy/nn"
	"github.com/levy-ml/levy/nn/mlp"
	"github.com/levy-ml/levy/noise"
	"github.com/levy-ml/levy/toy2d/data"
)

// TrainConfig describes one 2-D training run.
type TrainConfig struct {
	Method string        `json:"method"` // losses.DLPM, losses.LIM or losses.DDPM
	Alpha  float64       `json:"alpha"`  // diffusion tail index
	T      int           `json:"T"`      // DLPM/DDPM schedule length
	Data   data2d.Config `json:"data"`
	Epochs int           `json:"epochs"` // used when Steps is 0
	Steps  int           `json:"steps"`  // optimizer steps; overrides Epochs when > 0
	Batch  int           `json:"batch"`
	Opt    nn.AdamW      `json:"optimizer"`
	Model  mlp.Config    `json:"model"`
	Seed   uint64        `json:"seed"`
	ClampA float64       `json:"clamp_a,omitempty"`
	Loss   losses.Kind   `json:"loss,omitempty"` // empty: the method's default
}

// DefaultTrainConfig returns the released 2-D settings of docs/algorithms.md §6.3: T =
// 100, batch 1024, AdamW lr 5e−3, 20 epochs, the dataset's released size.
func DefaultTrainConfig(method, dataset string, alpha float64) (TrainConfig, error) {
	dc, err := data2d.DefaultConfig(dataset)
	if err != nil {
		return TrainConfig{}, err
	}
	if method == losses.DDPM {
		alpha = 2 // plain Gaussian noise; recorded as 2 so model.json says what was trained
	}
	c := TrainConfig{Method: method, Alpha: alpha, T: 100, Data: dc, Epochs: 20, Batch: 1024,
		Opt: nn.DefaultAdamW(), Model: mlp.DefaultConfig()}
	return c, c.Validate()
}

func (c TrainConfig) noiser() losses.Config {
	return losses.Config{Method: c.Method, Alpha: c.Alpha, T: c.T, ClampA: c.ClampA, Loss: c.Loss}
}

// Validate reports the first bad field by name.
func (c TrainConfig) Validate() error {
	if err := c.noiser().Validate(); err != nil {
		return err
	}
	if err := c.Data.Validate(); err != nil {
		return err
	}
	if err := c.Model.Validate(); err != nil {
		return err
	}
	if c.Model.Dim != 2 {
		return fmt.Errorf("toy: Model.Dim = %d, want 2 for 2-D data", c.Model.Dim)
	}
	if c.Batch <= 0 {
		return fmt.Errorf("toy: Batch = %d, want > 0", c.Batch)
	}
	if c.Steps < 0 || (c.Steps == 0 && c.Epochs <= 0) {
		return fmt.Errorf("toy: Steps = %d, Epochs = %d: want Steps > 0 or Epochs > 0", c.Steps, c.Epochs)
	}
	if !(c.Opt.LR > 0) || math.IsInf(c.Opt.LR, 0) {
		return fmt.Errorf("toy: Opt.LR = %v, want > 0", c.Opt.LR)
	}
	return nil
}

// StepsPerEpoch is the number of optimizer steps in one pass over the
// data; the last batch of an epoch may be partial (PyTorch's
// DataLoader with drop_last = false).
func (c TrainConfig) StepsPerEpoch() int { return (c.Data.N + c.Batch - 1) / c.Batch }

// TotalSteps is the length of the run.
func (c TrainConfig) TotalSteps() int {
	if c.Steps > 0 {
		return c.Steps
	}
	return c.Epochs * c.StepsPerEpoch()
}

// Progress is reported while training.
type Progress struct {
	Step, Total int
	Loss        float64 // mean loss since the last report
	StepsPerSec float64
	Elapsed     time.Duration
	ETA         time.Duration
}

// Trained is a trained model with its configuration and data.
type Trained struct {
	Config    TrainConfig
	Model     *mlp.Model
	Data      []float32 // the training set (regenerated from the seed on Load)
	Steps     int
	FinalLoss float64 // mean loss over the last epoch (or last 100 steps)
	Seconds   float64 // wall time of training
}

// Dataset regenerates the training set of c.
func Dataset(c TrainConfig) ([]float32, error) {
	return data2d.Generate(c.Data, noise.Stream(c.Seed, noise.TagData))
}

// Train runs c to the end, calling report (if not nil) about every
// reportEvery and once at the end. It stops early with ctx's error.
func Train(ctx context.Context, c TrainConfig, reportEvery time.Duration, report func(Progress)) (*Trained, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	data, err := Dataset(c)
	if err != nil {
		return nil, err
	}
	nz, err := losses.NewNoiser(c.noiser())
	if err != nil {
		return nil, err
	}
	model, err := mlp.New(c.Model, splitSeed(c.Seed, noise.TagInit))
	if err != nil {
		return nil, err
	}
	kind := nz.Loss()
	tr, err := mlp.NewTrainer(model, func(out, target *G.Node) (*G.Node, error) {
		return losses.Graph(kind, out, target)
	}, c.Opt)
	if err != nil {
		return nil, err
	}
	defer tr.Close()

	const d = 2
	n := c.Data.N
	total := c.TotalSteps()
	perEpoch := c.StepsPerEpoch()
	x0 := make([]float32, c.Batch*d)
	xt := make([]float32, c.Batch*d)
	tgt := make([]float32, c.Batch*d)
	tau := make([]float32, c.Batch)
	var perm []int

	start := time.Now()
	lastReport := start
	var sinceSum float64
	var sinceN, lastStep int
	tail := make([]float64, 0, perEpoch)
	for step := 0; step < total; step++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		epoch, pos := step/perEpoch, step%perEpoch
		if pos == 0 {
			perm = noise.Stream(c.Seed, noise.TagShuf, uint64(epoch)).Perm(n)
			tail = tail[:0]
		}
		lo, hi := pos*c.Batch, min(n, (pos+1)*c.Batch)
		b := hi - lo
		for i, idx := range perm[lo:hi] {
			x0[2*i], x0[2*i+1] = data[2*idx], data[2*idx+1]
		}
		rng := noise.Stream(c.Seed, noise.TagTrain, uint64(step))
		nz.Prepare(rng, x0[:b*d], d, xt[:b*d], tau[:b], tgt[:b*d])
		loss, err := tr.Step(xt[:b*d], tau[:b], tgt[:b*d])
		if err != nil {
			return nil, fmt.Errorf("toy: step %d: %w", step, err)
		}
		sinceSum += loss
		sinceN++
		tail = append(tail, loss)
		if report != nil && (time.Since(lastReport) >= reportEvery || step == total-1) {
			now := time.Now()
			rate := float64(step+1-lastStep) / now.Sub(lastReport).Seconds()
			report(Progress{Step: step + 1, Total: total, Loss: sinceSum / float64(sinceN),
				StepsPerSec: rate, Elapsed: now.Sub(start),
				ETA: time.Duration(float64(total-step-1) / rate * float64(time.Second))})
			lastReport, lastStep, sinceSum, sinceN = now, step+1, 0, 0
		}
	}
	var fl float64
	for _, v := range tail {
		fl += v
	}
	return &Trained{Config: c, Model: model, Data: data, Steps: total,
		FinalLoss: fl / float64(max(1, len(tail))), Seconds: time.Since(start).Seconds()}, nil
}

// splitSeed derives a 64-bit seed for a purpose.
func splitSeed(seed, tag uint64) uint64 { return noise.Stream(seed, tag).Uint64() }
