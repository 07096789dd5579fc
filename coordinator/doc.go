// Package coordinator runs a job over a set of training workers that talk
// only through NATS.
//
// The coordinator's knowledge is a State: the job, its members, the ring
// generation, the progress and the newest checkpoint. State changes only
// through Apply(Op), a deterministic function of the ops applied so far,
// so that the next step can replicate it with raft (an FSM whose log
// entries are Ops) without changing it.
//
// The job loop (loop.go) owns one job for one term of leadership: it
// reads the state only as copies and changes it only through the store
// (memStore, or raft), and each event has its method: onJoin (join.go),
// the ring-formation handshake and takeover (ring.go), reports
// (reports.go), heartbeats (liveness.go), failures, regroups and growth
// (failure.go).
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
