// Package allreduce sums a flat float32 buffer across the ranks of a ring
// (a ring all-reduce) over a pluggable Transport: NATS in production, an
// in-memory network with fault injection in tests.
//
// # Algorithm
//
// The buffer of S values is cut into N segments (N ranks; the first
// S mod N segments are one longer). Rank r sends only to r+1 and receives
// only from r−1 (mod N). In 2(N−1) steps:
//
//   - reduce-scatter, steps k = 0 … N−2: rank r sends segment r−k and
//     receives segment r−k−1, which it adds into its own copy; after
//     them rank r holds the complete sum of segment r+1;
//   - all-gather, steps k = N−1 … 2N−3: the complete segments travel once
//     around the ring and overwrite the partial ones.
//
// The segment a rank receives at step k is the one it sends at step k+1,
// so the exchange is pipelined per chunk: a segment is cut into chunks of
// at most ChunkBytes, and each chunk is forwarded as soon as it has been
// received and added (or copied). Several chunks are in flight at once
// and no step waits for a whole segment. Each rank sends 2(N−1)/N·S
// values, the minimum for an all-reduce.
//
// Each segment's sum is computed once, in the fixed order of the ring,
// and copied bit for bit by the all-gather, so every rank ends with the
// same bits.
//
// # Messages and failures
//
// Over NATS (NewNATS) the ring's members are worker IDs, and a chunk for
// rank r from worker w goes to <prefix>.r.w: the subject names the
// sender, which NATS subject permissions can authenticate
// (docs/security.md). A rank drops, and counts, chunks whose sender is not
// its left peer or disagrees with the header's source rank.
//
// A chunk is a 48-byte little-endian header (magic, version, ring
// generation, call sequence number, total length, step, chunk index,
// sender, count) followed by the values, little-endian. Messages of
// another generation or of an earlier call are stale and dropped. Any
// other surprise (a chunk from the wrong peer, a step or chunk index
// other than the next expected one, which means a message was lost since
// links deliver in order, a wrong length) fails the call at once; a chunk
// that does not come within Config.Timeout fails it at the deadline. A
// failed call returns an error wrapping ErrRingBroken, never a partial
// or wrong sum, and the Ring refuses later calls: the caller builds a new
// ring under a new generation (a fresh rendezvous, as torchrun and
// Horovod do).
package allreduce
