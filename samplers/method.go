package samplers

import "slices"

// The training methods: how a model's training examples were noised
// (package losses makes them). The method decides what the network
// predicts, and so which samplers can use it (Compatible). They are
// defined here, and only here, because this is the lowest package that
// needs them and that every user can import: losses, the job spec
// (which must stay free of gorgonia, so it cannot import losses), the
// engine and the command line.
const (
	MethodDLPM = "dlpm"
	MethodLIM  = "lim"
	MethodDDPM = "ddpm"
)

// Methods lists every training method.
var Methods = []string{MethodDLPM, MethodLIM, MethodDDPM}

// compatible is the method ↔ sampler table; a method's first sampler is
// its default.
var compatible = map[string][]string{
	MethodDLPM: {DLPM, DLIM},
	MethodLIM:  {LIMSDE, LIMODE},
	MethodDDPM: {DDPM, DDIM},
}

// Compatible lists the samplers that fit a model trained with method,
// its default first; nil for an unknown method.
func Compatible(method string) []string {
	return slices.Clone(compatible[method])
}

// Fits reports whether sampler can sample a model trained with method.
func Fits(method, sampler string) bool {
	return slices.Contains(compatible[method], sampler)
}
