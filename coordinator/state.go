package coordinator

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// Phases of a job.
const (
	phaseWaiting = "waiting" // collecting workers
	phaseRunning = "running"
	phaseDone    = "done"
	phaseStopped = "stopped" // stopped on request, resumable
	phaseFailed  = "failed"
)

// ErrOp is wrapped by errors of ops that do not apply to the state.
var ErrOp = errors.New("coordinator: op does not apply")

// Op kinds.
const (
	opSubmit     = "submit"     // Job, Spec, Want, Resume, ResumeStep
	opJoin       = "join"       // Job, Worker
	opStart      = "start"      // Job: a new ring generation with the members in join order
	opProgress   = "progress"   // Job, Step
	opCheckpoint = "checkpoint" // Job, Step, Dir
	opRankDone   = "rank_done"  // Job, Rank, Step, Error
	opStopAsked  = "stop_asked" // Job
	opReady      = "ready"      // Job, Rank: the rank listens on the current ring
	opRegroup    = "regroup"    // Job, Want, Resume, Step, Error: the ring failed (Error set) or grows; collect workers for a new one
	opCancel     = "cancel"     // Job: a waiting job is stopped at once (a running one is asked to stop)
	opGrow       = "grow"       // Job, Step (the generation): the running ring was asked to regroup for its pending workers
	opFinish     = "finish"     // Job, Step, Dir: the job's final checkpoint is on storage (a new leader found it): done
)

// Op is one change of the state: what a raft log entry carries. Only
// this package makes and applies ops; other packages see them in
// Faults.Apply (tests). Kind is one of "submit", "join", "start",
// "progress", "checkpoint", "rank_done", "stop_asked", "ready",
// "regroup", "cancel", "grow" and "finish" (the op* constants).
type Op struct {
	Kind   string          `json:"kind"`
	Job    string          `json:"job"`
	Spec   json.RawMessage `json:"spec,omitempty"`
	Want   int             `json:"want,omitempty"`
	Resume string          `json:"resume,omitempty"`
	Worker string          `json:"worker,omitempty"`
	Rank   int             `json:"rank,omitempty"`
	Step   int             `json:"step,omitempty"`
	Dir    string          `json:"dir,omitempty"`
	Error  string          `json:"error,omitempty"`
	Loss   float64         `json:"loss,omitempty"`
	Rate   float64         `json:"rate,omitempty"` // steps/s
	Min    int             `json:"min,omitempty"`  // submit: fewest workers a ring may run with
	Max    int             `json:"max,omitempty"`  // submit: most workers a ring may grow to
	// Incarnation: join: the worker process's incarnation (wire.Join).
	Incarnation string `json:"incarnation,omitempty"`
}

// Job is the coordinator's record of one job. Phase is "waiting"
// (collecting workers), "running", "done", "stopped" (on request;
// resumable) or "failed".
//
// Done and Ready are empty, not nil, while a ring runs. They have no
// omitempty: a raft snapshot must keep an empty map empty (restored as
// nil, it made the next ready or rank_done report panic in raft's FSM
// goroutine, on every restart).
type Job struct {
	ID         string          `json:"id"`
	Spec       json.RawMessage `json:"spec"`
	Want       int             `json:"want"` // workers
	Phase      string          `json:"phase"`
	Members    []string        `json:"members"` // in join order = rank order
	Generation uint64          `json:"generation"`
	Resume     string          `json:"resume,omitempty"` // checkpoint the current generation started from
	Step       int             `json:"step"`
	Latest     string          `json:"latest,omitempty"` // newest checkpoint directory
	LatestStep int             `json:"latest_step"`
	Done       map[int]string  `json:"done"` // rank → error ("" = clean)
	StopAsked  bool            `json:"stop_asked,omitempty"`
	Ready      map[int]bool    `json:"ready"` // ranks listening on the current ring
	Error      string          `json:"error,omitempty"`
	Seq        int             `json:"seq"`                // submission order
	Loss       float64         `json:"loss,omitempty"`     // from the newest progress report
	Rate       float64         `json:"rate,omitempty"`     // steps/s, idem
	Restarts   int             `json:"restarts,omitempty"` // rings re-formed after failures
	Failures   []string        `json:"failures,omitempty"` // why each ring failed
	Min        int             `json:"min,omitempty"`      // fewest workers a ring may run with (0: 1)
	Max        int             `json:"max,omitempty"`      // most workers a ring may grow to (0: Want)
	// Pending are workers that joined the running ring; they become
	// members of the next generation.
	Pending []string `json:"pending,omitempty"`
	Grows   int      `json:"grows,omitempty"` // rings re-formed to take in new workers
	// Incarnations: worker → the incarnation of the process that joined
	// (members and pending): reports from another process of the same ID
	// are not the member's.
	Incarnations map[string]string `json:"incarnations,omitempty"`
	// GrowAsked is the generation asked to regroup for pending workers.
	GrowAsked uint64 `json:"grow_asked,omitempty"`
}

// clone returns a deep copy of j: no map, slice or Spec is shared, and
// a nil one stays nil (an empty one empty). The clone of nil is nil.
func (j *Job) clone() *Job {
	if j == nil {
		return nil
	}
	c := *j
	c.Spec = slices.Clone(j.Spec)
	c.Members = slices.Clone(j.Members)
	c.Done = maps.Clone(j.Done)
	c.Ready = maps.Clone(j.Ready)
	c.Failures = slices.Clone(j.Failures)
	c.Pending = slices.Clone(j.Pending)
	c.Incarnations = maps.Clone(j.Incarnations)
	return &c
}

// bounds returns the fewest and the most workers of a ring.
func (j *Job) bounds() (lo, hi int) {
	lo, hi = max(1, j.Min), j.Max
	if hi < j.Want {
		hi = j.Want
	}
	return lo, hi
}

// state is everything the coordinator knows.
type state struct {
	Jobs    map[string]*Job `json:"jobs"`
	NextSeq int             `json:"next_seq"`
}

// newState returns an empty state.
func newState() *state { return &state{Jobs: map[string]*Job{}} }

func opErr(op Op, format string, a ...any) error {
	return fmt.Errorf("%w: %s %s: %s", ErrOp, op.Kind, op.Job, fmt.Sprintf(format, a...))
}

// clone returns a deep copy of s.
func (s *state) clone() *state {
	c := &state{Jobs: make(map[string]*Job, len(s.Jobs)), NextSeq: s.NextSeq}
	for id, j := range s.Jobs {
		c.Jobs[id] = j.clone()
	}
	return c
}

// Check returns the error Apply(op) would return, without changing s.
func (s *state) Check(op Op) error {
	// Apply reads and writes op's job and NextSeq only: apply op to a
	// state holding a copy of them.
	scratch := &state{Jobs: map[string]*Job{}, NextSeq: s.NextSeq}
	if j := s.Jobs[op.Job]; j != nil {
		scratch.Jobs[op.Job] = j.clone()
	}
	return scratch.Apply(op)
}

// Apply applies op. It is deterministic: the same ops in the same order
// give the same state.
func (s *state) Apply(op Op) error {
	j := s.Jobs[op.Job]
	if op.Kind != opSubmit && j == nil {
		return opErr(op, "no such job")
	}
	switch op.Kind {
	case opSubmit:
		return s.submit(j, op)
	case opJoin:
		return j.join(op)
	case opStart:
		return j.start(op)
	case opReady:
		return j.ready(op)
	case opProgress:
		if op.Step > j.Step {
			j.Step = op.Step
		}
		j.Loss, j.Rate = op.Loss, op.Rate
	case opCancel:
		return j.cancel(op)
	case opCheckpoint:
		if op.Step >= j.LatestStep {
			j.Latest, j.LatestStep = op.Dir, op.Step
		}
	case opRegroup:
		return j.regroup(op)
	case opStopAsked:
		j.StopAsked = true
	case opGrow:
		if j.Phase != phaseRunning || uint64(op.Step) != j.Generation || len(j.Pending) == 0 {
			return opErr(op, "grow generation %d: the job is %s in generation %d with %d pending", op.Step, j.Phase, j.Generation, len(j.Pending))
		}
		j.GrowAsked = j.Generation
	case opFinish:
		return j.finish(op)
	case opRankDone:
		return j.rankDone(op)
	default:
		return opErr(op, "unknown op")
	}
	return nil
}

// submit records a new job, or a stopped or failed one submitted again
// (j, which keeps its ring generation).
func (s *state) submit(j *Job, op Op) error {
	if j != nil && j.Phase != phaseStopped && j.Phase != phaseFailed {
		return opErr(op, "the job exists and is %s", j.Phase)
	}
	if op.Want < 1 {
		return opErr(op, "want %d workers", op.Want)
	}
	gen := uint64(0)
	if j != nil {
		gen = j.Generation
	}
	if op.Min > op.Want || (op.Max > 0 && op.Max < op.Want) {
		return opErr(op, "want %d workers outside [%d, %d]", op.Want, op.Min, op.Max)
	}
	s.Jobs[op.Job] = &Job{ID: op.Job, Spec: op.Spec, Want: op.Want, Phase: phaseWaiting,
		Generation: gen, Resume: op.Resume, Step: op.Step, LatestStep: op.Step, Latest: op.Resume, Seq: s.NextSeq,
		Min: op.Min, Max: op.Max}
	s.NextSeq++
	return nil
}

// join takes a worker into the ring being collected, or into the
// pending workers of a running ring that may grow.
func (j *Job) join(op Op) error {
	if slices.Contains(j.Pending, op.Worker) {
		j.setIncarnation(op.Worker, op.Incarnation) // a retried join, or a restarted process
		return nil
	}
	if j.Phase == phaseRunning {
		if slices.Contains(j.Members, op.Worker) {
			// It left the ring (stopped, or the ring failed) and
			// must wait until the coordinator has heard of it.
			return opErr(op, "worker %s is still in ring generation %d", op.Worker, j.Generation)
		}
		// A worker joining a running ring waits for the next
		// generation, if the ring may grow.
		if _, hi := j.bounds(); len(j.Members)+len(j.Pending) >= hi {
			return opErr(op, "the ring has %d workers, its most (max_workers %d)", len(j.Members)+len(j.Pending), hi)
		}
		j.Pending = append(j.Pending, op.Worker)
		j.setIncarnation(op.Worker, op.Incarnation)
		return nil
	}
	if j.Phase != phaseWaiting {
		return opErr(op, "the job is %s", j.Phase)
	}
	if slices.Contains(j.Members, op.Worker) {
		j.setIncarnation(op.Worker, op.Incarnation) // a retried join, or a restarted process
		return nil
	}
	if len(j.Members) >= j.Want {
		return opErr(op, "the job has its %d workers", j.Want)
	}
	j.Members = append(j.Members, op.Worker)
	j.setIncarnation(op.Worker, op.Incarnation)
	return nil
}

// start begins a new ring generation with the members in join order.
func (j *Job) start(op Op) error {
	// An elastic restart goes on with fewer workers than asked (op.Want);
	// those left out wait for the next generation.
	members, want := len(j.Members), j.Want
	cut := op.Want > 0 && op.Want <= members
	if cut {
		members, want = op.Want, op.Want
	}
	if j.Phase != phaseWaiting || members != want || want == 0 {
		return opErr(op, "phase %s with %d of %d workers", j.Phase, members, want)
	}
	if cut {
		j.Pending = append(j.Pending, j.Members[op.Want:]...)
		j.Members, j.Want = j.Members[:op.Want:op.Want], op.Want
	}
	j.Phase = phaseRunning
	j.Generation++
	j.Done = map[int]string{}
	j.Ready = map[int]bool{}
	return nil
}

// ready records that a rank listens on the current ring.
func (j *Job) ready(op Op) error {
	if j.Phase != phaseRunning {
		return opErr(op, "the job is %s", j.Phase)
	}
	if op.Rank < 0 || op.Rank >= j.Want {
		return opErr(op, "rank %d of %d", op.Rank, j.Want)
	}
	if j.Ready == nil {
		j.Ready = map[int]bool{}
	}
	j.Ready[op.Rank] = true
	return nil
}

// cancel stops a waiting job at once and asks a running one to stop.
func (j *Job) cancel(op Op) error {
	switch j.Phase {
	case phaseWaiting:
		j.Phase, j.StopAsked = phaseStopped, true
	case phaseRunning:
		j.StopAsked = true
	default:
		return opErr(op, "the job is already %s", j.Phase)
	}
	return nil
}

// regroup ends the running ring (failed, with op.Error, or grown) and
// collects workers for the next one.
func (j *Job) regroup(op Op) error {
	if j.Phase != phaseRunning {
		return opErr(op, "the job is %s", j.Phase)
	}
	if op.Want < 1 {
		return opErr(op, "want %d workers", op.Want)
	}
	// The waiting workers are the first members of the next ring;
	// the old members join again.
	j.Phase, j.Members, j.Ready, j.Done = phaseWaiting, j.Pending, nil, nil
	j.Pending = nil
	if len(j.Members) > op.Want {
		j.Members = j.Members[:op.Want]
	}
	j.Want = op.Want
	j.Resume, j.Step = op.Resume, op.Step
	if op.Error != "" {
		j.Restarts++
		j.Failures = append(j.Failures, op.Error)
	} else {
		j.Grows++
	}
	return nil
}

// finish records the job done at its final checkpoint.
func (j *Job) finish(op Op) error {
	if j.Phase != phaseRunning && j.Phase != phaseWaiting {
		return opErr(op, "the job is %s", j.Phase)
	}
	if op.Step != j.specSteps() {
		return opErr(op, "finish at step %d of %d", op.Step, j.specSteps())
	}
	j.Phase, j.Step = phaseDone, op.Step
	j.Latest, j.LatestStep = op.Dir, op.Step
	return nil
}

// rankDone records a rank's end; the last one ends the job, and a
// failed one fails it at once.
func (j *Job) rankDone(op Op) error {
	if j.Done == nil && (j.Phase == phaseFailed || j.Phase == phaseRunning) {
		j.Done = map[int]string{}
	}
	if j.Phase == phaseFailed {
		j.Done[op.Rank] = op.Error // the others following a failure
		return nil
	}
	if j.Phase != phaseRunning {
		return opErr(op, "the job is %s", j.Phase)
	}
	if op.Rank < 0 || op.Rank >= j.Want {
		return opErr(op, "rank %d of %d", op.Rank, j.Want)
	}
	j.Done[op.Rank] = op.Error
	if op.Step > j.Step {
		j.Step = op.Step
	}
	if op.Error != "" {
		// One failed rank fails the job at once: a rank that died
		// may never report, and the others are leaving anyway.
		j.Error = fmt.Sprintf("rank %d at step %d: %s", op.Rank, op.Step, op.Error)
		j.Phase = phaseFailed
		return nil
	}
	if len(j.Done) == j.Want {
		switch {
		case j.StopAsked || j.Step < j.specSteps():
			j.Phase = phaseStopped
		default:
			j.Phase = phaseDone
		}
	}
	return nil
}

// setIncarnation records worker's incarnation ("" keeps the old one).
func (j *Job) setIncarnation(worker, inc string) {
	if inc == "" {
		return
	}
	if j.Incarnations == nil {
		j.Incarnations = map[string]string{}
	}
	j.Incarnations[worker] = inc
}

// normalize repairs a state decoded from a snapshot written while Done
// and Ready were omitempty: a running job gets the empty maps opStart
// gave it, a failed one its Done map, and a job recorded as null is
// dropped.
func (s *state) normalize() {
	if s.Jobs == nil {
		s.Jobs = map[string]*Job{}
	}
	for id, j := range s.Jobs {
		switch {
		case j == nil:
			delete(s.Jobs, id)
		case j.Phase == phaseRunning:
			if j.Ready == nil {
				j.Ready = map[int]bool{}
			}
			fallthrough
		case j.Phase == phaseFailed:
			if j.Done == nil {
				j.Done = map[int]string{}
			}
		}
	}
}

// specSteps reads the job's total steps from its spec (0 if unreadable).
func (j *Job) specSteps() int {
	var s struct {
		Steps int `json:"steps"`
	}
	_ = json.Unmarshal(j.Spec, &s)
	return s.Steps
}

// Next returns the unfinished job submitted first (nil if none).
func (s *state) Next() *Job {
	var next *Job
	for _, j := range s.Jobs {
		if !j.Finished() && (next == nil || j.Seq < next.Seq) {
			next = j
		}
	}
	return next
}

// Finished reports whether the job has left the running phases.
func (j *Job) Finished() bool {
	return j.Phase == phaseDone || j.Phase == phaseStopped || j.Phase == phaseFailed
}
