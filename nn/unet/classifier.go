package unet

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/levy-ml/levy/nn"
)

// Classifier is a small convolutional image classifier whose penultimate
// features give levy's image-quality metrics (Fréchet distance, k-NN
// precision/recall): a 3×3 stem, then stride-2 convolutions, each
// followed by GroupNorm and SiLU, a global average pool to Features
// values, and a linear layer to the classes. It is levy's own metric
// network, not Inception-v3: its distances are not comparable to FID.
type Classifier struct {
	cfg    ClassifierConfig
	flat   []float32
	params []nn.Param
}

// ClassifierConfig sizes a Classifier.
type ClassifierConfig struct {
	ImageSize  int   `json:"image_size"`
	InChannels int   `json:"in_channels"`
	Channels   []int `json:"channels"` // stem, then one stride-2 stage per entry after it
	Classes    int   `json:"classes"`
	NormGroups int   `json:"norm_groups"`
}

// DefaultClassifierConfig is the Fashion-MNIST classifier: 32×32×1
// images, channels 32 → 64 → 64 → 128 (32², 16², 8², 4²), 10 classes.
func DefaultClassifierConfig() ClassifierConfig {
	return ClassifierConfig{ImageSize: 32, InChannels: 1, Channels: []int{32, 64, 64, 128}, Classes: 10, NormGroups: 8}
}

// Features is the width of the penultimate layer.
func (c ClassifierConfig) Features() int { return c.Channels[len(c.Channels)-1] }

// Validate reports the first bad field.
func (c ClassifierConfig) Validate() error {
	switch {
	case c.InChannels < 1 || c.Classes < 2 || len(c.Channels) < 1 || c.NormGroups < 1:
		return fmt.Errorf("unet: ClassifierConfig %+v: want ≥ 1 input channel, ≥ 2 classes, ≥ 1 stage, ≥ 1 group", c)
	case c.ImageSize < 1<<(len(c.Channels)-1) || c.ImageSize%(1<<(len(c.Channels)-1)) != 0:
		return fmt.Errorf("unet: ClassifierConfig.ImageSize = %d: must halve %d times", c.ImageSize, len(c.Channels)-1)
	}
	for _, ch := range c.Channels {
		if ch < 1 || ch%min(c.NormGroups, ch) != 0 {
			return fmt.Errorf("unet: ClassifierConfig.Channels = %v: each must split into %d groups", c.Channels, c.NormGroups)
		}
	}
	return nil
}

// NewClassifier returns a classifier initialised from seed.
func NewClassifier(cfg ClassifierConfig, seed uint64) (*Classifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := &builder[float64]{g: nn.NewGraph(), cfg: Config{NormGroups: cfg.NormGroups}, B: 1, collect: true}
	classifierNet(b, cfg)
	if b.err != nil {
		return nil, b.err
	}
	c := &Classifier{cfg: cfg}
	m := &Model{}
	m.specs = b.specs
	initParams(m, seed)
	c.flat, c.params = m.flat, m.params
	return c, nil
}

// Config returns the configuration.
func (c *Classifier) Config() ClassifierConfig { return c.cfg }

// Params returns the weights in a fixed order (aliased).
func (c *Classifier) Params() []nn.Param { return append([]nn.Param(nil), c.params...) }

// classifierNet builds the network; it returns the data node, the
// features [B, Features] and the logits [B, Classes].
func classifierNet[F float](b *builder[F], cfg ClassifierConfig) (x, feats, logits *G.Node) {
	dt := nn.Dtype[F]()
	s := cfg.ImageSize
	x = G.NewTensor(b.g, dt, 4, G.WithShape(b.B, cfg.InChannels, s, s), G.WithName("x"),
		G.WithValue(tensor.New(tensor.Of(dt), tensor.WithShape(b.B, cfg.InChannels, s, s))))
	h := b.conv("stem", x, cfg.Channels[0], 3, 1, initUniform, true)
	h = b.norm("stem_norm", h, nil, true)
	for i, ch := range cfg.Channels[1:] {
		h = b.conv(fmt.Sprintf("stage.%d.conv", i), h, ch, 3, 2, initUniform, false)
		h = b.norm(fmt.Sprintf("stage.%d.norm", i), h, nil, true)
	}
	if b.err != nil {
		return x, nil, nil
	}
	c, hh, ww := shapeOf(h)
	feats = b.op(&poolFn[F]{B: b.B, C: c, P: hh * ww}, h)
	logits = b.linear("head", feats, cfg.Classes, false)
	return x, feats, logits
}

// initParams fills m.flat and m.params from m.specs (see New).
func initParams(m *Model, seed uint64) {
	n := 0
	for _, s := range m.specs {
		n += size(s.shape)
	}
	m.flat = make([]float32, n)
	rng := rand.New(rand.NewPCG(seed, 0x756e6574))
	off := 0
	for _, s := range m.specs {
		k := size(s.shape)
		d := m.flat[off : off+k : off+k]
		switch s.init {
		case initUniform:
			bound := 1 / math.Sqrt(float64(s.fanIn))
			for i := range d {
				d[i] = float32((2*rng.Float64() - 1) * bound)
			}
		case initOne:
			for i := range d {
				d[i] = 1
			}
		}
		m.params = append(m.params, nn.Param{Name: s.name, Shape: append([]int(nil), s.shape...), Data: d})
		off += k
	}
}

// classifierGraph is a classifier's graph for one batch size.
type classifierGraph struct {
	x, onehot, feats, logits, loss *G.Node
	grads                          G.Nodes
	vm                             G.VM
}

func buildClassifierGraph(c *Classifier, n int, train bool) (*classifierGraph, error) {
	b := &builder[float32]{g: nn.NewGraph(), cfg: Config{NormGroups: c.cfg.NormGroups}, B: n}
	for _, p := range c.params {
		b.values = append(b.values, tensor.New(tensor.WithShape(p.Shape...), tensor.WithBacking(p.Data)))
	}
	x, feats, logits := classifierNet(b, c.cfg)
	if b.err != nil {
		return nil, b.err
	}
	cg := &classifierGraph{x: x, feats: feats, logits: logits}
	if train {
		cg.onehot = G.NewMatrix(b.g, tensor.Float32, G.WithShape(n, c.cfg.Classes), G.WithName("onehot"),
			G.WithValue(tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(n, c.cfg.Classes))))
		ce := b.op(&xentFn[float32]{n: n, k: c.cfg.Classes}, logits, cg.onehot)
		if b.err != nil {
			return nil, b.err
		}
		var err error
		if cg.loss, err = G.Sum(ce); err != nil {
			return nil, err
		}
		if cg.grads, err = G.Grad(cg.loss, b.params...); err != nil {
			return nil, fmt.Errorf("unet: differentiating the classifier: %w", err)
		}
	}
	cg.vm = G.NewTapeMachine(b.g)
	return cg, nil
}

// ClassifierTrainer trains a Classifier with AdamW on cross-entropy.
type ClassifierTrainer struct {
	c      *Classifier
	opt    nn.AdamW
	graphs map[int]*classifierGraph
	state  *nn.Optimizer
}

// NewClassifierTrainer returns a trainer of c.
func NewClassifierTrainer(c *Classifier, opt nn.AdamW) (*ClassifierTrainer, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	return &ClassifierTrainer{c: c, opt: opt, graphs: map[int]*classifierGraph{},
		state: nn.NewOptimizer(c.flat, c.params)}, nil
}

// Step trains on a batch x [n, C, H, W] with labels [n] and returns the
// mean cross-entropy.
func (t *ClassifierTrainer) Step(x []float32, labels []int) (float64, error) {
	n := len(labels)
	cg, ok := t.graphs[n]
	if !ok {
		var err error
		if cg, err = buildClassifierGraph(t.c, n, true); err != nil {
			return 0, err
		}
		t.graphs[n] = cg
	}
	copy(cg.x.Value().Data().([]float32), x)
	oh := cg.onehot.Value().Data().([]float32)
	clear(oh)
	k := t.c.cfg.Classes
	for i, l := range labels {
		if l < 0 || l >= k {
			return 0, fmt.Errorf("unet: label %d of example %d: want 0 … %d", l, i, k-1)
		}
		oh[i*k+l] = 1
	}
	cg.vm.Reset()
	if err := cg.vm.RunAll(); err != nil {
		return 0, err
	}
	loss := float64(cg.loss.Value().Data().(float32))
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, fmt.Errorf("%w: classifier loss %v", nn.ErrNonFinite, loss)
	}
	grad, off := t.state.Gradient(), 0
	for _, g := range cg.grads {
		d := g.Value().Data().([]float32)
		copy(grad[off:], d)
		off += len(d)
	}
	t.state.Apply(t.opt)
	return loss, nil
}

// SetLR changes the learning rate of the following steps.
func (t *ClassifierTrainer) SetLR(lr float64) { t.opt.LR = lr }

// Close releases the graphs.
func (t *ClassifierTrainer) Close() {
	for n, g := range t.graphs {
		g.vm.Close()
		delete(t.graphs, n)
	}
}

// FeatureNet is a network that maps images to feature vectors: levy's
// Classifier, or any network of the same interface (say Inception-v3
// loaded from safetensors) for standard FID.
type FeatureNet interface {
	// Features writes the features [n, Dim()] of images x [n, C, H, W]
	// (values in [−1, 1]) into dst.
	Features(dst, x []float32, n int) error
	Dim() int
}

// Eval runs a classifier forward in batches.
type Eval struct {
	c      *Classifier
	graphs map[int]*classifierGraph
}

// NewEval returns a forward evaluator of c (a FeatureNet).
func NewEval(c *Classifier) *Eval { return &Eval{c: c, graphs: map[int]*classifierGraph{}} }

// Dim is the feature width.
func (e *Eval) Dim() int { return e.c.cfg.Features() }

func (e *Eval) run(x []float32, n int) (*classifierGraph, error) {
	cg, ok := e.graphs[n]
	if !ok {
		var err error
		if cg, err = buildClassifierGraph(e.c, n, false); err != nil {
			return nil, err
		}
		e.graphs[n] = cg
	}
	copy(cg.x.Value().Data().([]float32), x)
	cg.vm.Reset()
	if err := cg.vm.RunAll(); err != nil {
		return nil, err
	}
	return cg, nil
}

const evalChunk = 64

// Features implements FeatureNet.
func (e *Eval) Features(dst, x []float32, n int) error {
	return e.each(x, n, func(cg *classifierGraph, lo, hi int) {
		copy(dst[lo*e.Dim():hi*e.Dim()], cg.feats.Value().Data().([]float32))
	})
}

// Predict writes the most likely class of each image.
func (e *Eval) Predict(dst []int, x []float32, n int) error {
	k := e.c.cfg.Classes
	return e.each(x, n, func(cg *classifierGraph, lo, hi int) {
		l := cg.logits.Value().Data().([]float32)
		for i := lo; i < hi; i++ {
			row := l[(i-lo)*k : (i-lo+1)*k]
			best := 0
			for j, v := range row {
				if v > row[best] {
					best = j
				}
			}
			dst[i] = best
		}
	})
}

func (e *Eval) each(x []float32, n int, f func(cg *classifierGraph, lo, hi int)) error {
	if n == 0 || len(x)%n != 0 {
		return errors.New("unet: classifier: empty or ragged batch")
	}
	d := len(x) / n
	for lo := 0; lo < n; lo += evalChunk {
		hi := min(n, lo+evalChunk)
		cg, err := e.run(x[lo*d:hi*d], hi-lo)
		if err != nil {
			return err
		}
		f(cg, lo, hi)
	}
	return nil
}

// Close releases the graphs.
func (e *Eval) Close() {
	for n, g := range e.graphs {
		g.vm.Close()
		delete(e.graphs, n)
	}
}

// poolFn: [B,C,H,W] → [B,C], the mean over positions.
type poolFn[F float] struct{ B, C, P int }

func (f *poolFn[F]) String() string { return "GlobalAvgPool" }
func (f *poolFn[F]) Diff() []bool   { return []bool{true} }
func (f *poolFn[F]) Shape(in []tensor.Shape) (tensor.Shape, error) {
	if in[0].TotalSize() != f.B*f.C*f.P {
		return nil, fmt.Errorf("unet: GlobalAvgPool: shape %v", in[0])
	}
	return tensor.Shape{f.B, f.C}, nil
}
func (f *poolFn[F]) Forward(out []F, in [][]F) {
	for i := range f.B * f.C {
		var s F
		for _, v := range in[0][i*f.P : (i+1)*f.P] {
			s += v
		}
		out[i] = s / F(f.P)
	}
}
func (f *poolFn[F]) Backward(d [][]F, dy, _ []F, _ [][]F) {
	for i := range f.B * f.C {
		g := dy[i] / F(f.P)
		row := d[0][i*f.P : (i+1)*f.P]
		for j := range row {
			row[j] = g
		}
	}
}

// xentFn: (logits [n,k], onehot [n,k]) → [1]: the mean softmax
// cross-entropy.
type xentFn[F float] struct{ n, k int }

func (f *xentFn[F]) String() string { return "CrossEntropy" }
func (f *xentFn[F]) Diff() []bool   { return []bool{true, false} }
func (f *xentFn[F]) Shape(in []tensor.Shape) (tensor.Shape, error) {
	if !in[0].Eq(tensor.Shape{f.n, f.k}) || !in[1].Eq(tensor.Shape{f.n, f.k}) {
		return nil, fmt.Errorf("unet: CrossEntropy: shapes %v, %v", in[0], in[1])
	}
	return tensor.Shape{1}, nil
}

// logSoftmax writes log p of a row.
func logSoftmax[F float](dst, row []F) {
	mx := row[0]
	for _, v := range row {
		mx = max(mx, v)
	}
	var s float64
	for _, v := range row {
		s += math.Exp(float64(v - mx))
	}
	lse := mx + F(math.Log(s))
	for j, v := range row {
		dst[j] = v - lse
	}
}

func (f *xentFn[F]) Forward(out []F, in [][]F) {
	lp := make([]F, f.k)
	var total float64
	for i := range f.n {
		logSoftmax(lp, in[0][i*f.k:(i+1)*f.k])
		for j, y := range in[1][i*f.k : (i+1)*f.k] {
			total -= float64(y * lp[j])
		}
	}
	out[0] = F(total / float64(f.n))
}
func (f *xentFn[F]) Backward(d [][]F, dy, _ []F, in [][]F) {
	lp := make([]F, f.k)
	g := dy[0] / F(f.n)
	for i := range f.n {
		logSoftmax(lp, in[0][i*f.k:(i+1)*f.k])
		for j, y := range in[1][i*f.k : (i+1)*f.k] {
			d[0][i*f.k+j] = g * (F(math.Exp(float64(lp[j]))) - y)
		}
	}
}
