package nn

import (
	"fmt"
	"math"
)

// AdamW holds the optimiser's hyper-parameters. The update is PyTorch's
// torch.optim.AdamW (not gorgonia's NewAdamW, which never changes the
// weights: see TestGorgoniaNewAdamWStillBroken):
//
//	w ← w·(1 − LR·WeightDecay)
//	m ← β1·m + (1−β1)·g;   v ← β2·v + (1−β2)·g²
//	w ← w − LR/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + Eps)
type AdamW struct {
	LR          float64 `json:"lr"`
	Beta1       float64 `json:"beta1"`
	Beta2       float64 `json:"beta2"`
	Eps         float64 `json:"eps"`
	WeightDecay float64 `json:"weight_decay"`
}

// DefaultAdamW is docs/algorithms.md §6.3's optimiser: lr 5e−3 and PyTorch's defaults.
func DefaultAdamW() AdamW {
	return AdamW{LR: 5e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
}

// Validate reports the first field out of range, by name and value.
func (o AdamW) Validate() error {
	bad := func(name string, v float64, want string) error {
		return fmt.Errorf("nn: AdamW.%s = %v, want %s", name, v, want)
	}
	switch {
	case !(o.LR > 0) || math.IsInf(o.LR, 0):
		return bad("LR", o.LR, "> 0")
	case !(o.Beta1 >= 0 && o.Beta1 < 1):
		return bad("Beta1", o.Beta1, "in [0, 1)")
	case !(o.Beta2 >= 0 && o.Beta2 < 1):
		return bad("Beta2", o.Beta2, "in [0, 1)")
	case !(o.Eps >= 0) || math.IsInf(o.Eps, 0):
		return bad("Eps", o.Eps, "≥ 0")
	case !(o.WeightDecay >= 0) || math.IsInf(o.WeightDecay, 0):
		return bad("WeightDecay", o.WeightDecay, "≥ 0")
	}
	return nil
}

// Update applies the step-th update (counted from 1) to the weights w
// from the gradients g, advancing the moments m and v. The arithmetic is
// in float64.
func (o AdamW) Update(step int64, w, g, m, v []float32) {
	bc1 := 1 - math.Pow(o.Beta1, float64(step))
	bc2 := math.Sqrt(1 - math.Pow(o.Beta2, float64(step)))
	stepSize := o.LR / bc1
	decay := 1 - o.LR*o.WeightDecay
	b1, b2 := o.Beta1, o.Beta2
	for i := range w {
		gi := float64(g[i])
		mi := b1*float64(m[i]) + (1-b1)*gi
		vi := b2*float64(v[i]) + (1-b2)*gi*gi
		m[i], v[i] = float32(mi), float32(vi)
		wi := float64(w[i]) * decay
		w[i] = float32(wi - stepSize*mi/(math.Sqrt(vi)/bc2+o.Eps))
	}
}

// OptimState is the optimiser's state, for checkpoints: the number of
// steps taken and the first and second moments, one slice per parameter
// in the network's Params order.
type OptimState struct {
	Step int64
	M, V [][]float32
}
