package noise

import "math/rand/v2"

// splitmix64 is the finaliser of Steele et al.'s SplitMix64; it turns
// nearby integers into unrelated 64-bit words.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Stream returns a PCG source seeded from seed and the given parts (for
// example rank and step, or a purpose tag). The same arguments always
// give the same stream; different arguments give unrelated streams.
func Stream(seed uint64, parts ...uint64) *rand.Rand {
	return rand.New(rand.NewPCG(streamSeeds(seed, parts)))
}

// Reseed sets p to the state Stream(seed, parts...) starts from, so that a
// hot loop that needs many short streams (one per training example) can
// reuse one source without allocating.
func Reseed(p *rand.PCG, seed uint64, parts ...uint64) { p.Seed(streamSeeds(seed, parts)) }

func streamSeeds(seed uint64, parts []uint64) (hi, lo uint64) {
	hi = splitmix64(seed)
	lo = splitmix64(seed ^ 0x5851f42d4c957f2d)
	for _, p := range parts {
		hi = splitmix64(hi ^ p)
		lo = splitmix64(lo + p*0x2545f4914f6cdd1d)
	}
	return hi, lo
}

// Purpose tags for Stream, so that the draws of different parts of a run
// never share a stream.
const (
	TagInit   uint64 = 1 // model initialisation
	TagData   uint64 = 2 // dataset generation
	TagTrain  uint64 = 3 // training noise (time steps, A, G)
	TagShuf   uint64 = 4 // data order
	TagSample uint64 = 5 // sampler noise
	TagEval   uint64 = 6 // metrics (k-means, subsampling)
	TagDrop   uint64 = 7 // dropout masks (seed, step, rank)
	TagAug    uint64 = 8 // data augmentation (seed, step, position)
)

// openUniform returns a uniform draw on the open interval (0, 1): the 53
// random bits are centred in their cell, so neither 0 nor 1 can occur
// (docs/algorithms.md §2.5 pitfall 3).
func openUniform(rng *rand.Rand) float64 {
	return (float64(rng.Uint64()>>11) + 0.5) / (1 << 53)
}
