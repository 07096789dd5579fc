// Package schedule holds the noise schedules of DLPM (discrete cosine,
// docs/algorithms.md §3.1) and LIM (continuous cosine, docs/algorithms.md §5.1).
//
// DLPM, for k = 0 … T−1 with s = 0.008:
//
//	f(k) = cos²((k/T + s)/(1+s)·π/2),  ᾱ_k = f(k)/f(0),  α_k = ᾱ_k/ᾱ_{k−1}
//	γ_k = α_k^{1/α}, σ_k = (1 − γ_k^α)^{1/α}, γ̄_k = ᾱ_k^{1/α}, σ̄_k = (1 − γ̄_k^α)^{1/α}
//
// Index 0 is the clean data (γ̄_0 = 1, σ̄_0 = 0); there is no β clipping.
// Given the mixing variables a_k of each step, the chain is Gaussian with
// variance Σ_k = σ_k² a_k + γ_k² Σ_{k−1} and posterior coefficient
// Γ_k = σ_k² a_k / Σ_k (computed in this form to avoid cancellation).
//
// LIM: a(t) = cos((t+s)/(1+s)·π/2)/cos(s/(1+s)·π/2), b(t) = (1 − a^α)^{1/α},
// β(t) = −α d/dt log a(t), on t ∈ [1e−5, 0.9946].
package schedule
