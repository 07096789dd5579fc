// Package samplers generates data from a trained network for DLPM,
// DLIM, LIM (SDE and ODE), DDPM and DDIM.
//
// A sampler sees the network only through Denoiser, so the same code
// drives the 2-D MLP and the image U-Net. Any number of steps can be
// used: the discrete samplers rebuild the schedule for that count (the
// network then sees τ = k/steps), the LIM samplers lay a time grid of
// that many intervals.
//
//   - DLPM (docs/algorithms.md §3.6): per-sample mixing variables A_{0…T−1}, their
//     variances Σ_k = σ_k² A_k + γ_k² Σ_{k−1}, Γ_k = σ_k² A_k/Σ_k;
//     x ← (x − σ̄_k Γ_k ε̂)/γ_k + √(Γ_k Σ_{k−1})·N(0, I).
//   - DLIM (docs/algorithms.md §4): x ← (x − σ̄_k ε̂)/γ_k + (σ̄_{k−1}^α − ρ^α)^{1/α} ε̂
//   - ρ√A_k·N(0, I), ρ = η σ̄_{k−1}; η = 0 is deterministic.
//   - LIM (docs/algorithms.md §5.4), r = a(t)/a(s), S = o·b(s)^{1−α}:
//     SDE x ← r x + α²(r−1) S + (r^α − 1)^{1/α} ε′ (eq. 6), ODE x ← r x + α(r−1) S
//     (eq. 8); at α = 2 the code's VP branch.
//   - DDPM and DDIM are DLPM and DLIM with α = 2 and A ≡ 1.
//
// A property of eq. 6 worth knowing (found by this package's tests, not
// stated in the spec or the paper): for α < 2 it does not converge to the
// data even with the exact fractional score and many steps. On isotropic
// α-stable data of scale 1.5, whose score is linear so the sampler's output
// law is known in closed form, it ends at scale 1.85 (α = 1.7) and 1.70
// (α = 1.8) by 1000 steps and stays there. The reverse SDE that keeps the
// forward marginals with the same Lévy noise has drift (β/α)x + 2βS, i.e.
// 2α(r−1)S per step, which lands on 1.500; eq. 6's α²(r−1)S agrees with it
// only at α = 2. levy implements eq. 6 as published (faithful to the
// paper and the reference code); eq. 8 (the ODE) and both α = 2 branches
// converge. TestLIMSchemeLawApproachesData and TestLIMSamplersMatchStableData
// hold the numbers.
//
// Every sampler starts from σ̄_{T−1}·ε (DLPM family) or unit noise (LIM),
// and clips its output to [−Clip, Clip] when Clip > 0.
package samplers
