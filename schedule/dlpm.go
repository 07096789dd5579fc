package schedule

import (
	"fmt"
	"math"
)

// CosineOffset is the s of the cosine schedules.
const CosineOffset = 0.008

// DLPM is the discrete schedule of length T for tail index Alpha.
type DLPM struct {
	T     int
	Alpha float64
	// Gamma, Sigma are the one-step coefficients γ_k, σ_k; BarGamma,
	// BarSigma the cumulative ones γ̄_k, σ̄_k; all of length T.
	Gamma, Sigma, BarGamma, BarSigma []float64
}

// NewDLPM builds the schedule. T must be at least 2 and alpha in (0, 2].
func NewDLPM(T int, alpha float64) (*DLPM, error) {
	if T < 2 {
		return nil, fmt.Errorf("schedule: T = %d, want ≥ 2", T)
	}
	if !(alpha > 0 && alpha <= 2) {
		return nil, fmt.Errorf("schedule: alpha = %v is outside (0, 2]", alpha)
	}
	s := &DLPM{T: T, Alpha: alpha,
		Gamma: make([]float64, T), Sigma: make([]float64, T),
		BarGamma: make([]float64, T), BarSigma: make([]float64, T)}
	f := func(k int) float64 {
		c := math.Cos((float64(k)/float64(T) + CosineOffset) / (1 + CosineOffset) * math.Pi / 2)
		return c * c
	}
	f0 := f(0)
	prev := 1.0
	for k := range T {
		abar := f(k) / f0
		ak := abar / prev
		prev = abar
		s.Gamma[k] = math.Pow(ak, 1/alpha)
		s.Sigma[k] = math.Pow(max(0, 1-ak), 1/alpha)
		s.BarGamma[k] = math.Pow(abar, 1/alpha)
		s.BarSigma[k] = math.Pow(max(0, 1-abar), 1/alpha)
	}
	return s, nil
}

// Tau is the network's time input for step k: k/T (docs/algorithms.md §3.5).
func (s *DLPM) Tau(k int) float64 { return float64(k) / float64(s.T) }

// Sigmas fills sig[k] = Σ_k for one sample from its mixing variables
// a[k] (k = 0 … T−1; a[0] is ignored since σ_0 = 0). It panics unless
// len(a) == len(sig) == T.
func (s *DLPM) Sigmas(sig, a []float64) {
	if len(a) != s.T || len(sig) != s.T {
		panic(fmt.Sprintf("schedule: Sigmas: len(a) = %d, len(sig) = %d, want T = %d", len(a), len(sig), s.T))
	}
	sig[0] = 0
	for k := 1; k < s.T; k++ {
		sig[k] = s.Sigma[k]*s.Sigma[k]*a[k] + s.Gamma[k]*s.Gamma[k]*sig[k-1]
	}
}

// Posterior returns Γ_k = σ_k² a_k / Σ_k (= 1 − γ_k² Σ_{k−1}/Σ_k) for
// k ≥ 1, given a_k and Σ_k.
func (s *DLPM) Posterior(k int, ak, sigmaK float64) float64 {
	return s.Sigma[k] * s.Sigma[k] * ak / sigmaK
}
