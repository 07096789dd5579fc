package nn

import (
	"math"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestAdamWValidate(t *testing.T) {
	if err := DefaultAdamW().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := DefaultAdamW()
	bad.Beta2 = 1
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "Beta2 = 1") {
		t.Errorf("AdamW.Validate() = %v, want Beta2 named", err)
	}
}

// TestGorgoniaNewAdamWStillBroken documents why levy has its own
// AdamW: gorgonia v0.9.18's NewAdamW applies its update to a copy and
// leaves the weights as they were. If this test fails, gorgonia's AdamW
// has been fixed by an upgrade and the workaround can be reconsidered.
func TestGorgoniaNewAdamWStillBroken(t *testing.T) {
	g := G.NewGraph()
	w := G.NewVector(g, tensor.Float64, G.WithShape(3), G.WithName("w"),
		G.WithValue(tensor.New(tensor.WithBacking([]float64{0.5, -1, 2}))))
	sq, err := G.Square(w)
	if err != nil {
		t.Fatal(err)
	}
	loss, err := G.Sum(sq)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := G.Grad(loss, w); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(w))
	defer vm.Close()
	solver := G.NewAdamW(G.WithLearnRate(0.1))
	for range 3 {
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		if err := solver.Step(G.NodesToValueGrads(G.Nodes{w})); err != nil {
			t.Fatal(err)
		}
		vm.Reset()
	}
	got := w.Value().Data().([]float64)
	if got[0] != 0.5 || got[1] != -1 || got[2] != 2 {
		t.Fatalf("gorgonia's NewAdamW now updates the weights (w = %v): it may be fixed; "+
			"compare it with nn.AdamW and reconsider the workaround", got)
	}
}

// TestAdamWMatchesPyTorch replays three steps of torch.optim.AdamW (lr
// 5e−3, betas 0.9/0.999, eps 1e−8, weight decay 0.01) on a 4-vector; the
// expected weights were printed by PyTorch 1.13 in float64.
func TestAdamWMatchesPyTorch(t *testing.T) {
	w := []float32{0.5, -1, 2, 0}
	m, v := make([]float32, 4), make([]float32, 4)
	grads := [][]float32{{0.1, -0.2, 0.3, 0}, {0.05, 0.4, -0.3, 1e-3}, {-0.2, 0.1, 0, 2}}
	want := [][]float64{
		{0.49497500049999993, -0.99495000025000002, 1.9949000001666666, 0},
		{0.49028935414556851, -0.99673077032728941, 1.995063413052623, -0.0037206315133155067},
		{0.49129662473588004, -0.99875918970966304, 1.9951670816890088, -0.0069159503826323665},
	}
	for s, g := range grads {
		DefaultAdamW().Update(int64(s+1), w, g, m, v)
		for i := range w {
			if d := math.Abs(float64(w[i]) - want[s][i]); d > 1e-6 {
				t.Errorf("step %d: w[%d] = %.9g, PyTorch %.9g", s+1, i, w[i], want[s][i])
			}
		}
	}
}
