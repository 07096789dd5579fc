// Package data2d generates the two 2-D benchmarks of the DLPM paper.
//
//   - Grid9 (Table 2, docs/algorithms.md §6.2): the imbalanced mixture of nine Gaussians
//     with means on {0,1,2}² in row-major order (i, j) and weights
//     (0.01, 0.10, 0.30, 0.20, 0.02, 0.15, 0.02, 0.15, 0.05); the standard
//     deviation is a parameter (0.1 as released, 0.05 as printed).
//   - SAS2D (Table 1, docs/algorithms.md §6.1): isotropic α-stable data, scale·√A·G with
//     α_data = 1.7 and scale 0.05, centred at the origin.
package data2d
