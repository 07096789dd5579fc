// Package coordinator runs a job over a set of training workers that talk
// only through NATS.
//
// The coordinator's knowledge is a State: the job, its members, the ring
// generation, the progress and the newest checkpoint. State changes only
// through Apply(Op), a deterministic function of the ops applied so far,
// so that the next step can replicate it with raft (an FSM whose log
// entries are Ops) without changing it.
//
// Protocol (subjects in package internal/wire):
//
//  1. Workers request levy.coord.join; the coordinator accepts up to
//     --workers of them.
//  2. When the job has its workers, the coordinator starts ring generation
//     g: rank r is the r-th worker to join; each worker gets an Assign on
//     levy.worker.<id>.assign with the spec, its rank, the ring and, on
//     resume, the checkpoint to load.
//  3. Rank 0 reports progress about once a second and announces every
//     checkpoint; the coordinator prints a progress line every few
//     seconds (step, loss, steps/s, all-reduce ms, ETA) and records the
//     newest checkpoint.
//  4. To stop (Ctrl-C, or --stop-at), the coordinator asks for a stop; the
//     workers agree on the step through their all-reduce, save a
//     checkpoint and leave. Every rank reports Done; an error from any
//     rank fails the job, and the newest checkpoint is where to resume.
package coordinator
