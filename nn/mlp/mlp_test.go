package mlp

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/levy-ml/levy/nn"
)

func mseLoss(out, target *G.Node) (*G.Node, error) {
	d, err := G.Sub(out, target)
	if err != nil {
		return nil, err
	}
	sq, err := G.Square(d)
	if err != nil {
		return nil, err
	}
	return G.Mean(sq)
}

func newTrainer(t testing.TB, seed uint64) (*Model, *Trainer) {
	t.Helper()
	m, err := New(DefaultConfig(), seed)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(m, mseLoss, nn.DefaultAdamW())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.Close)
	return m, tr
}

func TestNumParams(t *testing.T) {
	c := DefaultConfig()
	if got := c.NumParams(); got != 55010 {
		t.Fatalf("NumParams = %d, want 55 010", got)
	}
	m, err := New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	total, names := 0, map[string]bool{}
	for _, p := range m.Params() {
		if size(p.Shape) != len(p.Data) {
			t.Errorf("%s: shape %v but %d values", p.Name, p.Shape, len(p.Data))
		}
		if names[p.Name] {
			t.Errorf("duplicate name %s", p.Name)
		}
		names[p.Name] = true
		total += len(p.Data)
	}
	if total != 55010 || len(m.Params()) != 4+4+5*10+2 {
		t.Errorf("Params: %d tensors, %d values; want 60, 55 010", len(m.Params()), total)
	}
	if p := m.Params()[0]; p.Name != "time.0.weight" || p.Shape[0] != 32 || p.Shape[1] != 1 {
		t.Errorf("first param %s %v, want time.0.weight [32 1]", p.Name, p.Shape)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		mut  func(*Config)
		want string
	}{
		{func(c *Config) { c.Dim = 0 }, "Dim = 0"},
		{func(c *Config) { c.Hidden = -3 }, "Hidden = -3"},
		{func(c *Config) { c.Blocks = 0 }, "Blocks = 0"},
		{func(c *Config) { c.TimeEmbed = 1 << 20 }, "TimeEmbed = 1048576"},
	} {
		cfg := DefaultConfig()
		c.mut(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate() = %v, want an error naming %q", err, c.want)
		}
		if _, err := New(cfg, 1); err == nil {
			t.Errorf("New accepted %+v", cfg)
		}
	}
}

// TestInitIsPyTorchDefault checks the bounds of the initial weights.
func TestInitIsPyTorchDefault(t *testing.T) {
	m, _ := New(DefaultConfig(), 9)
	for _, p := range m.Params() {
		switch {
		case strings.Contains(p.Name, "norm") && strings.HasSuffix(p.Name, "weight"):
			for _, v := range p.Data {
				if v != 1 {
					t.Fatalf("%s = %v, want 1", p.Name, v)
				}
			}
		case strings.Contains(p.Name, "norm"):
			for _, v := range p.Data {
				if v != 0 {
					t.Fatalf("%s = %v, want 0", p.Name, v)
				}
			}
		default:
			wname := strings.TrimSuffix(strings.TrimSuffix(p.Name, ".bias"), ".weight") + ".weight"
			var fanIn int
			for _, q := range m.Params() {
				if q.Name == wname {
					fanIn = q.Shape[1]
				}
			}
			bound := float32(1 / math.Sqrt(float64(fanIn)))
			var maxAbs float32
			for _, v := range p.Data {
				maxAbs = max(maxAbs, float32(math.Abs(float64(v))))
			}
			if maxAbs > bound || (len(p.Data) >= 64 && maxAbs < bound/2) {
				t.Errorf("%s: max |w| = %v, bound 1/√%d = %v", p.Name, maxAbs, fanIn, bound)
			}
		}
	}
}

// fdCheck compares the symbolic gradient of a float64 graph's loss with
// respect to each of wrt against central differences at up to k random
// elements per tensor.
func fdCheck(t *testing.T, g *G.ExprGraph, loss *G.Node, wrt, grads G.Nodes, k int, tol float64) {
	t.Helper()
	if grads == nil {
		var err error
		if grads, err = G.Grad(loss, wrt...); err != nil {
			t.Fatal(err)
		}
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	run := func() float64 {
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		return loss.Value().Data().(float64)
	}
	run()
	analytic := make([][]float64, len(wrt))
	for i, gn := range grads {
		analytic[i] = append([]float64(nil), gn.Value().Data().([]float64)...)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	const h = 1e-6
	worst := 0.0
	for i, n := range wrt {
		w := n.Value().Data().([]float64)
		for range min(k, len(w)) {
			j := rng.IntN(len(w))
			old := w[j]
			w[j] = old + h
			lp := run()
			w[j] = old - h
			lm := run()
			w[j] = old
			fd := (lp - lm) / (2 * h)
			err := math.Abs(fd-analytic[i][j]) / max(1e-3, math.Abs(fd)+math.Abs(analytic[i][j]))
			worst = max(worst, err)
			if err > tol {
				t.Errorf("%s[%d]: analytic %.10g, finite difference %.10g (rel err %.2g)", n.Name(), j, analytic[i][j], fd, err)
			}
		}
	}
	t.Logf("worst relative error %.2g over %d tensors", worst, len(wrt))
}

// TestGradientWholeNetwork differentiates the whole network, in float64,
// through the same ops and kernels as training, against central
// differences on every parameter tensor.
func TestGradientWholeNetwork(t *testing.T) {
	m, _ := New(DefaultConfig(), 3)
	// Make LayerNorm's gains and biases non-trivial so their gradients are tested in general position.
	rng := rand.New(rand.NewPCG(8, 8))
	for _, p := range m.Params() {
		if strings.Contains(p.Name, "norm") {
			for i := range p.Data {
				p.Data[i] += float32(0.3 * rng.NormFloat64())
			}
		}
	}
	const n = 7
	sg, err := buildStepGraph(m, mseLoss, n, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	x, tau, tg := batch(n, 4)
	for i, d := range [][]float32{x, tau, tg} {
		dst := sg.nodes[i].Value().Data().([]float64)
		for j, v := range d {
			dst[j] = float64(v)
		}
	}
	fdCheck(t, sg.g, sg.loss, sg.params, sg.grads, 4, 1e-6)
}

// TestGradientOps checks each custom op on its own (loss = Σ op(·)⊙R).
func TestGradientOps(t *testing.T) {
	const n, in, h = 6, 5, 8
	lnRecompute, addRecompute := newLNAct[float64](n, h, true), newAddAct[float64](n, h, 2, true)
	lnRecompute.sig.keep, addRecompute.sig.keep = false, false // σ recomputed in the backward pass
	for _, c := range []struct {
		name   string
		shapes [][]int
		fn     nn.Fn[float64]
	}{
		{"Linear", [][]int{{n, in}, {h, in}, {h}}, &linearFn[float64]{n: n, in: in, out: h}},
		{"LayerNorm+SiLU", [][]int{{n, h}, {h}, {h}}, newLNAct[float64](n, h, true)},
		{"LayerNorm+SiLU/recompute", [][]int{{n, h}, {h}, {h}}, lnRecompute},
		{"LayerNorm", [][]int{{n, h}, {h}, {h}}, newLNAct[float64](n, h, false)},
		{"SiLU", [][]int{{n, h}}, newAddAct[float64](n, h, 1, true)},
		{"AddSiLU", [][]int{{n, h}, {n, h}}, newAddAct[float64](n, h, 2, true)},
		{"AddSiLU/recompute", [][]int{{n, h}, {n, h}}, addRecompute},
		{"Add", [][]int{{n, h}, {n, h}}, newAddAct[float64](n, h, 2, false)},
	} {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(len(c.name))))
			g := G.NewGraph()
			var ins G.Nodes
			for i, s := range c.shapes {
				v := tensor.New(tensor.WithShape(s...), tensor.WithBacking(randSlice(rng, size(s))))
				ins = append(ins, G.NewTensor(g, tensor.Float64, len(s), G.WithShape(s...), G.WithValue(v),
					G.WithName(string(rune('a'+i)))))
			}
			y, err := nn.Apply(c.fn, ins...)
			if err != nil {
				t.Fatal(err)
			}
			r := G.NewTensor(g, tensor.Float64, 2, G.WithShape(y.Shape()...), G.WithName("R"),
				G.WithValue(tensor.New(tensor.WithShape(y.Shape()...), tensor.WithBacking(randSlice(rng, y.Shape().TotalSize())))))
			prod, err := G.HadamardProd(y, r)
			if err != nil {
				t.Fatal(err)
			}
			loss, err := G.Sum(prod)
			if err != nil {
				t.Fatal(err)
			}
			fdCheck(t, g, loss, ins, nil, 12, 1e-6)
		})
	}
}

func randSlice(rng *rand.Rand, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = rng.NormFloat64()
	}
	return s
}

// TestDenoiseMatchesGraph compares the fast forward with the training
// graph's output, for per-point times and for one shared time.
func TestDenoiseMatchesGraph(t *testing.T) {
	// The loss's stock ops may overwrite the output buffer in place, so
	// the output is copied out by a Read node as the tape passes it.
	var captured G.Value
	m, err := New(DefaultConfig(), 11)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(m, func(out, target *G.Node) (*G.Node, error) {
		G.Read(out, &captured)
		return mseLoss(out, target)
	}, nn.DefaultAdamW())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for s := range 5 {
		x, tau, tg := batch(300, uint64(s))
		if _, err := tr.Step(x, tau, tg); err != nil {
			t.Fatal(err)
		}
	}
	const n = 301
	x, tau, tg := batch(n, 99)
	for _, shared := range []bool{false, true} {
		if shared {
			for i := range tau {
				tau[i] = 0.37
			}
		}
		sg, err := tr.graph(n)
		if err != nil {
			t.Fatal(err)
		}
		captured = nil
		if _, err := sg.run(x, tau, tg); err != nil {
			t.Fatal(err)
		}
		want := captured.Data().([]float32)
		got := make([]float32, 2*n)
		if err := m.Denoise(got, x, tau); err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*(1+math.Abs(float64(want[i]))) {
				t.Fatalf("shared τ %v: Denoise[%d] = %v, graph %v", shared, i, got[i], want[i])
			}
		}
		tr.Apply() // the graph run accumulated gradients; drop them with a step
	}
	if err := m.Denoise(make([]float32, 3), x[:4], tau[:2]); err == nil {
		t.Error("Denoise accepted mismatched lengths")
	}
}

// TestTrainingLossDrops fits a fixed function of (x, τ).
func TestTrainingLossDrops(t *testing.T) {
	_, tr := newTrainer(t, 2)
	x, tau, tg := batch(512, 1)
	first, err := tr.Step(x, tau, tg)
	if err != nil {
		t.Fatal(err)
	}
	var last float64
	for range 300 {
		if last, err = tr.Step(x, tau, tg); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("loss %.4g → %.4g", first, last)
	if !(last < first/50) {
		t.Errorf("loss went %.4g → %.4g, want a drop by 50×", first, last)
	}
}

func TestSameSeedBitIdentical(t *testing.T) {
	train := func(seed uint64) []float32 {
		m, tr := newTrainer(t, seed)
		for s := range 15 {
			x, tau, tg := batch(1024-s*37, uint64(s))
			if _, err := tr.Step(x, tau, tg); err != nil {
				t.Fatal(err)
			}
		}
		return append([]float32(nil), m.flat...)
	}
	a, b, c := train(4), train(4), train(5)
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("same seed: weight %d differs: %v vs %v", i, a[i], b[i])
		}
	}
	same := 0
	for i := range a {
		if a[i] == c[i] {
			same++
		}
	}
	if same > len(a)/2 {
		t.Errorf("seeds 4 and 5 share %d of %d weights", same, len(a))
	}
}

func TestNonFiniteInputLeavesWeights(t *testing.T) {
	m, tr := newTrainer(t, 6)
	x, tau, tg := batch(64, 1)
	if _, err := tr.Step(x, tau, tg); err != nil {
		t.Fatal(err)
	}
	before := append([]float32(nil), m.flat...)
	for name, poison := range map[string]func(){
		"x":      func() { x[5] = float32(math.NaN()) },
		"tau":    func() { tau[3] = float32(math.Inf(1)) },
		"target": func() { tg[0] = float32(math.NaN()) },
	} {
		x, tau, tg = batch(64, 1)
		poison()
		_, err := tr.Step(x, tau, tg)
		if !errors.Is(err, nn.ErrNonFinite) {
			t.Errorf("NaN/Inf in %s: err = %v, want nn.ErrNonFinite", name, err)
		}
		for i := range before {
			if math.Float32bits(before[i]) != math.Float32bits(m.flat[i]) {
				t.Fatalf("NaN in %s changed weight %d", name, i)
			}
		}
		for _, p := range tr.Grads() {
			for _, v := range p.Data {
				if v != 0 {
					t.Fatalf("NaN in %s left gradients in %s", name, p.Name)
				}
			}
		}
	}
	x, tau, tg = batch(64, 1)
	if _, err := tr.Step(x, tau, tg); err != nil {
		t.Errorf("clean batch after NaN batches: %v", err)
	}
}

// TestTwoBatchSizes alternates full and partial batches.
func TestTwoBatchSizes(t *testing.T) {
	_, tr := newTrainer(t, 7)
	for _, n := range []int{1024, 333, 1024, 1, 333} {
		x, tau, tg := batch(n, uint64(n))
		if _, err := tr.Step(x, tau, tg); err != nil {
			t.Fatalf("batch %d: %v", n, err)
		}
	}
	if len(tr.graphs) != 3 {
		t.Errorf("%d graphs cached, want 3", len(tr.graphs))
	}
	if _, err := tr.Step(make([]float32, 3), make([]float32, 2), make([]float32, 4)); err == nil {
		t.Error("Step accepted mismatched lengths")
	}
}

// TestGradsAliasAndState: Grads can be rewritten in place before Apply,
// and State/SetState resume bit-identically.
func TestGradsAliasAndState(t *testing.T) {
	m, tr := newTrainer(t, 8)
	x, tau, tg := batch(128, 3)
	if _, err := tr.Gradients(x, tau, tg); err != nil {
		t.Fatal(err)
	}
	for _, p := range tr.Grads() {
		clear(p.Data) // an all-reduce could write here; zero gradient ⇒ pure decay
	}
	before := append([]float32(nil), m.flat...)
	if err := tr.Apply(); err != nil {
		t.Fatal(err)
	}
	decay := 1 - 5e-3*0.01
	for i := range before {
		if want := float32(float64(before[i]) * decay); m.flat[i] != want {
			t.Fatalf("weight %d: %v after a zero-gradient step, want %v", i, m.flat[i], want)
		}
	}

	for s := range 3 {
		x, tau, tg := batch(128, uint64(10+s))
		if _, err := tr.Step(x, tau, tg); err != nil {
			t.Fatal(err)
		}
	}
	st, w := tr.State(), append([]float32(nil), m.flat...)
	cont := func(tr *Trainer, m *Model) []float32 {
		for s := range 3 {
			x, tau, tg := batch(128, uint64(20+s))
			if _, err := tr.Step(x, tau, tg); err != nil {
				t.Fatal(err)
			}
		}
		return append([]float32(nil), m.flat...)
	}
	a := cont(tr, m)
	m2, tr2 := newTrainer(t, 99)
	copy(m2.flat, w)
	if err := tr2.SetState(st); err != nil {
		t.Fatal(err)
	}
	b := cont(tr2, m2)
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("resumed run differs at weight %d: %v vs %v", i, a[i], b[i])
		}
	}
	if st.Step != 4 || len(st.M) != 60 {
		t.Errorf("State: Step %d, %d tensors; want 4, 60", st.Step, len(st.M))
	}
	st.M[3] = st.M[3][:1]
	if err := tr2.SetState(st); err == nil {
		t.Error("SetState accepted a short moment tensor")
	}
}
