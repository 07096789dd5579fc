// Package coordinator runs jobs over a set of training workers that talk
// only through NATS.
//
// Two types run it, one inside the other:
//
//   - A JobRunner (NewJobRunner, runner.go) runs one job to its end: it
//     waits for the workers, forms the ring, follows the reports and
//     re-forms a failed ring. cmd/coordinator runs one for a job given on
//     its command line, and package local runs one in-process.
//   - A Service (NewService, service.go) is the long-running coordinator
//     of a standing raft group: while its node leads, it answers the job
//     API (submit, status, cancel, resume) and runs the queued jobs one
//     after the other, each with a JobRunner.
//
// Both keep what they know in a state (state.go): the jobs, their
// members, ring generations, progress and newest checkpoints. The state
// changes only through ops (Op), each applied by a deterministic function
// of the ops before it, so that raft can replicate it (raft.go: a Node's
// FSM, whose log entries are ops) and a new leader take over a running
// job where the last one left it. Job is a copy of one job's record; its
// Phase is "waiting", "running", "done", "stopped" or "failed".
//
// A JobRunner's job loop (loop.go) owns the job for one term of
// leadership: it reads the state only as copies and changes it only
// through the store (memStore, or raft), and each event has its method:
// onJoin (join.go), the ring-formation handshake and takeover (ring.go),
// reports (reports.go), heartbeats (liveness.go), failures, regroups and
// growth (failure.go).
//
// Protocol (subjects in package internal/wire):
//
//  1. A worker asks on levy.coord.join.<id>; it first proves that it sees
//     the run directory (preflight token), then gets a place.
//  2. When the job has its workers, the coordinator records ring
//     generation g (raft) and sends rank r its Assign on
//     levy.worker.<id>.assign, again until the rank is ready; every rank
//     repeats its Ready until the start; the start goes out when all are
//     ready, and again to any rank that repeats its Ready.
//  3. Rank 0 reports progress about once a second and announces every
//     checkpoint; the coordinator adopts a checkpoint once it verifies
//     inside the run, and prints a progress line every few seconds.
//  4. To stop (Ctrl-C, or --stop-at), the coordinator asks for a stop; the
//     workers agree on the step through their all-reduce, save a
//     checkpoint and leave. Every rank reports Done until acknowledged; a
//     ring failure (a dead or hung member) re-forms the ring from the
//     newest checkpoint, other errors fail the job, and every worker of an
//     ended job is told to leave.
//
// Commands and assignments carry the raft term; workers drop those of a
// term older than one they have seen (fencing a deposed leader).
package coordinator
