// Package wire holds the NATS subjects and the versioned control messages
// that the coordinator, the training workers and the sampling workers
// exchange. Gradients do not pass through here: the all-reduce has its
// own binary chunk format (package allreduce).
//
// Messages are JSON objects with a "v" (protocol version) field. Every
// decoder is strict (unknown fields and trailing data are refused),
// checks the version and validates the fields, so a malformed or foreign
// message is an error that names the problem, never a panic. Paths are
// relative (to the receiver's runs root, or to the run directory) and
// may not climb out of it (CheckRel).
//
// Subjects (job IDs and worker IDs are restricted to [A-Za-z0-9_-], so
// they are single NATS tokens). Every subject a worker or sampler
// publishes on ends with its own ID, so that NATS subject permissions
// (docs/security.md) tie a message to the credentials that sent it:
//
//	levy.coord.join.<id>                   request/reply: Join → JoinReply (preflight, then a place)
//	levy.worker.<id>.assign                coordinator → worker: Assign (with the raft term)
//	levy.worker.<id>.heartbeat             every worker, every second: Heartbeat
//	levy.job.<job>.ctl                     coordinator → workers: Command (with the raft term)
//	levy.job.<job>.checkpoints             coordinator → samplers: adopted Checkpoint
//	levy.job.<job>.ready.<id>              every rank → coordinator: Ready (repeated until the start)
//	levy.job.<job>.progress.<id>           rank 0 → coordinator: Progress
//	levy.job.<job>.ckpt.<id>               rank 0 → coordinator: Checkpoint
//	levy.job.<job>.done.<id>               every rank → coordinator, request until acknowledged: Done
//	levy.job.<job>.samples.<id>            sampler → coordinator: Samples
//	levy.job.<job>.ar.<generation>.<r>.<id>  all-reduce chunks to rank r from worker id
package wire
