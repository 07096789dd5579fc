package worker

// shard returns the part of a step's global batch of batch points that
// rank takes in a ring of world ranks: the n points from position lo.
// Each rank takes batch/world points and the first batch mod world ranks
// one more, in rank order, so the shards tile [0, batch).
func shard(batch, world, rank int) (lo, n int) {
	base, rem := batch/world, batch%world
	lo = rank*base + min(rank, rem)
	n = base
	if rank < rem {
		n++
	}
	return lo, n
}

// shardWeight is what rank's gradient is multiplied by before the ring
// averages the world gradients, so that the average is the mean over the
// global batch: n·world/batch for a shard of n points. It is 0 when every
// shard has batch/world points (the factor would be exactly 1: nothing
// to multiply).
func shardWeight(batch, world, n int) float64 {
	if n*world == batch {
		return 0
	}
	return float64(n*world) / float64(batch)
}
