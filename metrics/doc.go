// Package metrics implements the sample-quality metrics of the DLPM / LIM
// 2-D benchmarks (docs/algorithms.md §7) together with the Welch t-test used to
// compare runs.
//
// Conventions: every point set is a flat row-major []float64 holding n points
// of dimension d (n = len/d). Every randomised routine takes an explicit
// *rand.Rand (math/rand/v2); nothing reads global randomness.
//
// # MSLE (§7.1)
//
// With the level set L = {1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.9, 0.95,
// 0.99, 0.995, 0.999, 0.9995, 0.9999} and U = {p ∈ L : p > ξ},
//
//	m_j  = (1/|U|) Σ_{p∈U} ( log q̂_gen,j(p) − log q̂_real,j(p) )²
//	MSLE = (1/d) Σ_j m_j
//
// where q̂_·,j(p) is the empirical quantile of coordinate j with numpy's
// default "linear" interpolation: for sorted x_0 ≤ … ≤ x_{n−1}, h = (n−1)p,
// q̂(p) = x_⌊h⌋ + (h − ⌊h⌋)(x_{⌊h⌋+1} − x_⌊h⌋). The logarithm is natural and
// is taken of the signed coordinate, so the data must be centred (upper
// quantiles > 0); a non-positive quantile is reported as an error.
//
// # PRD precision/recall (§7.2 a, Sajjadi et al. 2018)
//
// Per run, the union gen ∪ real is clustered into K cells by mini-batch
// k-means (a re-implementation of scikit-learn's MiniBatchKMeans, see
// [MiniBatchKMeans]); p_g and p_r are the normalised cluster histograms of the
// generated and real points. For λ_i = linspace(1e−10, π/2 − 1e−10, A) and
// s = tan λ,
//
//	P(λ) = Σ_c min(s·p_r[c], p_g[c]),   R(λ) = P(λ)/s,
//
// both clipped to [0,1] and averaged over the runs. Then
//
//	F_β = max_λ (1+β²) P R / (β² P + R + 1e−10),  β ∈ {8, 1/8},
//	F1  = 2 F_8 F_{1/8} / (F_8 + F_{1/8}).
//
// # k-NN precision/recall (§7.2 b, Kynkäänniemi et al. 2019)
//
// r_k(x) is the distance from x to its k-th nearest neighbour in its own set
// (the point itself excluded, duplicates count). Precision is the fraction of
// generated points y with ‖y − x‖ < r_k(x) for some real x; recall is the
// fraction of real points x with ‖x − y‖ < r_k(y) for some generated y (strict
// inequalities). F1 = 2PR/(P+R).
//
// # MMD
//
// Unbiased estimator of the squared maximum mean discrepancy with the RBF
// kernel k(x,y) = exp(−‖x−y‖²/(2h²)):
//
//	MMD² = 1/(m(m−1)) Σ_{i≠j} k(x_i,x_j) + 1/(n(n−1)) Σ_{i≠j} k(y_i,y_j)
//	       − 2/(mn) Σ_{i,j} k(x_i,y_j).
//
// # Welch t-test (§7.3)
//
//	t  = (m1 − m2)/√(s1²/n1 + s2²/n2)
//	ν  = (s1²/n1 + s2²/n2)² / [ (s1²/n1)²/(n1−1) + (s2²/n2)²/(n2−1) ]
//	p  = 2·(1 − F_{t,ν}(|t|))
package metrics
