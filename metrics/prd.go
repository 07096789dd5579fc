package metrics

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// PRDOptions configures PRD.
type PRDOptions struct {
	Clusters  int // K, number of k-means cells
	Angles    int // number of slopes λ in linspace(1e−10, π/2 − 1e−10, Angles)
	Runs      int // independent clusterings whose curves are averaged
	NInit     int // k-means++ restarts per clustering
	BatchSize int // mini-batch size of MiniBatchKMeans
}

// DefaultPRDOptions returns the settings of the reference code for n points
// per set: K = 100 if n > 2500 else 20, 201 angles, 10 runs, n_init = 10 and
// scikit-learn's (≥ 1.4) default batch size 1024.
func DefaultPRDOptions(n int) PRDOptions {
	k := 20
	if n > 2500 {
		k = 100
	}
	return PRDOptions{Clusters: k, Angles: 201, Runs: 10, NInit: 10, BatchSize: 1024}
}

// PRDResult holds the PRD summary and the run-averaged curves.
type PRDResult struct {
	F8   float64 // max over λ of F_8
	F1_8 float64 // max over λ of F_{1/8}
	F1   float64 // 2·F8·F1_8/(F8 + F1_8)
	// Precision and Recall are the run-averaged P(λ), R(λ) curves.
	Precision, Recall []float64
}

// PRD computes the precision/recall-for-distributions score of Sajjadi et al.
// (2018) as used for the 2-D benchmarks (docs/algorithms.md §7.2 a). real and gen
// must hold the same number of points. Clustering is done with
// MiniBatchKMeans on gen ∪ real (generated points first) using rng.
func PRD(real, gen []float64, d int, rng *rand.Rand, o PRDOptions) (PRDResult, error) {
	nr, err := checkSet("real", real, d)
	if err != nil {
		return PRDResult{}, err
	}
	ng, err := checkSet("generated", gen, d)
	if err != nil {
		return PRDResult{}, err
	}
	if nr != ng {
		return PRDResult{}, fmt.Errorf("%w (PRD: %d real vs %d generated)", errLength, nr, ng)
	}
	n := nr
	if o.Clusters < 1 || o.Clusters > 2*n {
		return PRDResult{}, fmt.Errorf("metrics: PRD: Clusters = %d must be in [1, %d]", o.Clusters, 2*n)
	}
	if o.Angles < 1 || o.Runs < 1 {
		return PRDResult{}, fmt.Errorf("metrics: PRD: Angles (%d) and Runs (%d) must be positive", o.Angles, o.Runs)
	}
	if rng == nil {
		return PRDResult{}, fmt.Errorf("metrics: PRD: nil rng")
	}
	k := o.Clusters

	slopes := make([]float64, o.Angles)
	const eps = 1e-10
	for i := range slopes {
		lam := eps
		if o.Angles > 1 {
			lam = eps + float64(i)*((math.Pi/2-eps)-eps)/float64(o.Angles-1)
		}
		slopes[i] = math.Tan(lam)
	}

	union := make([]float64, 0, 2*n*d)
	union = append(union, gen...)
	union = append(union, real...)
	ko := KMeansOptions{NInit: o.NInit, BatchSize: o.BatchSize}

	prec := make([]float64, o.Angles)
	rec := make([]float64, o.Angles)
	pg := make([]float64, k)
	pr := make([]float64, k)
	for range o.Runs {
		_, labels, _ := MiniBatchKMeans(union, d, k, rng, ko)
		clear(pg)
		clear(pr)
		for i, l := range labels {
			if i < n {
				pg[l]++
			} else {
				pr[l]++
			}
		}
		for c := range k {
			pg[c] /= float64(n)
			pr[c] /= float64(n)
		}
		for a, s := range slopes {
			p := 0.0
			for c := range k {
				p += math.Min(s*pr[c], pg[c])
			}
			r := p / s
			prec[a] += clip01(p)
			rec[a] += clip01(r)
		}
	}
	for a := range prec {
		prec[a] /= float64(o.Runs)
		rec[a] /= float64(o.Runs)
	}
	res := PRDResult{Precision: prec, Recall: rec}
	res.F8 = maxFBeta(prec, rec, 8)
	res.F1_8 = maxFBeta(prec, rec, 1.0/8)
	if s := res.F8 + res.F1_8; s > 0 {
		res.F1 = 2 * res.F8 * res.F1_8 / s
	}
	return res, nil
}

func clip01(v float64) float64 {
	return math.Max(0, math.Min(1, v))
}

// maxFBeta returns max_i (1+β²)P_i R_i/(β² P_i + R_i + 1e−10).
func maxFBeta(p, r []float64, beta float64) float64 {
	b2 := beta * beta
	best := math.Inf(-1)
	for i := range p {
		f := (1 + b2) * p[i] * r[i] / (b2*p[i] + r[i] + 1e-10)
		best = math.Max(best, f)
	}
	return best
}
