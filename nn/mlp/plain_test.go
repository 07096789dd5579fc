package mlp

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BenchmarkPlainGorgoniaStep1024 is the baseline of bench/README.md: the
// same network from gorgonia's stock ops only (Mul + BroadcastAdd,
// LayerNorm composed from Mean/Sub/Square/Sqrt/Div, SiLU = x·Sigmoid(x)),
// trained with gorgonia's Adam solver on a tape machine.
func BenchmarkPlainGorgoniaStep1024(b *testing.B) {
	const n, d, h, te = 1024, 2, 64, 32
	must := func(v *G.Node, err error) *G.Node {
		if err != nil {
			b.Fatal(err)
		}
		return v
	}
	g := G.NewGraph()
	rng := rand.New(rand.NewPCG(1, 1))
	var learn G.Nodes
	param := func(shape ...int) *G.Node {
		v := make([]float32, size(shape))
		for i := range v {
			v[i] = float32(rng.Float64()-0.5) / 4
		}
		p := G.NewTensor(g, tensor.Float32, len(shape), G.WithShape(shape...),
			G.WithValue(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))))
		learn = append(learn, p)
		return p
	}
	ones := func(k int, val float32) *G.Node {
		v := make([]float32, k)
		for i := range v {
			v[i] = val
		}
		p := G.NewVector(g, tensor.Float32, G.WithShape(k), G.WithValue(tensor.New(tensor.WithBacking(v))))
		learn = append(learn, p)
		return p
	}
	lin := func(x *G.Node, in, out int) *G.Node {
		return must(G.BroadcastAdd(must(G.Mul(x, param(in, out))), param(out), nil, []byte{0}))
	}
	silu := func(x *G.Node) *G.Node { return must(G.HadamardProd(x, must(G.Sigmoid(x)))) }
	eps := G.NewConstant(float32(1e-5))
	ln := func(z *G.Node) *G.Node {
		c := must(G.BroadcastSub(z, must(G.Mean(z, 1)), nil, []byte{1}))
		sd := must(G.Sqrt(must(G.Add(must(G.Mean(must(G.Square(c)), 1)), eps))))
		u := must(G.BroadcastHadamardDiv(c, sd, nil, []byte{1}))
		u = must(G.BroadcastHadamardProd(u, ones(h, 1), nil, []byte{0}))
		return must(G.BroadcastAdd(u, ones(h, 0), nil, []byte{0}))
	}
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(n, d), G.WithName("x"))
	tau := G.NewMatrix(g, tensor.Float32, G.WithShape(n, 1), G.WithName("tau"))
	target := G.NewMatrix(g, tensor.Float32, G.WithShape(n, d), G.WithName("target"))
	temb := silu(lin(silu(lin(tau, 1, te)), te, te))
	hh := silu(ln(lin(x, d, h)))
	for range 5 {
		a := must(G.Add(silu(ln(lin(hh, h, h))), silu(lin(temb, te, h))))
		hh = silu(must(G.Add(ln(lin(a, h, h)), hh)))
	}
	loss := must(mseLoss(lin(hh, h, d), target))
	if _, err := G.Grad(loss, learn...); err != nil {
		b.Fatal(err)
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(learn...))
	defer vm.Close()
	solver := G.NewAdamSolver(G.WithLearnRate(5e-3))
	xs, ts, tgs := batch(n, 1)
	step := func() {
		for _, c := range []struct {
			n *G.Node
			v []float32
			w int
		}{{x, xs, d}, {tau, ts, 1}, {target, tgs, d}} {
			if err := G.Let(c.n, tensor.New(tensor.WithShape(n, c.w), tensor.WithBacking(append([]float32(nil), c.v...)))); err != nil {
				b.Fatal(err)
			}
		}
		if err := vm.RunAll(); err != nil {
			b.Fatal(err)
		}
		if err := solver.Step(G.NodesToValueGrads(learn)); err != nil {
			b.Fatal(err)
		}
		vm.Reset()
	}
	step()
	for b.Loop() {
		step()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/step")
}
