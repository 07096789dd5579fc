// Package wire holds the NATS subjects and the versioned control messages
// that the coordinator, the training workers and the sampling workers
// exchange. Gradients do not pass through here: the all-reduce has its
// own binary chunk format (package allreduce).
//
// Messages are JSON objects with a "v" (protocol version) field. Every
// decoder is strict (unknown fields and trailing data are refused),
// checks the version and validates the fields, so a malformed or foreign
// message is an error that names the problem, never a panic.
//
// Subjects (job IDs and worker IDs are restricted to [A-Za-z0-9_-], so
// they are single NATS tokens):
//
//	levy.coord.join                    request/reply: Join → JoinReply
//	levy.worker.<worker>.assign        coordinator → worker: Assign
//	levy.worker.heartbeat              every worker, every second: Heartbeat
//	levy.job.<job>.ctl                 coordinator → workers: Command
//	levy.job.<job>.progress            rank 0 → coordinator: Progress
//	levy.job.<job>.ckpt                rank 0 → coordinator, samplers: Checkpoint
//	levy.job.<job>.ready               every rank → coordinator: Ready
//	levy.job.<job>.done                every rank → coordinator: Done
//	levy.job.<job>.samples             sampler → coordinator: Samples
//	levy.job.<job>.ar.<generation>     prefix of the all-reduce subjects (one per rank)
package wire
