package nn

import (
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// NewGraph returns an empty gorgonia graph. Every graph levy builds (the
// MLP's and the U-Net's) comes from here, so that several goroutines of a
// process may build their first graphs at the same time.
//
// gorgonia v0.9.18 shares constant nodes between all graphs: one, zero,
// two, three and ln 2, each in float32 and float64 (const.go). Adding a
// node to a graph calls its Hashcode, which computes the hash on first
// use and caches it in the node with no synchronisation (node.go:557,
// n.hash and n.hashed). Grad adds the constant one to every graph it
// differentiates (gorgonia.go:241); the derivatives of Square, Sqrt,
// InverseSqrt, Cube, Tanh, Sigmoid, Log1p, Log2 and Pow, and Rectify and
// LeakyRelu, add the others. So two trainers that build their first
// graphs together (the ranks of an in-process cluster) race on those
// fields. NewGraph first hashes all ten, once; from then on gorgonia only
// reads them. (BinaryXent's 1+1e-16 rounds to 1 in both types: AddNode
// finds the graph's one by name and never hashes it.)
func NewGraph() *G.ExprGraph {
	warmOnce.Do(warmConstants)
	return G.NewGraph()
}

var warmOnce sync.Once

// warmConstants reaches every shared constant, in both float types,
// through a throwaway graph and its gradient.
func warmConstants() {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		if err := warmGraph(dt); err != nil {
			panic("nn: warming gorgonia's shared constants: " + err.Error())
		}
	}
}

func warmGraph(dt tensor.Dtype) error {
	g := G.NewGraph()
	x := G.NewVector(g, dt, G.WithShape(2), G.WithName("x"))
	y := G.NewVector(g, dt, G.WithShape(2), G.WithName("y"))
	if _, err := G.Rectify(x); err != nil { // zero
		return err
	}
	// The derivatives below add two, three, one and ln 2; Grad adds one.
	sum, err := G.Pow(x, y)
	if err != nil {
		return err
	}
	for _, f := range []func(*G.Node) (*G.Node, error){
		G.Square, G.Sqrt, G.InverseSqrt, G.Cube, G.Tanh, G.Sigmoid, G.Log1p, G.Log2,
	} {
		n, err := f(x)
		if err != nil {
			return err
		}
		if sum, err = G.Add(sum, n); err != nil {
			return err
		}
	}
	cost, err := G.Sum(sum)
	if err != nil {
		return err
	}
	_, err = G.Grad(cost, x, y)
	return err
}
