package samplers

import (
	"math"
	"testing"
)

// cfZ is the number of standard errors the characteristic-function checks
// allow. Each test makes at most a few dozen such comparisons on fixed
// seeds, so 4.5 (two-sided p ≈ 7e−6 per comparison) keeps the family-wise
// false-alarm rate of a changed seed below 1e−3.
const cfZ = 4.5

// checkCF compares the empirical characteristic function of z at u,
// mean(exp(iuz)), with want. Its standard errors are the sample standard
// deviations of cos(uz) and sin(uz) over √n; wantSE is the standard error
// of want when want is itself a Monte Carlo estimate (0 when exact). Both
// the real and the imaginary part must lie within cfZ combined standard
// errors.
func checkCF(t *testing.T, label string, z []float64, u float64, want complex128, wantSE float64) {
	t.Helper()
	n := float64(len(z))
	var sc, ss, sc2, ss2 float64
	for _, v := range z {
		c, s := math.Cos(u*v), math.Sin(u*v)
		sc += c
		ss += s
		sc2 += c * c
		ss2 += s * s
	}
	mc, ms := sc/n, ss/n
	seC := math.Sqrt(max(0, sc2/n-mc*mc) / n)
	seS := math.Sqrt(max(0, ss2/n-ms*ms) / n)
	tolC := cfZ * math.Hypot(seC, wantSE)
	tolS := cfZ * math.Hypot(seS, wantSE)
	if math.Abs(mc-real(want)) > tolC || math.Abs(ms-imag(want)) > tolS {
		t.Errorf("%s: CF at u = %.3g is %.4f%+.4fi, want %.4f%+.4fi (tolerance %.4f, %.4f)",
			label, u, mc, ms, real(want), imag(want), tolC, tolS)
	}
}

// unitCF is the characteristic function exp(−|v|^α) of unit symmetric
// α-stable noise, or exp(−v²/2) of standard Gaussian noise when gauss is
// set (DDPM, DDIM and LIM's α = 2 branch draw ε ~ N(0, I)).
func unitCF(v, alpha float64, gauss bool) float64 {
	if gauss {
		return math.Exp(-v * v / 2)
	}
	return math.Exp(-math.Pow(math.Abs(v), alpha))
}

// projections returns, for n points of dimension 2 stored row-major, the
// first coordinate and the projection (x₁ + x₂)/√2 onto the diagonal.
func projections(x []float32) (first, diag []float64) {
	n := len(x) / 2
	first, diag = make([]float64, n), make([]float64, n)
	for i := range n {
		a, b := float64(x[2*i]), float64(x[2*i+1])
		first[i], diag[i] = a, (a+b)/math.Sqrt2
	}
	return first, diag
}

// checkIsoLaw checks that 2-D samples x follow loc + scale·ε with ε unit
// isotropic noise (symmetric α-stable, or standard Gaussian when gauss is
// set): the first coordinate has location loc[0] and the diagonal
// projection (loc[0]+loc[1])/√2, both have the scale. It compares the
// characteristic functions at u = q/scale for q in qs.
func checkIsoLaw(t *testing.T, label string, x []float32, loc [2]float64, scale, alpha float64, gauss bool, qs []float64) {
	t.Helper()
	first, diag := projections(x)
	for _, p := range []struct {
		name string
		z    []float64
		loc  float64
	}{{"x₁", first, loc[0]}, {"(x₁+x₂)/√2", diag, (loc[0] + loc[1]) / math.Sqrt2}} {
		for _, q := range qs {
			u := q / scale
			want := complex(unitCF(q, alpha, gauss), 0) * complex(math.Cos(u*p.loc), math.Sin(u*p.loc))
			checkCF(t, label+" "+p.name, p.z, u, want, 0)
		}
	}
}
