// Package samplers generates data from a trained network for DLPM,
// DLIM, LIM (SDE and ODE), DDPM and DDIM.
//
// A sampler sees the network only through Denoiser, so the same code
// drives the 2-D MLP and the image U-Net. Any number of steps can be
// used: the discrete samplers rebuild the schedule for that count (the
// network then sees τ = k/steps), the LIM samplers lay a time grid of
// that many intervals.
//
//   - DLPM (spec §3.6): per-sample mixing variables A_{0…T−1}, their
//     variances Σ_k = σ_k² A_k + γ_k² Σ_{k−1}, Γ_k = σ_k² A_k/Σ_k;
//     x ← (x − σ̄_k Γ_k ε̂)/γ_k + √(Γ_k Σ_{k−1})·N(0, I).
//   - DLIM (spec §4): x ← (x − σ̄_k ε̂)/γ_k + (σ̄_{k−1}^α − ρ^α)^{1/α} ε̂
//   - ρ√A_k·N(0, I), ρ = η σ̄_{k−1}; η = 0 is deterministic.
//   - LIM (spec §5.4), r = a(t)/a(s), S = o·b(s)^{1−α}:
//     SDE x ← r x + α²(r−1) S + (r^α − 1)^{1/α} ε′ (eq. 6), ODE x ← r x + α(r−1) S
//     (eq. 8); at α = 2 the code's VP branch.
//   - DDPM and DDIM are DLPM and DLIM with α = 2 and A ≡ 1.
//
// Every sampler starts from σ̄_{T−1}·ε (DLPM family) or unit noise (LIM),
// and clips its output to [−Clip, Clip] when Clip > 0.
package samplers
