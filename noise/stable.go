package noise

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// CheckAlpha returns an error unless 0 < alpha ≤ 2.
func CheckAlpha(alpha float64) error {
	if !(alpha > 0 && alpha <= 2) {
		return fmt.Errorf("noise: alpha = %v is outside (0, 2]", alpha)
	}
	return nil
}

// Symmetric draws one standard symmetric α-stable value, CF exp(−|u|^α),
// by Chambers–Mallows–Stuck (docs/algorithms.md §2.1). At α = 2 the value is N(0, 2);
// at α = 1 it is standard Cauchy. It panics if alpha is outside (0, 2].
func Symmetric(rng *rand.Rand, alpha float64) float64 {
	if err := CheckAlpha(alpha); err != nil {
		panic(err.Error())
	}
	v := math.Pi * (openUniform(rng) - 0.5) // (−π/2, π/2)
	switch alpha {
	case 1:
		return math.Tan(v)
	case 2:
		w := -math.Log(openUniform(rng))
		return 2 * math.Sin(v) * math.Sqrt(w)
	}
	w := -math.Log(openUniform(rng))
	// sin(αV)/cos(V)^{1/α} · (cos((1−α)V)/W)^{(1−α)/α}
	c := math.Cos(v)
	return math.Sin(alpha*v) / math.Pow(c, 1/alpha) *
		math.Pow(math.Cos((1-alpha)*v)/w, (1-alpha)/alpha)
}

// Positive draws P, the totally skewed a-stable value (0 < a < 1) with
// Laplace transform E exp(−λP) = exp(−λ^a), by Kanter's formula
// (docs/algorithms.md §2.2). It is computed in logs, in float64, so that it neither
// overflows for small a nor loses precision as a → 1. a == 1 returns 1
// (the degenerate limit). It panics if a is outside (0, 1].
func Positive(rng *rand.Rand, a float64) float64 {
	if !(a > 0 && a <= 1) {
		panic(fmt.Sprintf("noise: positive stable index %v is outside (0, 1]", a))
	}
	if a == 1 {
		return 1
	}
	v := math.Pi * openUniform(rng) // (0, π)
	w := -math.Log(openUniform(rng))
	// log P = log sin(aV) − (1/a) log sin V + ((1−a)/a)(log sin((1−a)V) − log W)
	lp := math.Log(math.Sin(a*v)) - math.Log(math.Sin(v))/a +
		(1-a)/a*(math.Log(math.Sin((1-a)*v))-math.Log(w))
	return math.Exp(lp)
}

// MixingA draws A = 2·P_{α/2}, the variance mixing variable of the
// Gaussian trick: √A·G with G ~ N(0,1) has CF exp(−|u|^α). At α = 2 it
// returns 2. It panics if alpha is outside (0, 2].
func MixingA(rng *rand.Rand, alpha float64) float64 {
	if err := CheckAlpha(alpha); err != nil {
		panic(err.Error())
	}
	if alpha == 2 {
		return 2
	}
	return 2 * Positive(rng, alpha/2)
}
