package samplers

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// hugeNet returns a finite float32 so large that the sampler's float64
// state leaves float32's range.
type hugeNet struct{}

func (hugeNet) Denoise(dst, x, tau []float32) error {
	for i := range dst {
		dst[i] = -math.MaxFloat32
	}
	return nil
}

// TestOutputOverflowIsAnError: a state that is finite in float64 but not
// representable in float32 must not come back as ±Inf with a nil error.
func TestOutputOverflowIsAnError(t *testing.T) {
	for _, c := range []Config{
		{Method: DLIM, Alpha: 1.7, Steps: 2},
		{Method: LIMODE, Alpha: 1.7, Steps: 1},
	} {
		x, err := Sample(hugeNet{}, c, 4, 2, rand.New(rand.NewPCG(1, 2)))
		if !errors.Is(err, ErrNotFinite) {
			t.Errorf("%s: err = %v, output %v; want ErrNotFinite", c.Method, err, x)
		}
	}
}
