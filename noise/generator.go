package noise

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Generator fills batches of unit α-stable noise.
//
// The zero value is not usable: set Alpha. Gaussian switches to standard
// DDPM noise (A ≡ 1, ε ~ N(0, I)), which docs/algorithms.md §10.11 distinguishes from
// DLPM at α = 2 (A ≡ 2, ε ~ N(0, 2I)).
type Generator struct {
	// Alpha is the tail index, in (0, 2].
	Alpha float64
	// NonIsotropic draws one A per coordinate (i.i.d. 1-D SαS
	// coordinates) instead of one A per sample shared by all coordinates.
	NonIsotropic bool
	// Gaussian makes A ≡ 1 whatever Alpha is (plain DDPM noise).
	Gaussian bool
	// ClampA, when positive, replaces A by min(A, ClampA).
	ClampA float64
	// ClampEps, when positive, clips every coordinate of ε to
	// [−ClampEps, ClampEps].
	ClampEps float64
}

// Validate reports a bad field by name.
func (g Generator) Validate() error {
	if err := CheckAlpha(g.Alpha); err != nil {
		return fmt.Errorf("noise: Generator.Alpha: %w", err)
	}
	if g.ClampA < 0 || math.IsNaN(g.ClampA) {
		return fmt.Errorf("noise: Generator.ClampA = %v, want ≥ 0 (0 = no clamp)", g.ClampA)
	}
	if g.ClampEps < 0 || math.IsNaN(g.ClampEps) {
		return fmt.Errorf("noise: Generator.ClampEps = %v, want ≥ 0 (0 = no clamp)", g.ClampEps)
	}
	return nil
}

// A draws one mixing variable, with ClampA applied.
func (g Generator) A(rng *rand.Rand) float64 {
	var a float64
	switch {
	case g.Gaussian:
		a = 1
	default:
		a = MixingA(rng, g.Alpha)
	}
	if g.ClampA > 0 && a > g.ClampA {
		a = g.ClampA
	}
	return a
}

// FillA fills dst with independent mixing variables (ClampA applied).
func (g Generator) FillA(rng *rand.Rand, dst []float64) {
	for i := range dst {
		dst[i] = g.A(rng)
	}
}

// Fill writes n = len(dst)/d noise vectors of dimension d into dst
// (row-major). If a is not nil it receives the per-sample A of isotropic
// noise (len(a) must be n); it is left alone for non-isotropic noise.
// It panics if len(dst) is not a multiple of d.
func (g Generator) Fill(rng *rand.Rand, dst []float32, d int, a []float64) {
	if d <= 0 || len(dst)%d != 0 {
		panic(fmt.Sprintf("noise: Fill: len(dst) = %d is not a multiple of d = %d", len(dst), d))
	}
	n := len(dst) / d
	if a != nil && len(a) != n {
		panic(fmt.Sprintf("noise: Fill: len(a) = %d, want %d", len(a), n))
	}
	for i := range n {
		row := dst[i*d : (i+1)*d]
		if g.NonIsotropic {
			for j := range row {
				row[j] = g.clip(math.Sqrt(g.A(rng)) * rng.NormFloat64())
			}
			continue
		}
		ai := g.A(rng)
		if a != nil {
			a[i] = ai
		}
		s := math.Sqrt(ai)
		for j := range row {
			row[j] = g.clip(s * rng.NormFloat64())
		}
	}
}

func (g Generator) clip(v float64) float32 {
	if c := g.ClampEps; c > 0 {
		v = max(-c, min(c, v))
	}
	return float32(v)
}
