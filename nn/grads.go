package nn

import (
	"errors"
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
)

// ErrNonFinite is returned (wrapped) when a batch gives a NaN or
// infinite loss or gradient; the weights and gradients are then untouched.
var ErrNonFinite = errors.New("nn: non-finite loss or gradient")

// AccumulateGrads adds the float32 gradients held by nodes to grads
// (same order and sizes), unless the loss or any gradient is NaN or
// infinite: then it returns ErrNonFinite, naming the tensor, and leaves
// grads untouched.
func AccumulateGrads(loss float64, nodes G.Nodes, grads []Param) error {
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return fmt.Errorf("%w: loss = %v", ErrNonFinite, loss)
	}
	for i, gn := range nodes {
		for _, v := range gn.Value().Data().([]float32) {
			if v-v != 0 {
				return fmt.Errorf("%w: gradient of %s", ErrNonFinite, grads[i].Name)
			}
		}
	}
	for i, gn := range nodes {
		dst := grads[i].Data
		for j, v := range gn.Value().Data().([]float32) {
			dst[j] += v
		}
	}
	return nil
}
