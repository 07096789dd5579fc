// Package repro runs the protocol of the DLPM paper's 2-D tables: Table 1
// (MSLE at ξ = 0.95 on isotropic α-stable data) and Table 2 (PRD F1 on the
// imbalanced 9-Gaussian grid), with R independent seeds per cell, and
// compares each method with DLPM by Welch's t-test.
//
// Per run and α: DLPM is trained once and sampled with the DLPM sampler
// (T steps) and with DLIM (η = 0, DLIMSteps steps); LIM is trained and
// sampled with its SDE sampler (eq. 6, T steps, linear grid); DDPM (only
// at α = 2) with ancestral sampling. Each sampled set of N points is
// scored against N training points.
package repro
