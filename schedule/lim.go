package schedule

import (
	"fmt"
	"math"
)

// Time domain of LIM (docs/algorithms.md §5.1): T_end = 0.9946 because t = 1 is
// numerically bad.
const (
	LIMTMin = 1e-5
	LIMTEnd = 0.9946
)

// LIM is the continuous cosine schedule of the Lévy–Itô model.
type LIM struct{ Alpha float64 }

// NewLIM checks alpha.
func NewLIM(alpha float64) (LIM, error) {
	if !(alpha > 0 && alpha <= 2) {
		return LIM{}, fmt.Errorf("schedule: alpha = %v is outside (0, 2]", alpha)
	}
	return LIM{Alpha: alpha}, nil
}

func limAngle(t float64) float64 { return (t + CosineOffset) / (1 + CosineOffset) * math.Pi / 2 }

// A is the mean coefficient a(t).
func (LIM) A(t float64) float64 { return math.Cos(limAngle(t)) / math.Cos(limAngle(0)) }

// B is the scale coefficient b(t) = (1 − a(t)^α)^{1/α}.
func (l LIM) B(t float64) float64 {
	return math.Pow(max(0, 1-math.Pow(l.A(t), l.Alpha)), 1/l.Alpha)
}

// Beta is β(t) = (α/(1+s))(π/2) tan((t+s)/(1+s)·π/2).
func (l LIM) Beta(t float64) float64 {
	return l.Alpha / (1 + CosineOffset) * math.Pi / 2 * math.Tan(limAngle(t))
}

// Grid kinds for the LIM samplers (docs/algorithms.md §5.4).
const (
	GridLinear    = "linear"
	GridQuadratic = "quadratic"
)

// TimeGrid returns the n+1 decreasing times t_0 = tEnd … t_n = tMin,
// linear in t or quadratic (linear in √t).
func TimeGrid(kind string, n int, tMin, tEnd float64) ([]float64, error) {
	if n < 1 {
		return nil, fmt.Errorf("schedule: grid steps = %d, want ≥ 1", n)
	}
	ts := make([]float64, n+1)
	for i := range ts {
		f := float64(i) / float64(n)
		switch kind {
		case GridLinear:
			ts[i] = tEnd + f*(tMin-tEnd)
		case GridQuadratic:
			r := math.Sqrt(tEnd) + f*(math.Sqrt(tMin)-math.Sqrt(tEnd))
			ts[i] = r * r
		default:
			return nil, fmt.Errorf("schedule: grid %q, want %q or %q", kind, GridLinear, GridQuadratic)
		}
	}
	return ts, nil
}
