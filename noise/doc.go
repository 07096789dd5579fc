// Package noise draws the α-stable noise of DLPM and LIM.
//
// Conventions (docs/algorithms.md §1–§2): unit noise ε has characteristic function
// E exp(i⟨u,ε⟩) = exp(−‖u‖^α). It is built with the Gaussian trick
// ε = √A·G, G ~ N(0, I_d), where A = 2·P and P is the positive
// (totally skewed) α/2-stable variable with Laplace transform
// E exp(−λP) = exp(−λ^{α/2}). At α = 2, A ≡ 2 and ε ~ N(0, 2I).
//
//   - Symmetric draws one 1-D SαS(1) value by Chambers–Mallows–Stuck
//     (the tan branch at α = 1).
//   - MixingA draws A by Kanter's formula in float64; it has no tan and
//     tends smoothly to 2 as α → 2.
//   - Generator fills batches: isotropic noise shares one A per sample
//     across all coordinates, non-isotropic noise draws one A per
//     coordinate. Optional clamps: A ← min(A, ClampA), ε ← clip(ε, ±ClampEps).
//
// Every draw takes an explicit *rand.Rand; Stream derives one from
// (seed, rank, step, …) so that a resumed run continues the same stream.
// The package never logs, never starts goroutines and does no I/O.
package noise
