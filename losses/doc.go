// Package losses turns clean data into training examples and scores the
// network's output, for DLPM, LIM and DDPM.
//
// Prepare draws, for each sample of a batch, the time, the noise and the
// noised input, and writes the target the network must predict:
//
//   - DLPM (docs/algorithms.md §3.4): k ~ U{1…T−1}, A (clamp_a applied), z ~ N(0,I),
//     ε = √A·z, x = γ̄_k x₀ + σ̄_k ε, τ = k/T, target ε.
//   - DDPM: the same with α = 2 and A ≡ 1 (ε ~ N(0,I)), target ε.
//   - LIM (docs/algorithms.md §5.3): t ~ U(1e−5, 0.9946), ε unit isotropic SαS,
//     x = a(t) x₀ + b(t) ε, τ = t, target −ε/α (at α = 2: ε ~ N(0,I),
//     target −ε, the standard VP-SDE).
//
// The losses, over a batch of n samples of dimension d with r = out − target:
//
//   - RMS (DLPM "SimpleLess", lploss = 2): mean_i sqrt(mean_j r_ij²).
//   - MSE (DDPM; LIM option): mean_ij r_ij².
//   - SmoothL1 (LIM default, Huber with β = 1): mean_ij h(r_ij),
//     h(r) = r²/2 for |r| < 1 and |r| − 1/2 otherwise.
//
// Loss is a fused gorgonia Op (value and gradient computed in one pass in
// float32/float64 on the host; written by hand because gorgonia has no
// Huber and its composed RMS costs six graph nodes).
package losses
