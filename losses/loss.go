package losses

import (
	"fmt"
	"math"
)

// Kind names a loss.
type Kind string

// The losses.
const (
	RMS      Kind = "rms"
	MSE      Kind = "mse"
	SmoothL1 Kind = "smooth-l1"
)

// ParseKind checks a loss name.
func ParseKind(s string) (Kind, error) {
	switch k := Kind(s); k {
	case RMS, MSE, SmoothL1:
		return k, nil
	}
	return "", fmt.Errorf("losses: unknown loss %q (want %q, %q or %q)", s, RMS, MSE, SmoothL1)
}

// Value returns the loss of out against target (n×d, row-major) and, if
// grad is not nil, writes dLoss/dout into it. It panics on mismatched
// lengths.
func Value[F float32 | float64](kind Kind, out, target, grad []F, d int) float64 {
	if len(out) != len(target) || d <= 0 || len(out)%d != 0 || (grad != nil && len(grad) != len(out)) {
		panic(fmt.Sprintf("losses: Value: len(out) = %d, len(target) = %d, len(grad) = %d, d = %d", len(out), len(target), len(grad), d))
	}
	n := len(out) / d
	if n == 0 {
		return 0
	}
	var total float64
	switch kind {
	case RMS:
		for i := range n {
			o, t := out[i*d:(i+1)*d], target[i*d:(i+1)*d]
			var s float64
			for j := range o {
				r := float64(o[j] - t[j])
				s += r * r
			}
			l := math.Sqrt(s / float64(d))
			total += l
			if grad != nil {
				g := grad[i*d : (i+1)*d]
				if l == 0 {
					clear(g)
					continue
				}
				c := 1 / (float64(n) * float64(d) * l)
				for j := range o {
					g[j] = F(c * float64(o[j]-t[j]))
				}
			}
		}
		return total / float64(n)
	case MSE:
		c := 2 / float64(len(out))
		for j := range out {
			r := float64(out[j] - target[j])
			total += r * r
			if grad != nil {
				grad[j] = F(c * r)
			}
		}
		return total / float64(len(out))
	case SmoothL1:
		c := 1 / float64(len(out))
		for j := range out {
			r := float64(out[j] - target[j])
			a := math.Abs(r)
			if a < 1 {
				total += 0.5 * r * r
			} else {
				total += a - 0.5
			}
			if grad != nil {
				grad[j] = F(c * max(-1, min(1, r)))
			}
		}
		return total / float64(len(out))
	}
	panic(fmt.Sprintf("losses: unknown loss kind %q", kind))
}
