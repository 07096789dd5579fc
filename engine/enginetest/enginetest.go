package enginetest

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/levy-ml/levy/checkpoint"
	"github.com/levy-ml/levy/engine"
	"github.com/levy-ml/levy/job"
	"github.com/levy-ml/levy/losses"
	"github.com/levy-ml/levy/noise"
)

// Suite says what Run checks.
type Suite struct {
	// Spec is the job the engines are made for.
	Spec job.Spec
	// New makes the engine under test. The suite passes Device −1; a
	// GPU engine's test sets its device before calling engine.New.
	New func(engine.Config) (engine.Engine, error)
	// Tolerance bounds the relative error of the loss and the gradient
	// against engine.NewCPU (default CPUTolerance).
	Tolerance float64
	// Steps and Batch size the training check (default 100 and 256).
	Steps, Batch int
	// Decrease bounds the mean loss of the last ten training steps as a
	// fraction of the first ten's (default 0.8).
	Decrease float64
}

// The tolerances of the Reference check. A float32 CPU engine sums in
// the reference's order or close to it: 1e-5 leaves room for a
// reordering of float32 sums over a few thousand terms (ε = 6e-8), and
// is far below what a wrong kernel gives. A GPU engine sums in another
// order, in fused kernels: issue 14 sets 1e-4.
const (
	CPUTolerance = 1e-5
	GPUTolerance = 1e-4
)

// TwoD is the default 2-D job (the MLP).
func TwoD() job.Spec { return job.Default() }

// TinyImage is an image job with a U-Net small enough that the suite
// runs in seconds (with dropout, so that Step matters).
func TinyImage() job.Spec {
	s := job.DefaultImage(job.FashionMNIST)
	s.Name, s.LR = "tiny-unet", 3e-3
	s.UNet = &job.UNet{ModelChannels: 8, ChannelMult: []int{1, 2}, NumResBlocks: 1, AttentionDS: []int{2},
		NumHeads: 2, NormGroups: 4, Dropout: 0.1}
	return s
}

// reserve is the caller's floats the suite asks for.
const reserve = 3

// Run runs the conformance checks on s.New as subtests of t.
func Run(t *testing.T, s Suite) {
	if s.Tolerance == 0 {
		s.Tolerance = CPUTolerance
	}
	if s.Steps == 0 {
		s.Steps = 100
	}
	if s.Batch == 0 {
		s.Batch = 256
	}
	if s.Decrease == 0 {
		s.Decrease = 0.8
	}
	d, err := newData(s.Spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("Layout", func(t *testing.T) { testLayout(t, s) })
	t.Run("Train", func(t *testing.T) { testTrain(t, s, d) })
	t.Run("Protocol", func(t *testing.T) { testProtocol(t, s, d) })
	t.Run("Checkpoint", func(t *testing.T) { testCheckpoint(t, s, d) })
	t.Run("NonFinite", func(t *testing.T) { testNonFinite(t, s, d) })
	t.Run("Reference", func(t *testing.T) { testReference(t, s, d) })
}

// data makes the batches: the 2-D job's points, or a few fixed images,
// noised as the job's method does, all drawn from (seed, step).
type data struct {
	spec  job.Spec
	dim   int
	clean []float32
	nz    *losses.Noiser
}

func newData(spec job.Spec) (*data, error) {
	d := &data{spec: spec, dim: spec.Dim()}
	var err error
	if d.nz, err = losses.NewNoiser(engine.NoiseConfig(spec)); err != nil {
		return nil, err
	}
	if !spec.IsImage() {
		d.clean, err = engine.Points(spec)
		return d, err
	}
	const images = 8 // smooth patterns in [−1, 1]
	for k := range images {
		for p := range d.dim {
			d.clean = append(d.clean, float32(math.Sin(float64((k+1)*p)*0.05+float64(k))))
		}
	}
	return d, nil
}

// batch is the batch of n examples of step.
func (d *data) batch(step, n int) engine.Batch {
	rng := noise.Stream(d.spec.Seed, 0x656e67, uint64(step))
	b := engine.Batch{X: make([]float32, n*d.dim), Tau: make([]float32, n), Target: make([]float32, n*d.dim)}
	x0 := make([]float32, n*d.dim)
	m := len(d.clean) / d.dim
	for i := range n {
		j := rng.IntN(m)
		copy(x0[i*d.dim:(i+1)*d.dim], d.clean[j*d.dim:(j+1)*d.dim])
	}
	d.nz.Prepare(rng, x0, d.dim, b.X, b.Tau, b.Target)
	return b
}

func newEngine(t *testing.T, s Suite) engine.Engine {
	t.Helper()
	e, err := s.New(engine.Config{Spec: s.Spec, Device: -1, Reserve: reserve})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	})
	return e
}

// step runs one training step (Backward, Apply) of step on batch n.
func step(t *testing.T, e engine.Engine, d *data, i, n int) float64 {
	t.Helper()
	loss, err := e.Backward(engine.Step{Index: int64(i)}, d.batch(i, n), nil)
	if err != nil {
		t.Fatalf("step %d: %v", i, err)
	}
	if err := e.Apply(); err != nil {
		t.Fatalf("step %d: %v", i, err)
	}
	return loss
}

// smallBatch is the batch of the checks that take a few steps.
func smallBatch(s Suite) int { return min(s.Batch, 16) }

func testLayout(t *testing.T, s Suite) {
	e := newEngine(t, s)
	l := e.Layout()
	off := 0
	for _, p := range l.Params {
		n := 1
		for _, k := range p.Shape {
			n *= k
		}
		if p.Offset != off || p.Len != n || p.Len == 0 {
			t.Fatalf("parameter %s: offset %d, %d values, shape %v; want offset %d and the shape's size", p.Name, p.Offset, p.Len, p.Shape, off)
		}
		off += p.Len
	}
	if off != l.Size || l.Reserve != reserve {
		t.Fatalf("Size %d, Reserve %d: the parameters hold %d, the suite asked for %d", l.Size, l.Reserve, off, reserve)
	}
	b := e.Buckets()
	if len(b) != len(l.Buckets) || len(b) == 0 {
		t.Fatalf("%d buckets, the layout has %d", len(b), len(l.Buckets))
	}
	lo := 0
	for i, r := range l.Buckets {
		want := r.Hi - r.Lo
		if i == len(b)-1 {
			want += reserve
		}
		if r.Lo != lo || r.Hi <= r.Lo || len(b[i]) != want {
			t.Fatalf("bucket %d: range %v, %d floats; want from %d, %d floats", i, r, len(b[i]), lo, want)
		}
		lo = r.Hi
	}
	if lo != l.Size {
		t.Fatalf("the buckets end at %d, the gradient at %d", lo, l.Size)
	}
	var st engine.State
	if err := e.Snapshot(&st); err != nil {
		t.Fatal(err)
	}
	for _, ts := range [][]engine.Tensor{st.Params, st.EMA, st.M, st.V} {
		if len(ts) != len(l.Params) {
			t.Fatalf("Snapshot has %d tensors, the layout %d", len(ts), len(l.Params))
		}
		for i, p := range l.Params {
			if ts[i].Name != p.Name || len(ts[i].Data) != p.Len {
				t.Fatalf("Snapshot tensor %d is %q of %d values, want %q of %d", i, ts[i].Name, len(ts[i].Data), p.Name, p.Len)
			}
		}
	}
}

func testTrain(t *testing.T, s Suite, d *data) {
	e := newEngine(t, s)
	losses := make([]float64, s.Steps)
	for i := range losses {
		losses[i] = step(t, e, d, i, s.Batch)
		if math.IsNaN(losses[i]) || math.IsInf(losses[i], 0) {
			t.Fatalf("step %d: loss %v", i, losses[i])
		}
	}
	k := min(10, s.Steps/2)
	first, last := mean(losses[:k]), mean(losses[len(losses)-k:])
	t.Logf("mean loss: first %d steps %.4f, last %d %.4f (ratio %.3f)", k, first, k, last, last/first)
	if !(last < s.Decrease*first) {
		t.Fatalf("mean loss of the last %d steps %.4f, want < %.2f × %.4f (the first %d)", k, last, s.Decrease, first, k)
	}
}

func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

func testProtocol(t *testing.T, s Suite, d *data) {
	e := newEngine(t, s)
	b := e.Buckets()
	tail := b[len(b)-1][len(b[len(b)-1])-reserve:]
	sentinel := []float32{1.5, float32(math.NaN()), -7}
	copy(tail, sentinel)
	n := smallBatch(s)
	for i := range 2 {
		var seen []int
		returned := false
		if _, err := e.Backward(engine.Step{Index: int64(i), Rank: 1}, d.batch(i, n), func(k int) {
			if returned {
				t.Errorf("ready(%d) after Backward returned", k)
			}
			seen = append(seen, k)
		}); err != nil {
			t.Fatal(err)
		}
		returned = true
		if len(seen) != len(b) {
			t.Fatalf("ready called for buckets %v, want each of %d once", seen, len(b))
		}
		for k, v := range seen {
			if v != k {
				t.Fatalf("ready called for buckets %v, want 0 … %d in order", seen, len(b)-1)
			}
		}
		if i == 0 {
			e.ZeroGrad()
			for k, r := range e.Layout().Buckets {
				for _, v := range b[k][:r.Hi-r.Lo] {
					if v != 0 {
						t.Fatalf("bucket %d holds %v after ZeroGrad", k, v)
					}
				}
			}
		} else if err := e.Apply(); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range tail {
		if math.Float32bits(v) != math.Float32bits(sentinel[k]) {
			t.Fatalf("the caller's reserve holds %v, want %v untouched", tail, sentinel)
		}
	}
}

func testCheckpoint(t *testing.T, s Suite, d *data) {
	n := smallBatch(s)
	a := newEngine(t, s)
	for i := range 3 {
		step(t, a, d, i, n)
	}
	var st engine.State
	if err := a.Snapshot(&st); err != nil {
		t.Fatal(err)
	}
	m := checkpoint.Manifest{Job: s.Spec.JSON(), Step: 3}
	dir, err := checkpoint.Save(t.TempDir(), m, engine.Files(s.Spec, st), 1)
	if err != nil {
		t.Fatal(err)
	}
	c, err := checkpoint.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := newEngine(t, s)
	read, err := engine.ReadState(b.Layout(), c)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Restore(read); err != nil {
		t.Fatal(err)
	}
	var back engine.State
	if err := b.Snapshot(&back); err != nil {
		t.Fatal(err)
	}
	sameState(t, "after the round trip", back, st)
	la, lb := step(t, a, d, 3, n), step(t, b, d, 3, n)
	if math.Float64bits(la) != math.Float64bits(lb) {
		t.Fatalf("the next step's loss: %v after the round trip, %v without", lb, la)
	}
	var sa, sb engine.State
	if err := a.Snapshot(&sa); err != nil {
		t.Fatal(err)
	}
	if err := b.Snapshot(&sb); err != nil {
		t.Fatal(err)
	}
	sameState(t, "after the next step", sb, sa)
}

// sameState fails t unless got and want are equal bit for bit.
func sameState(t *testing.T, when string, got, want engine.State) {
	t.Helper()
	if got.OptimStep != want.OptimStep {
		t.Fatalf("%s: optimiser step %d, want %d", when, got.OptimStep, want.OptimStep)
	}
	for _, part := range []struct {
		what      string
		got, want []engine.Tensor
	}{{"parameters", got.Params, want.Params}, {"EMA", got.EMA, want.EMA}, {"m", got.M, want.M}, {"v", got.V, want.V}} {
		if len(part.got) != len(part.want) {
			t.Fatalf("%s: %d tensors of %s, want %d", when, len(part.got), part.what, len(part.want))
		}
		for i, g := range part.got {
			w := part.want[i]
			if g.Name != w.Name || len(g.Data) != len(w.Data) {
				t.Fatalf("%s: %s tensor %q of %d values, want %q of %d", when, part.what, g.Name, len(g.Data), w.Name, len(w.Data))
			}
			for j := range g.Data {
				if math.Float32bits(g.Data[j]) != math.Float32bits(w.Data[j]) {
					t.Fatalf("%s: %s %s[%d] = %v, want %v", when, part.what, g.Name, j, g.Data[j], w.Data[j])
				}
			}
		}
	}
}

func testNonFinite(t *testing.T, s Suite, d *data) {
	n := smallBatch(s)
	e := newEngine(t, s)
	step(t, e, d, 0, n)
	if _, err := e.Backward(engine.Step{Index: 1}, d.batch(1, n), nil); err != nil {
		t.Fatal(err) // the buckets now hold a gradient
	}
	var before engine.State
	if err := e.Snapshot(&before); err != nil {
		t.Fatal(err)
	}
	buckets := copyBuckets(e.Buckets())
	bad := d.batch(2, n)
	bad.X[rand.New(rand.NewPCG(1, 1)).IntN(len(bad.X))] = float32(math.NaN())
	_, err := e.Backward(engine.Step{Index: 2}, bad, func(k int) { t.Errorf("ready(%d) on a non-finite batch", k) })
	if !errors.Is(err, engine.ErrNonFinite) {
		t.Fatalf("Backward on a batch with a NaN: %v, want an error wrapping engine.ErrNonFinite", err)
	}
	for k, b := range e.Buckets() {
		for j, v := range b {
			if math.Float32bits(v) != math.Float32bits(buckets[k][j]) {
				t.Fatalf("bucket %d [%d] = %v after the non-finite batch, was %v", k, j, v, buckets[k][j])
			}
		}
	}
	var after engine.State
	if err := e.Snapshot(&after); err != nil {
		t.Fatal(err)
	}
	sameState(t, "after the non-finite batch", after, before)
}

func copyBuckets(b [][]float32) [][]float32 {
	out := make([][]float32, len(b))
	for i, x := range b {
		out[i] = append([]float32(nil), x...)
	}
	return out
}

func testReference(t *testing.T, s Suite, d *data) {
	n := smallBatch(s)
	ref, err := engine.NewCPU(engine.Config{Spec: s.Spec, Device: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	for i := range 2 { // non-zero moments
		step(t, ref, d, i, n)
	}
	var st engine.State
	if err := ref.Snapshot(&st); err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, s)
	if err := e.Restore(st); err != nil {
		t.Fatal(err)
	}
	b, at := d.batch(2, n), engine.Step{Index: 2}
	lr, err := ref.Backward(at, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	le, err := e.Backward(at, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rel := math.Abs(le-lr) / math.Abs(lr); !(rel <= s.Tolerance) {
		t.Fatalf("loss %v, the reference's %v: relative error %.3g > %g", le, lr, rel, s.Tolerance)
	}
	ge, gr := flat(e), flat(ref)
	if len(ge) != len(gr) {
		t.Fatalf("%d gradient values, the reference has %d", len(ge), len(gr))
	}
	var diff, norm float64
	for i := range gr {
		x := float64(ge[i]) - float64(gr[i])
		diff += x * x
		norm += float64(gr[i]) * float64(gr[i])
	}
	if rel := math.Sqrt(diff / norm); !(rel <= s.Tolerance) {
		t.Fatalf("gradient: relative L2 error %.3g against the reference, want ≤ %g", rel, s.Tolerance)
	}
}

// flat is e's gradient, in Layout order.
func flat(e engine.Engine) []float32 {
	l, b := e.Layout(), e.Buckets()
	out := make([]float32, 0, l.Size)
	for i, r := range l.Buckets {
		out = append(out, b[i][:r.Hi-r.Lo]...)
	}
	return out
}
