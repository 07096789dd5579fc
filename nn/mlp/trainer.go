package mlp

import (
	"errors"
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/levy-ml/levy/nn"
)

// LossFunc builds the scalar loss from the network output [B,Dim] and the
// target [B,Dim]. Only out needs to be differentiable.
type LossFunc func(out, target *G.Node) (*G.Node, error)

// Trainer trains a Model with AdamW on gorgonia tape machines, one graph
// per batch size. It is not safe for concurrent use.
type Trainer struct {
	m      *Model
	loss   LossFunc
	opt    nn.AdamW
	graphs map[int]*stepGraph
	state  *nn.Optimizer
}

// stepGraph is the training graph for one batch size.
type stepGraph struct {
	g              *G.ExprGraph
	vm             G.VM
	x, tau, target []float32  // backing of the data nodes (float32 graphs)
	nodes          [3]*G.Node // x, tau, target
	params         G.Nodes
	out, loss      *G.Node
	grads          G.Nodes
}

// NewTrainer returns a trainer for m with the loss built by loss.
func NewTrainer(m *Model, loss LossFunc, opt nn.AdamW) (*Trainer, error) {
	if m == nil || loss == nil {
		return nil, errors.New("mlp: NewTrainer: nil model or loss")
	}
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	return &Trainer{m: m, loss: loss, opt: opt, graphs: map[int]*stepGraph{},
		state: nn.NewOptimizer(m.flat, m.params)}, nil
}

// graph returns the training graph for batch size n, building it once.
func (t *Trainer) graph(n int) (*stepGraph, error) {
	if sg, ok := t.graphs[n]; ok {
		return sg, nil
	}
	sg, err := buildStepGraph(t.m, t.loss, n, tensor.Float32)
	if err != nil {
		return nil, err
	}
	t.graphs[n] = sg
	return sg, nil
}

// buildStepGraph builds forward, loss and backward for batch n. In
// float32 the parameter nodes alias the model's weights; in float64
// (gradient checks) they hold copies.
func buildStepGraph(m *Model, loss LossFunc, n int, dt tensor.Dtype) (*stepGraph, error) {
	g := nn.NewGraph()
	sg := &stepGraph{g: g}
	d := m.cfg.Dim
	data := func(name string, cols int) (*G.Node, []float32) {
		back := make([]float32, n*cols)
		var v *tensor.Dense
		if dt == tensor.Float32 {
			v = tensor.New(tensor.WithShape(n, cols), tensor.WithBacking(back))
		} else {
			v = tensor.New(tensor.Of(dt), tensor.WithShape(n, cols))
		}
		return G.NewMatrix(g, dt, G.WithShape(n, cols), G.WithName(name), G.WithValue(v)), back
	}
	var x, tau, target *G.Node
	x, sg.x = data("x", d)
	tau, sg.tau = data("tau", 1)
	target, sg.target = data("target", d)
	ps := make([]*G.Node, len(m.params))
	for i, p := range m.params {
		var v *tensor.Dense
		if dt == tensor.Float32 {
			v = tensor.New(tensor.WithShape(p.Shape...), tensor.WithBacking(p.Data))
		} else {
			b := make([]float64, len(p.Data))
			for j, w := range p.Data {
				b[j] = float64(w)
			}
			v = tensor.New(tensor.WithShape(p.Shape...), tensor.WithBacking(b))
		}
		ps[i] = G.NewTensor(g, dt, len(p.Shape), G.WithShape(p.Shape...), G.WithName(p.Name), G.WithValue(v))
	}
	var out *G.Node
	var err error
	if dt == tensor.Float32 {
		out, err = netGraph[float32](m.cfg, m.lay, ps, x, tau)
	} else {
		out, err = netGraph[float64](m.cfg, m.lay, ps, x, tau)
	}
	if err != nil {
		return nil, fmt.Errorf("mlp: building the network: %w", err)
	}
	l, err := loss(out, target)
	if err != nil {
		return nil, fmt.Errorf("mlp: building the loss: %w", err)
	}
	if !l.IsScalar() {
		return nil, fmt.Errorf("mlp: the loss has shape %v, want a scalar", l.Shape())
	}
	if sg.grads, err = G.Grad(l, ps...); err != nil {
		return nil, fmt.Errorf("mlp: differentiating the loss: %w", err)
	}
	sg.out, sg.loss, sg.nodes, sg.params = out, l, [3]*G.Node{x, tau, target}, ps
	sg.vm = G.NewTapeMachine(g)
	return sg, nil
}

// run loads a batch into sg and runs forward and backward. The node
// values stay readable until the next run.
func (sg *stepGraph) run(x, tau, target []float32) (float64, error) {
	copy(sg.x, x)
	copy(sg.tau, tau)
	copy(sg.target, target)
	sg.vm.Reset()
	if err := sg.vm.RunAll(); err != nil {
		return 0, fmt.Errorf("mlp: running the training graph: %w", err)
	}
	switch v := sg.loss.Value().Data().(type) {
	case float32:
		return float64(v), nil
	case float64:
		return v, nil
	}
	return 0, fmt.Errorf("mlp: loss of type %T", sg.loss.Value().Data())
}

// Gradients runs forward and backward on a batch of n = len(tau) points
// (x and target [n,Dim]) and adds the gradient of the loss to Grads.
// A NaN or infinite loss or gradient returns an error wrapping
// nn.ErrNonFinite and leaves Grads and the weights untouched.
func (t *Trainer) Gradients(x, tau, target []float32) (float64, error) {
	n, d := len(tau), t.m.cfg.Dim
	if n == 0 || len(x) != n*d || len(target) != n*d {
		return 0, fmt.Errorf("mlp: Gradients: len(x) = %d, len(tau) = %d, len(target) = %d: want %d·n, n > 0, %d·n",
			len(x), len(tau), len(target), d, d)
	}
	sg, err := t.graph(n)
	if err != nil {
		return 0, err
	}
	loss, err := sg.run(x, tau, target)
	if err != nil {
		return 0, err
	}
	return loss, t.state.Accumulate(loss, sg.grads)
}

// Grads returns the accumulated gradients, in Params order and with its
// names and shapes. Data aliases the buffers Apply reads, so a caller
// may average them in place (all-reduce) between Gradients and Apply.
func (t *Trainer) Grads() []nn.Param { return t.state.Grads() }

// Apply takes one AdamW step with Grads and then zeroes them.
func (t *Trainer) Apply() error {
	t.state.Apply(t.opt)
	return nil
}

// Step is Gradients followed by Apply; on error nothing is applied.
func (t *Trainer) Step(x, tau, target []float32) (float64, error) {
	loss, err := t.Gradients(x, tau, target)
	if err != nil {
		return loss, err
	}
	return loss, t.Apply()
}

// State returns a copy of the optimiser state.
func (t *Trainer) State() nn.OptimState { return t.state.State() }

// SetState restores an optimiser state taken by State (for a model of
// the same configuration); on error nothing changes.
func (t *Trainer) SetState(s nn.OptimState) error { return t.state.SetState(s) }

// Close releases the graphs. The trainer must not be used afterwards.
func (t *Trainer) Close() {
	for n, sg := range t.graphs {
		sg.vm.Close()
		delete(t.graphs, n)
	}
}
