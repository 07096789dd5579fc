package metrics

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Welch performs the two-sided Welch (unequal variances) t-test from summary
// statistics (docs/algorithms.md §7.3): means m1, m2, sample standard deviations
// s1, s2 and sizes n1, n2 (each ≥ 2). It returns the statistic
// t = (m1 − m2)/√(s1²/n1 + s2²/n2), the Welch–Satterthwaite degrees of
// freedom df and p = 2·(1 − F_{t,df}(|t|)), evaluated as 2·S_{t,df}(|t|) with
// the Student-t survival function to keep precision for small p.
func Welch(m1, s1 float64, n1 int, m2, s2 float64, n2 int) (t, df, p float64) {
	v1 := s1 * s1 / float64(n1)
	v2 := s2 * s2 / float64(n2)
	se2 := v1 + v2
	t = (m1 - m2) / math.Sqrt(se2)
	df = se2 * se2 / (v1*v1/float64(n1-1) + v2*v2/float64(n2-1))
	st := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}
	p = 2 * st.Survival(math.Abs(t))
	return t, df, p
}

// WelchSamples runs Welch's test on two samples, using MeanStd for the
// summary statistics.
func WelchSamples(a, b []float64) (t, df, p float64) {
	m1, s1 := MeanStd(a)
	m2, s2 := MeanStd(b)
	return Welch(m1, s1, len(a), m2, s2, len(b))
}

// MeanStd returns the sample mean and the sample standard deviation with the
// n−1 denominator (NaN std for fewer than two values, NaN mean for none).
func MeanStd(x []float64) (mean, std float64) {
	n := len(x)
	if n == 0 {
		return math.NaN(), math.NaN()
	}
	for _, v := range x {
		mean += v
	}
	mean /= float64(n)
	if n < 2 {
		return mean, math.NaN()
	}
	ss := 0.0
	for _, v := range x {
		e := v - mean
		ss += e * e
	}
	return mean, math.Sqrt(ss / float64(n-1))
}
