package samplers

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/levy-ml/levy/noise"
	"github.com/levy-ml/levy/schedule"
)

// One step of the DLPM family, isolated.
//
// With Steps = 3 the sampler starts from x₂ = σ̄₂ε₀, calls the network at
// k = 2 (the step under test, the only one that adds noise) and at k = 1
// (the last step, x₀ = (x₁ − σ̄₁ε̂)/γ₁ since Γ₁ = 1, σ̄₀ = 0). twoStepNet
// returns ε̂ = x/σ̄₂ + c at k = 2 and ε̂ = 0 at k = 1, so the output is
// x₁/γ₁: the state after the step under test, made visible. With the
// exact ε̂ of a data set the last step would undo any error in x₁, which
// is why the intermediate steps need this test.
type twoStepNet struct {
	s *schedule.DLPM
	c [2]float64
}

func (n *twoStepNet) Denoise(dst, x, tau []float32) error {
	for i, tt := range tau {
		switch tt {
		case float32(n.s.Tau(2)):
			for j := range 2 {
				dst[2*i+j] = float32(float64(x[2*i+j])/n.s.BarSigma[2] + n.c[j])
			}
		case float32(n.s.Tau(1)):
			dst[2*i], dst[2*i+1] = 0, 0
		default:
			return fmt.Errorf("twoStepNet: τ = %v is not k/3 for k = 1, 2", tt)
		}
	}
	return nil
}

// TestDLIMStep checks one DLIM/DDIM step against docs/algorithms.md §4:
//
//	x₁ = (x₂ − σ̄₂ε̂)/γ₂ + (σ̄₁^α − ρ^α)^{1/α} ε̂ + ρ√A₂·G,  ρ = η σ̄₁.
//
// With ε̂ = x₂/σ̄₂ + c and x₂ = σ̄₂ε₀ this is
//
//	x₁ = (ce − σ̄₂/γ₂)·c + ce·ε₀ + ρ√A₂·G,  ce = (σ̄₁^α − ρ^α)^{1/α},
//
// and since ε₀ and √A₂G are independent unit isotropic noises, the output
// x₁/γ₁ is isotropic noise of scale (ce^α + ρ^α)^{1/α}/γ₁ = σ̄₁/γ₁ at the
// location (ce − σ̄₂/γ₂)c/γ₁ (DDIM: Gaussian, variances adding). The
// characteristic function is compared at u = q/scale, q ∈ {0.5, 1, 2},
// with n = 20000 (standard error ≤ 0.71/√n = 0.005, tolerance ≤ 0.023).
//
// Mutants (α = 1.7, η = 0.5, where σ̄₁/γ₁ = 0.536): ce = σ̄₁ moves the
// location by 0.10·c and the scale to 0.63; dropping ρ√A₂G shrinks the
// scale to ce/γ₁ = 0.43; at η = 1 the first makes the location
// (σ̄₁ − σ̄₂/γ₂)c/γ₁ instead of −σ̄₂c/(γ₂γ₁) (a shift of 0.54·c) and the
// second a constant output. Each moves the CF at q = 1 or 2 by several
// tolerances.
func TestDLIMStep(t *testing.T) {
	const n = 20000
	c := [2]float64{1, -0.5}
	for i, cfg := range []Config{
		{Method: DLIM, Alpha: 1.7, Steps: 3},
		{Method: DLIM, Alpha: 1.7, Steps: 3, Eta: 0.5},
		{Method: DLIM, Alpha: 1.7, Steps: 3, Eta: 1},
		{Method: DLIM, Alpha: 1.5, Steps: 3, Eta: 0.8},
		{Method: DDIM, Steps: 3, Eta: 0.5},
	} {
		x, s, alpha, gauss := sampleThreeSteps(t, cfg, c, n, rand.New(rand.NewPCG(21, uint64(i))))
		rho := cfg.Eta * s.BarSigma[1]
		ce := math.Pow(math.Pow(s.BarSigma[1], alpha)-math.Pow(rho, alpha), 1/alpha)
		scale := math.Pow(math.Pow(ce, alpha)+math.Pow(rho, alpha), 1/alpha) / s.Gamma[1]
		shift := (ce - s.BarSigma[2]/s.Gamma[2]) / s.Gamma[1]
		loc := [2]float64{shift * c[0], shift * c[1]}
		checkIsoLaw(t, fmt.Sprintf("%+v", cfg), x, loc, scale, alpha, gauss, []float64{0.5, 1, 2})
	}
}

// TestDLPMStep checks one stochastic DLPM/DDPM step against docs/algorithms.md §3.6:
//
//	x₁ = (x₂ − σ̄₂Γ₂ε̂)/γ₂ + √(Γ₂Σ₁)·G,  Σ₁ = σ₁²A₁, Σ₂ = σ₂²A₂ + γ₂²Σ₁,
//	Γ₂ = σ₂²A₂/Σ₂.
//
// With ε̂ = x₂/σ̄₂ + c and x₂ = σ̄₂√A′·G′, given the mixing variables
// (A′, A₁, A₂) the output y = x₁/γ₁ is Gaussian with mean
// −σ̄₂Γ₂c/(γ₂γ₁) and variance ((1−Γ₂)²σ̄₂²A′/γ₂² + Γ₂Σ₁)/γ₁² in each
// coordinate, so its characteristic function is
//
//	E_A[exp(iu·mean(A) − u²·var(A)/2)],
//
// which the test estimates from M independent draws of (A′, A₁, A₂)
// (noise.Generator, its own seed); at α = 2 the A's are constants (2 for
// DLPM, 1 for DDPM) and the value is exact. n = 40000 samples (standard
// error ≤ 0.0036), M = 100000 draws (standard error ≤ 0.0023, combined in
// the tolerance). At α = 1.7, Γ₂ ≈ 0.92 and the main term of the
// variance is Γ₂Σ₁: Γ₂ → 1 moves the mean by 8% (0.15·c) and changes the
// CF by about 0.15; without the noise, or with Σ₂ for Σ₁, that term
// vanishes or grows about threefold (CF changes of 0.3). Dropping Γ₂ from
// the noise variance alone changes it by only 1/Γ₂ ≈ 1.1 (1.13 at α = 2),
// which the larger n is for: 1.3–2 tolerances at several u.
func TestDLPMStep(t *testing.T) {
	const n, draws = 40000, 100000
	c := [2]float64{1.5, -0.5}
	for i, cfg := range []Config{
		{Method: DLPM, Alpha: 1.7, Steps: 3},
		{Method: DLPM, Alpha: 1.5, Steps: 3},
		{Method: DLPM, Alpha: 2, Steps: 3},
		{Method: DDPM, Steps: 3},
	} {
		x, s, alpha, gauss := sampleThreeSteps(t, cfg, c, n, rand.New(rand.NewPCG(31, uint64(i))))
		// The conditional mean (per unit of c) and variance, per draw of A.
		gen := noise.Generator{Alpha: alpha, Gaussian: gauss}
		arng := rand.New(rand.NewPCG(32, uint64(i)))
		mean, vari := make([]float64, draws), make([]float64, draws)
		for m := range draws {
			mean[m], vari[m] = dlpmStepLaw(s, gen.A(arng), gen.A(arng), gen.A(arng))
		}
		// u in units of the sd at A ≡ 2 (the median of A is 1.8 for α = 1.5 … 1.9).
		_, v := dlpmStepLaw(s, 2, 2, 2)
		ref := math.Sqrt(v)
		first, diag := projections(x)
		for _, p := range []struct {
			name string
			z    []float64
			c    float64
		}{{"x₁", first, c[0]}, {"(x₁+x₂)/√2", diag, (c[0] + c[1]) / math.Sqrt2}} {
			for _, q := range []float64{0.5, 1, 2} {
				u := q / ref
				want, se := mixtureCF(mean, vari, p.c, u)
				checkCF(t, fmt.Sprintf("%+v %s", cfg, p.name), p.z, u, want, se)
			}
		}
	}
}

// dlpmStepLaw returns the mean per unit of c and the variance of
// y = x₁/γ₁ in TestDLPMStep given the mixing variables A′ (of ε₀), A₁, A₂.
func dlpmStepLaw(s *schedule.DLPM, a0, a1, a2 float64) (mean, vari float64) {
	sig1 := s.Sigma[1] * s.Sigma[1] * a1
	sig2 := s.Sigma[2]*s.Sigma[2]*a2 + s.Gamma[2]*s.Gamma[2]*sig1
	g2 := s.Sigma[2] * s.Sigma[2] * a2 / sig2
	keep := (1 - g2) * s.BarSigma[2] / s.Gamma[2] // coefficient of x₂/σ̄₂ = √A′G′ in x₁
	mean = -s.BarSigma[2] * g2 / (s.Gamma[2] * s.Gamma[1])
	vari = (keep*keep*a0 + g2*sig1) / (s.Gamma[1] * s.Gamma[1])
	return mean, vari
}

// mixtureCF returns the Monte Carlo estimate of E[exp(iu·c·mean − u²·var/2)]
// over the draws, and the larger of the standard errors of its real and
// imaginary parts.
func mixtureCF(mean, vari []float64, c, u float64) (complex128, float64) {
	k := float64(len(mean))
	var sr, si, sr2, si2 float64
	for m := range mean {
		e := math.Exp(-u * u * vari[m] / 2)
		r, i := e*math.Cos(u*c*mean[m]), e*math.Sin(u*c*mean[m])
		sr += r
		si += i
		sr2 += r * r
		si2 += i * i
	}
	mr, mi := sr/k, si/k
	se := math.Sqrt(max(sr2/k-mr*mr, si2/k-mi*mi, 0) / k)
	return complex(mr, mi), se
}

// sampleThreeSteps draws n 2-D points with cfg (Steps = 3) through
// twoStepNet, and returns them with the schedule, the tail index and
// whether the method is the Gaussian one (DDPM, DDIM: α = 2, A ≡ 1).
func sampleThreeSteps(t *testing.T, cfg Config, c [2]float64, n int, rng *rand.Rand) (x []float32, s *schedule.DLPM, alpha float64, gauss bool) {
	t.Helper()
	gauss = cfg.Method == DDIM || cfg.Method == DDPM
	alpha = cfg.Alpha
	if gauss {
		alpha = 2
	}
	s, err := schedule.NewDLPM(3, alpha)
	if err != nil {
		t.Fatal(err)
	}
	x, err = Sample(&twoStepNet{s: s, c: c}, cfg, n, 2, rng)
	if err != nil {
		t.Fatalf("%+v: %v", cfg, err)
	}
	if len(x) != 2*n {
		t.Fatalf("%+v: %d values, want %d", cfg, len(x), 2*n)
	}
	return x, s, alpha, gauss
}
