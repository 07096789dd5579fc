// Package worker holds the two services that do the numeric work of a
// job: the training worker and the sampling worker.
//
// A training worker (Worker) joins the coordinator, receives its rank, the
// ring and the job, and runs the data-parallel loop. For step s of a job
// with global batch B on N workers:
//
//  1. Data order: the epoch e = s / ⌊n/B⌋ permutes the n points with a
//     stream of (seed, epoch); step s takes the s-th block of B points and
//     rank r a shard of b_r = ⌊B/N⌋ points (one more if r < B mod N) of it,
//     from position o_r = Σ_{q<r} b_q. The remainder of an epoch is
//     dropped, so no point is used twice in an epoch.
//  2. Noise: the example at position j of the global batch draws its time
//     step and its α-stable noise from the stream (seed, step, j). The
//     draws therefore do not depend on N, and a resumed run continues the
//     same streams.
//  3. Each rank computes the mean loss over its b_r points and its
//     gradient, weighed by b_r·N/B when the shards are unequal (so that
//     the average over the N ranks is the mean over the B points; the
//     factor is 1, and skipped, when N divides B); one ring all-reduce
//     (package allreduce) averages the gradients, the loss and the
//     control words (checkpoint requested, stop requested, non-finite
//     gradient), so every rank sees the same decisions at the same step. A step whose gradient is not finite on
//     any rank is skipped by all; ten in a row fail the job.
//  4. AdamW step and the EMA of the weights (in the engine); every rank
//     holds the same bits.
//  5. Rank 0 reports progress and checkpoints (package checkpoint): it
//     copies the state and writes it in the background, off the ring's
//     path, one checkpoint at a time, and announces each once durable;
//     the last is durable before the rank reports Done.
//
// The network runs on an engine.Engine (package engine, which picks the
// CPU or a GPU engine from Config.GPU): the engine adds the gradient into
// its buckets, the worker weighs and all-reduces each bucket as soon as
// it is ready, the last one with the control words in its reserved
// tail, and the engine applies the step and keeps the EMA. The worker
// names no network package.
//
// A sampling worker (Sampler) watches for new checkpoints, samples the
// model with the job's sampler, and writes samples.safetensors,
// samples.png and metrics.json to the run's samples/step-N (SampleDir),
// never into the checkpoint's directory, and copies the newest into the
// run directory.
package worker
