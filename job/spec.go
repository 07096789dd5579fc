package job

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/levy-ml/levy/internal/wire"
	"github.com/levy-ml/levy/samplers"
	"github.com/levy-ml/levy/toy2d/data"
)

// The training methods, as package samplers defines them (package
// losses, which uses the same names, is not imported so that the
// coordinator stays free of gorgonia).
const (
	DLPM = samplers.MethodDLPM
	LIM  = samplers.MethodLIM
	DDPM = samplers.MethodDDPM
)

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("job: invalid spec")

// Model sizes the 2-D network (mlp.Config without the data dimension).
type Model struct {
	Hidden    int `json:"hidden" yaml:"hidden"`
	Blocks    int `json:"blocks" yaml:"blocks"`
	TimeEmbed int `json:"time_embed" yaml:"time_embed"`
}

// Sample says how the sampling workers draw from each checkpoint.
type Sample struct {
	Sampler string  `json:"sampler" yaml:"sampler"` // samplers.DLPM, DLIM, LIMSDE, LIMODE, DDPM or DDIM
	Steps   int     `json:"steps" yaml:"steps"`     // sampler steps
	N       int     `json:"n" yaml:"n"`             // points to generate
	Eta     float64 `json:"eta" yaml:"eta"`         // DLIM / DDIM stochasticity
	Clip    float64 `json:"clip" yaml:"clip"`       // output clamp (the reference clamps 2-D points to [−6, 6])
	UseEMA  bool    `json:"use_ema" yaml:"use_ema"` // sample the EMA weights instead of the raw ones
	// Features is the feature network that scores image samples (FD,
	// k-NN precision/recall against the test split): a safetensors file
	// written by levyctl classifier. Empty: no image scores.
	Features string `json:"features,omitempty" yaml:"features"`
}

// Spec is a training job.
type Spec struct {
	Name        string  `json:"name" yaml:"name"`                 // run directory name: runs/<name>
	Method      string  `json:"method" yaml:"method"`             // dlpm, lim or ddpm
	Alpha       float64 `json:"alpha" yaml:"alpha"`               // tail index of the noise, (0, 2]
	Dataset     string  `json:"dataset" yaml:"dataset"`           // grid9 or sas2d
	DataN       int     `json:"data_n" yaml:"data_n"`             // dataset size
	Model       Model   `json:"model" yaml:"model"`               // network size
	T           int     `json:"T" yaml:"T"`                       // DLPM / DDPM schedule length
	GlobalBatch int     `json:"global_batch" yaml:"global_batch"` // points per optimizer step, over all workers
	LR          float64 `json:"lr" yaml:"lr"`                     // AdamW learning rate
	WeightDecay float64 `json:"weight_decay" yaml:"weight_decay"` // AdamW decoupled weight decay
	EMA         float64 `json:"ema" yaml:"ema"`                   // EMA decay of the weights, [0, 1); 0 keeps no average
	Steps       int     `json:"steps" yaml:"steps"`               // optimizer steps in all
	CkptEvery   int     `json:"checkpoint_every" yaml:"checkpoint_every"`
	Keep        int     `json:"keep" yaml:"keep"` // checkpoints kept (the newest)
	Seed        uint64  `json:"seed" yaml:"seed"`
	Sample      Sample  `json:"sample" yaml:"sample"`
	// MinWorkers, MaxWorkers bound the ring (0: unset). A job starts with
	// the coordinator's --workers clamped to [min, max]; after a worker
	// is lost it goes on with the survivors while at least min remain,
	// and workers that join a running job grow it up to max (default:
	// the starting size).
	MinWorkers int `json:"min_workers,omitempty" yaml:"min_workers"`
	MaxWorkers int `json:"max_workers,omitempty" yaml:"max_workers"`

	// Image jobs (dataset fashion-mnist, mnist, cifar10, cifar10-lt or
	// celeba) read DataDir and train the U-Net; data_n 0 uses every
	// training image.
	DataDir string `json:"data_dir,omitempty" yaml:"data_dir"`
	UNet    *UNet  `json:"unet,omitempty" yaml:"unet"`
	// ClampA, ClampEps: docs/algorithms.md §3.7's truncations of DLPM's noise, in
	// training and sampling (0: none). LIM ignores them: the reference LIM
	// uses exact noise (docs/algorithms.md §8.1).
	ClampA   float64 `json:"clamp_a,omitempty" yaml:"clamp_a"`
	ClampEps float64 `json:"clamp_eps,omitempty" yaml:"clamp_eps"`
	// ClipNorm clips the global gradient norm (0: none); the learning
	// rate is multiplied by LRDecay every LRDecayEvery steps (0: constant).
	ClipNorm     float64 `json:"clip_norm,omitempty" yaml:"clip_norm"`
	LRDecay      float64 `json:"lr_decay,omitempty" yaml:"lr_decay"`
	LRDecayEvery int     `json:"lr_decay_every,omitempty" yaml:"lr_decay_every"`
}

// UNet sizes the image network (unet.Config without the image shape,
// which the dataset sets).
type UNet struct {
	ModelChannels int     `json:"model_channels" yaml:"model_channels"`
	ChannelMult   []int   `json:"channel_mult" yaml:"channel_mult"`
	NumResBlocks  int     `json:"num_res_blocks" yaml:"num_res_blocks"`
	AttentionDS   []int   `json:"attention_ds" yaml:"attention_ds"`
	NumHeads      int     `json:"num_heads" yaml:"num_heads"`
	Dropout       float64 `json:"dropout" yaml:"dropout"`
	NormGroups    int     `json:"norm_groups" yaml:"norm_groups"`
}

// The image datasets.
const (
	FashionMNIST = "fashion-mnist"
	MNIST        = "mnist"
	CIFAR10      = "cifar10"
	CIFAR10LT    = "cifar10-lt"
	CelebA       = "celeba"
)

// DefaultFashionMNISTDir is where Debian's dataset-fashion-mnist puts
// the IDX files.
const DefaultFashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// IsImage reports whether the job trains on images.
func (s Spec) IsImage() bool { return IsImageDataset(s.Dataset) }

// IsImageDataset reports whether name is an image dataset.
func IsImageDataset(name string) bool {
	switch name {
	case FashionMNIST, MNIST, CIFAR10, CIFAR10LT, CelebA:
		return true
	}
	return false
}

// ImageShape is the (channels, size) of the dataset's preprocessed
// images (size × size).
func ImageShape(dataset string) (c, size int) {
	switch dataset {
	case FashionMNIST, MNIST:
		return 1, 32
	case CIFAR10, CIFAR10LT:
		return 3, 32
	case CelebA:
		return 3, 64
	}
	return 0, 0
}

// Dim is the dimension of one example: 2 for the 2-D sets, C·H·W for
// images.
func (s Spec) Dim() int {
	if c, n := ImageShape(s.Dataset); c > 0 {
		return c * n * n
	}
	return 2
}

// DefaultImage is the default job for an image dataset: docs/algorithms.md §8.1's
// settings for MNIST-like data (α 1.7, T 1000, AdamW 5e−4 with StepLR
// ×0.99 every 400 steps, EMA 0.99, clamp_a 20 / clamp_eps 200) or
// CIFAR-10-like data (T 4000, lr 2e−4, ×0.99 every 1000, EMA 0.9999,
// clip 5, clamps 10 / 50), with the network and the batch cut to what a
// CPU trains (unet: 32 channels, (1,2,2), one block per level, attention
// at 8² and in the middle; batch 32).
func DefaultImage(dataset string) Spec {
	s := Default()
	s.Name, s.Dataset, s.DataN = dataset, dataset, 0
	s.T, s.GlobalBatch, s.LR, s.WeightDecay, s.EMA = 1000, 32, 5e-4, 0, 0.99
	s.Steps, s.CkptEvery, s.Keep = 4000, 500, 3
	s.ClampA, s.ClampEps, s.LRDecay, s.LRDecayEvery = 20, 200, 0.99, 400
	s.UNet = &UNet{ModelChannels: 32, ChannelMult: []int{1, 2, 2}, NumResBlocks: 1, AttentionDS: []int{4}, NumHeads: 4, NormGroups: 32}
	s.Sample = Sample{Sampler: samplers.DLPM, Steps: 100, N: 256, Clip: 1, UseEMA: true}
	switch dataset {
	case FashionMNIST:
		s.DataDir = DefaultFashionMNISTDir
	case CIFAR10, CIFAR10LT, CelebA:
		s.T, s.LR, s.LRDecayEvery, s.EMA, s.ClipNorm, s.ClampA, s.ClampEps = 4000, 2e-4, 1000, 0.9999, 5, 10, 50
		if dataset == CIFAR10LT {
			s.ClampA, s.ClampEps = 20, 200
		}
	}
	return s
}

// Default is the one-command job: DLPM, α = 1.7, the 9-Gaussian grid.
// The network, T, batch, learning rate and sampler are the released 2-D
// settings (docs/algorithms.md §6.3); 2000 steps is about 64 epochs of the 32 000
// points, enough for an F1 well above 0.85 (20 epochs give 0.875 ± 0.015).
// The network is mlp.DefaultConfig and the optimiser nn.DefaultAdamW
// (a test checks that they agree).
func Default() Spec {
	return Spec{
		Name: "dlpm-grid9", Method: DLPM, Alpha: 1.7, Dataset: data2d.NameGrid9, DataN: 32000,
		Model: Model{Hidden: 64, Blocks: 5, TimeEmbed: 32},
		T:     100, GlobalBatch: 1024, LR: 5e-3, WeightDecay: 0.01, EMA: 0.999,
		Steps: 2000, CkptEvery: 500, Keep: 3, Seed: 1,
		Sample: Sample{Sampler: samplers.DLPM, Steps: 100, N: 15000, Clip: 6},
	}
}

// Parse reads a YAML or JSON spec. Fields it does not set take their
// values from Default, except that a spec naming another method gets that
// method's sampler. The result is validated.
func Parse(b []byte) (Spec, error) {
	// First pass: which method, so that the sampler default can follow it.
	var probe struct {
		Method  string `yaml:"method"`
		Dataset string `yaml:"dataset"`
		Sample  struct {
			Sampler string `yaml:"sampler"`
		} `yaml:"sample"`
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return Spec{}, fmt.Errorf("%w: the spec is empty", ErrInvalid)
	}
	if err := yaml.Unmarshal(b, &probe); err != nil {
		return Spec{}, fmt.Errorf("%w: %s", ErrInvalid, yamlMessage(err, b))
	}
	s := Default()
	if IsImageDataset(probe.Dataset) {
		s = DefaultImage(probe.Dataset)
	}
	if probe.Method != "" && probe.Method != s.Method && probe.Sample.Sampler == "" {
		s.Sample.Sampler = DefaultSampler(probe.Method)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		return Spec{}, fmt.Errorf("%w: %s", ErrInvalid, yamlMessage(err, b))
	}
	if s.Method == DDPM {
		s.Alpha = 2
	}
	return s, s.Validate()
}

// ReadFile reads and validates a spec file; errors name the file.
func ReadFile(path string) (Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, fmt.Errorf("job: %w", err)
	}
	s, err := Parse(b)
	if err != nil {
		return Spec{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

var (
	unknownRE = regexp.MustCompile(`field (\S+) not found in type \S+`)
	lineRE    = regexp.MustCompile(`line (\d+): `)
)

// parserProblems are the problems the YAML library's parser (parserc.go)
// reports. It numbers their lines from 0 and leaves the number out when
// it is 0, while its scanner's and decoder's lines count from 1 (the
// library adds 1 for scanner errors only).
var parserProblems = []string{
	"did not find expected <stream-start>",
	"did not find expected <document start>",
	"did not find expected node content",
	"did not find expected '-' indicator",
	"did not find expected key",
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"found undefined tag handle",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found duplicate %TAG directive",
}

// yamlMessage shortens the YAML library's messages ("yaml: line 3: field
// alhpa not found in type job.Spec" → "line 3: unknown field alhpa"),
// corrects the line numbers of parser errors and quotes the offending
// line of src, so that a type error names its field.
func yamlMessage(err error, src []byte) string {
	m := strings.TrimPrefix(err.Error(), "yaml: ")
	m = strings.ReplaceAll(m, "unmarshal errors:\n  ", "")
	m = unknownRE.ReplaceAllString(m, "unknown field \"$1\"")
	shift := 0
	for _, p := range parserProblems {
		if strings.HasSuffix(m, p) {
			shift = 1
			if !lineRE.MatchString(m) {
				m = "line 0: " + m
			}
			break
		}
	}
	lines := strings.Split(string(src), "\n")
	return lineRE.ReplaceAllStringFunc(m, func(s string) string {
		var n int
		fmt.Sscanf(s, "line %d: ", &n)
		n += shift
		// An error found past the last line or on a blank one (the end
		// of the input, say, inside an unclosed '[') belongs to the last
		// line with text before it.
		n = min(n, len(lines))
		for n > 1 && strings.TrimSpace(lines[n-1]) == "" {
			n--
		}
		if n >= 1 {
			l := strings.TrimSpace(lines[n-1])
			if len(l) > 80 {
				l = l[:80] + "…"
			}
			return fmt.Sprintf("line %d (%q): ", n, l)
		}
		return s
	})
}

// DefaultSampler is the sampler that goes with a training method (the
// first of samplers.Compatible; the DLPM sampler for an unknown method).
func DefaultSampler(method string) string {
	if c := samplers.Compatible(method); len(c) > 0 {
		return c[0]
	}
	return samplers.DLPM
}

// MinSampleSteps is the fewest steps the sampler takes, the bound of
// samplers.Config.Validate: the DLPM family's steps are the schedule
// length T′, which makes T′−1 network calls, so it needs 2; the LIM
// samplers' steps are grid intervals, one call each, so they need 1.
func MinSampleSteps(sampler string) int {
	if sampler == samplers.LIMSDE || sampler == samplers.LIMODE {
		return 1
	}
	return 2
}

func bad(field string, v any, why string) error {
	return fmt.Errorf("%w: field %q = %v: %s", ErrInvalid, field, v, why)
}

// Validate reports the first bad field, by name, value and reason.
func (s Spec) Validate() error {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case !wire.ValidID(s.Name):
		return bad("name", fmt.Sprintf("%q", s.Name), "want 1–64 letters, digits, '_' and '-' (it names the run directory and is the job's NATS subject token)")
	case s.Method != DLPM && s.Method != LIM && s.Method != DDPM:
		return bad("method", fmt.Sprintf("%q", s.Method), "want dlpm, lim or ddpm")
	case !(s.Alpha > 0 && s.Alpha <= 2):
		return bad("alpha", s.Alpha, "want a tail index in (0, 2]")
	case s.Dataset != data2d.NameGrid9 && s.Dataset != data2d.NameSAS2D && !s.IsImage():
		return bad("dataset", fmt.Sprintf("%q", s.Dataset), "want grid9, sas2d, fashion-mnist, mnist, cifar10, cifar10-lt or celeba")
	case !s.IsImage() && (s.DataN <= 0 || s.DataN > 1<<26):
		return bad("data_n", s.DataN, "want 1 … 67108864 points")
	case s.IsImage() && (s.DataN < 0 || s.DataN > 1<<26):
		return bad("data_n", s.DataN, "want 0 (every image) … 67108864 images")
	case s.IsImage() && s.DataDir == "":
		return bad("data_dir", `""`, "an image dataset needs the directory of its files")
	case !s.IsImage() && (s.DataDir != "" || s.UNet != nil):
		return bad("dataset", fmt.Sprintf("%q", s.Dataset), "data_dir and unet are for image datasets")
	case s.IsImage() && s.UNet == nil:
		return bad("unet", "null", "an image job needs the U-Net's size")
	case s.Model.Hidden <= 0 || s.Model.Hidden > 4096:
		return bad("model.hidden", s.Model.Hidden, "want 1 … 4096")
	case s.Model.Blocks <= 0 || s.Model.Blocks > 64:
		return bad("model.blocks", s.Model.Blocks, "want 1 … 64")
	case s.Model.TimeEmbed <= 0 || s.Model.TimeEmbed > 4096:
		return bad("model.time_embed", s.Model.TimeEmbed, "want 1 … 4096")
	case s.Method != LIM && (s.T < 2 || s.T > 100000):
		return bad("T", s.T, "want 2 … 100000 schedule steps")
	case s.GlobalBatch <= 0 || s.GlobalBatch > 1<<20:
		return bad("global_batch", s.GlobalBatch, "want 1 … 1048576")
	case s.GlobalBatch > s.DataN && !(s.IsImage() && s.DataN == 0):
		return bad("global_batch", s.GlobalBatch, fmt.Sprintf("want ≤ data_n = %d (an epoch holds at least one batch)", s.DataN))
	case !(s.LR > 0) || !finite(s.LR) || s.LR > 10:
		return bad("lr", s.LR, "want a learning rate in (0, 10]")
	case !(s.WeightDecay >= 0) || !finite(s.WeightDecay):
		return bad("weight_decay", s.WeightDecay, "want ≥ 0")
	case !(s.EMA >= 0 && s.EMA < 1):
		return bad("ema", s.EMA, "want a decay in [0, 1)")
	case s.Steps <= 0 || s.Steps > 1<<31-1:
		return bad("steps", s.Steps, "want > 0")
	case s.CkptEvery <= 0:
		return bad("checkpoint_every", s.CkptEvery, "want > 0 steps")
	case s.Keep <= 0 || s.Keep > 10000:
		return bad("keep", s.Keep, "want 1 … 10000 checkpoints")
	case !(s.ClampA >= 0) || math.IsInf(s.ClampA, 0):
		return bad("clamp_a", s.ClampA, "want ≥ 0 (0: no clamp)")
	case !(s.ClampEps >= 0) || math.IsInf(s.ClampEps, 0):
		return bad("clamp_eps", s.ClampEps, "want ≥ 0 (0: no clamp)")
	case !(s.ClipNorm >= 0) || math.IsInf(s.ClipNorm, 0):
		return bad("clip_norm", s.ClipNorm, "want ≥ 0 (0: no clipping)")
	case !(s.LRDecay >= 0 && s.LRDecay <= 1):
		return bad("lr_decay", s.LRDecay, "want [0, 1] (0 or 1: constant)")
	case s.LRDecay > 0 && s.LRDecay < 1 && s.LRDecayEvery < 1:
		return bad("lr_decay_every", s.LRDecayEvery, "want ≥ 1 step")
	case s.MinWorkers < 0 || s.MinWorkers > maxWorld:
		return bad("min_workers", s.MinWorkers, fmt.Sprintf("want 0 (unset) … %d", maxWorld))
	case s.MaxWorkers < 0 || s.MaxWorkers > maxWorld:
		return bad("max_workers", s.MaxWorkers, fmt.Sprintf("want 0 (unset) … %d", maxWorld))
	case s.MaxWorkers > 0 && s.MinWorkers > s.MaxWorkers:
		return bad("min_workers", s.MinWorkers, fmt.Sprintf("want ≤ max_workers = %d", s.MaxWorkers))
	case s.MinWorkers > 0 && s.GlobalBatch < s.MinWorkers:
		return bad("min_workers", s.MinWorkers, fmt.Sprintf("want ≤ global_batch = %d (each worker takes at least one point)", s.GlobalBatch))
	}
	if s.IsImage() {
		if err := s.UNet.validate(s.Dataset); err != nil {
			return err
		}
	}
	switch {
	case !samplers.Fits(s.Method, s.Sample.Sampler):
		return bad("sample.sampler", fmt.Sprintf("%q", s.Sample.Sampler), fmt.Sprintf("a %s model samples with one of %v", s.Method, samplers.Compatible(s.Method)))
	case s.Sample.Steps < MinSampleSteps(s.Sample.Sampler) || s.Sample.Steps > 100000:
		return bad("sample.steps", s.Sample.Steps, fmt.Sprintf("want %d … 100000 for the %s sampler", MinSampleSteps(s.Sample.Sampler), s.Sample.Sampler))
	case s.Sample.N <= 0 || s.Sample.N > 1<<24:
		return bad("sample.n", s.Sample.N, "want 1 … 16777216 points")
	case !(s.Sample.Eta >= 0 && s.Sample.Eta <= 1):
		return bad("sample.eta", s.Sample.Eta, "want [0, 1]")
	case !(s.Sample.Clip >= 0) || !finite(s.Sample.Clip):
		return bad("sample.clip", s.Sample.Clip, "want ≥ 0 (0: no clamp)")
	}
	return nil
}

// CheckWorkers reports whether the job can be split over n workers: each
// takes at least one point of the global batch. The batch need not divide
// evenly: the first global_batch mod n workers take one point more, and
// every worker weighs its gradient by its share, so that their average is
// still the global mean.
func (s Spec) CheckWorkers(n int) error {
	if n <= 0 {
		return fmt.Errorf("%w: %d workers, want ≥ 1", ErrInvalid, n)
	}
	if n > s.GlobalBatch {
		return bad("global_batch", s.GlobalBatch, fmt.Sprintf("fewer points than the %d workers (each takes at least one point per step)", n))
	}
	return nil
}

// maxWorld bounds min_workers and max_workers (wire.MaxWorld, which this
// package does not import).
const maxWorld = 4096

// Workers returns the ring size the job starts with when the coordinator
// asks for def workers (def clamped to [min_workers, max_workers]), and
// the bounds the ring may shrink to after a loss and grow to when
// workers join (lo ≥ 1, hi ≥ target). The ring grows to at most one
// worker per point of the global batch; a target past that is left for
// CheckWorkers to refuse.
func (s Spec) Workers(def int) (target, lo, hi int) {
	target = def
	if s.MaxWorkers > 0 && target > s.MaxWorkers {
		target = s.MaxWorkers
	}
	if target < s.MinWorkers {
		target = s.MinWorkers
	}
	lo, hi = max(1, s.MinWorkers), target
	if s.MaxWorkers > hi {
		hi = max(target, min(s.MaxWorkers, s.GlobalBatch))
	}
	return target, lo, hi
}

// validate checks the U-Net's size against the dataset's image size (the
// rules of unet.Config.Validate, which this package does not import).
func (u *UNet) validate(dataset string) error {
	_, size := ImageShape(dataset)
	levels := len(u.ChannelMult)
	switch {
	case u.ModelChannels < 1 || u.ModelChannels > 1024:
		return bad("unet.model_channels", u.ModelChannels, "want 1 … 1024")
	case levels == 0 || levels > 8 || size%(1<<(levels-1)) != 0:
		return bad("unet.channel_mult", u.ChannelMult, fmt.Sprintf("want 1 … 8 levels, and %d-pixel images must halve at each", size))
	case u.NumResBlocks < 1 || u.NumResBlocks > 8:
		return bad("unet.num_res_blocks", u.NumResBlocks, "want 1 … 8")
	case u.NumHeads < 1:
		return bad("unet.num_heads", u.NumHeads, "want ≥ 1")
	case !(u.Dropout >= 0 && u.Dropout < 1):
		return bad("unet.dropout", u.Dropout, "want [0, 1)")
	case u.NormGroups < 1:
		return bad("unet.norm_groups", u.NormGroups, "want ≥ 1")
	}
	if g := min(u.NormGroups, u.ModelChannels); u.ModelChannels%g != 0 {
		return bad("unet.norm_groups", u.NormGroups, fmt.Sprintf("%d channels do not split into %d groups", u.ModelChannels, g))
	}
	for _, m := range u.ChannelMult {
		ch := m * u.ModelChannels
		switch {
		case m < 1 || m > 64:
			return bad("unet.channel_mult", u.ChannelMult, "want multipliers 1 … 64")
		case ch%min(u.NormGroups, ch) != 0:
			return bad("unet.norm_groups", u.NormGroups, fmt.Sprintf("%d channels do not split into %d groups", ch, min(u.NormGroups, ch)))
		case ch%u.NumHeads != 0:
			return bad("unet.num_heads", u.NumHeads, fmt.Sprintf("%d channels do not split into %d heads", ch, u.NumHeads))
		}
	}
	for _, ds := range u.AttentionDS {
		if ds < 1 || ds > 1<<(levels-1) || ds&(ds-1) != 0 {
			return bad("unet.attention_ds", u.AttentionDS, fmt.Sprintf("want powers of two in 1 … %d", 1<<(levels-1)))
		}
	}
	return nil
}

// StepsPerEpoch is the number of full global batches in an epoch; the
// remainder of the shuffled data is dropped, so that no point is used
// twice in an epoch.
func (s Spec) StepsPerEpoch() int { return s.StepsPerEpochOf(s.DataN) }

// StepsPerEpochOf is StepsPerEpoch for a dataset of n examples (image
// jobs with data_n 0 learn n from their files).
func (s Spec) StepsPerEpochOf(n int) int { return max(1, n/s.GlobalBatch) }

// Data is the dataset configuration.
func (s Spec) Data() (data2d.Config, error) {
	c, err := data2d.DefaultConfig(s.Dataset)
	if err != nil {
		return c, err
	}
	c.N = s.DataN
	return c, nil
}

// Sampler is the sampler configuration for the job's models.
func (s Spec) Sampler() samplers.Config {
	return samplers.Config{Method: s.Sample.Sampler, Alpha: s.Alpha, Steps: s.Sample.Steps,
		Eta: s.Sample.Eta, Clip: s.Sample.Clip, ClampA: s.ClampA, ClampEps: s.ClampEps}
}

// JSON is the canonical JSON form (stored in checkpoint manifests).
func (s Spec) JSON() json.RawMessage {
	b, err := json.Marshal(s)
	if err != nil {
		panic("job: marshalling a Spec: " + err.Error())
	}
	return b
}

// FromJSON decodes a spec stored by JSON (strict) and validates it.
func FromJSON(b []byte) (Spec, error) {
	var s Spec
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Spec{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return s, s.Validate()
}
