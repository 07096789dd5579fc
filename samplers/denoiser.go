package samplers

// Denoiser is the network as a sampler sees it.
//
// Denoise writes the network output for a batch into dst. x holds n points
// of dimension d row-major (len(x) == n*d), tau holds the n time inputs (the
// scaled time the network was trained with: k/T for DLPM and DDPM, raw t for
// LIM), and dst has the length of x. What the output means (ε̂ or the LIM
// score parameterisation o_θ) is up to the sampler that drives it.
type Denoiser interface {
	Denoise(dst, x, tau []float32) error
}
