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
	PhaseWaiting = "waiting" // collecting workers
	PhaseRunning = "running"
	PhaseDone    = "done"
	PhaseStopped = "stopped" // stopped on request, resumable
	PhaseFailed  = "failed"
)

// ErrOp is wrapped by errors of ops that do not apply to the state.
var ErrOp = errors.New("coordinator: op does not apply")

// Op kinds.
const (
	OpSubmit     = "submit"     // Job, Spec, Want, Resume, ResumeStep
	OpJoin       = "join"       // Job, Worker
	OpStart      = "start"      // Job: a new ring generation with the members in join order
	OpProgress   = "progress"   // Job, Step
	OpCheckpoint = "checkpoint" // Job, Step, Dir
	OpRankDone   = "rank_done"  // Job, Rank, Step, Error
	OpStopAsked  = "stop_asked" // Job
	OpReady      = "ready"      // Job, Rank: the rank listens on the current ring
	OpRegroup    = "regroup"    // Job, Want, Resume, Step, Error: the ring failed (Error set) or grows; collect workers for a new one
	OpCancel     = "cancel"     // Job: a waiting job is stopped at once (a running one is asked to stop)
	OpGrow       = "grow"       // Job, Step (the generation): the running ring was asked to regroup for its pending workers
	OpFinish     = "finish"     // Job, Step, Dir: the job's final checkpoint is on storage (a new leader found it): done
)

// Op is one change of state; an Op is what a raft log entry will carry.
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

// Job is the coordinator's record of one job.
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

// Clone returns a deep copy of j: no map, slice or Spec is shared, and
// a nil one stays nil (an empty one empty). The clone of nil is nil.
func (j *Job) Clone() *Job {
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

// Bounds returns the fewest and the most workers of a ring.
func (j *Job) Bounds() (lo, hi int) {
	lo, hi = max(1, j.Min), j.Max
	if hi < j.Want {
		hi = j.Want
	}
	return lo, hi
}

// State is everything the coordinator knows.
type State struct {
	Jobs    map[string]*Job `json:"jobs"`
	NextSeq int             `json:"next_seq"`
}

// NewState returns an empty state.
func NewState() *State { return &State{Jobs: map[string]*Job{}} }

func opErr(op Op, format string, a ...any) error {
	return fmt.Errorf("%w: %s %s: %s", ErrOp, op.Kind, op.Job, fmt.Sprintf(format, a...))
}

// clone returns a deep copy of s.
func (s *State) clone() *State {
	c := &State{Jobs: make(map[string]*Job, len(s.Jobs)), NextSeq: s.NextSeq}
	for id, j := range s.Jobs {
		c.Jobs[id] = j.Clone()
	}
	return c
}

// Check returns the error Apply(op) would return, without changing s.
func (s *State) Check(op Op) error {
	// Apply reads and writes op's job and NextSeq only: apply op to a
	// state holding a copy of them.
	scratch := &State{Jobs: map[string]*Job{}, NextSeq: s.NextSeq}
	if j := s.Jobs[op.Job]; j != nil {
		scratch.Jobs[op.Job] = j.Clone()
	}
	return scratch.Apply(op)
}

// Apply applies op. It is deterministic: the same ops in the same order
// give the same state.
func (s *State) Apply(op Op) error {
	j := s.Jobs[op.Job]
	if op.Kind != OpSubmit && j == nil {
		return opErr(op, "no such job")
	}
	switch op.Kind {
	case OpSubmit:
		if j != nil && j.Phase != PhaseStopped && j.Phase != PhaseFailed {
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
		s.Jobs[op.Job] = &Job{ID: op.Job, Spec: op.Spec, Want: op.Want, Phase: PhaseWaiting,
			Generation: gen, Resume: op.Resume, Step: op.Step, LatestStep: op.Step, Latest: op.Resume, Seq: s.NextSeq,
			Min: op.Min, Max: op.Max}
		s.NextSeq++
	case OpJoin:
		if slices.Contains(j.Pending, op.Worker) {
			j.setIncarnation(op.Worker, op.Incarnation) // a retried join, or a restarted process
			return nil
		}
		if j.Phase == PhaseRunning {
			if slices.Contains(j.Members, op.Worker) {
				// It left the ring (stopped, or the ring failed) and
				// must wait until the coordinator has heard of it.
				return opErr(op, "worker %s is still in ring generation %d", op.Worker, j.Generation)
			}
			// A worker joining a running ring waits for the next
			// generation, if the ring may grow.
			if _, hi := j.Bounds(); len(j.Members)+len(j.Pending) >= hi {
				return opErr(op, "the ring has %d workers, its most (max_workers %d)", len(j.Members)+len(j.Pending), hi)
			}
			j.Pending = append(j.Pending, op.Worker)
			j.setIncarnation(op.Worker, op.Incarnation)
			return nil
		}
		if j.Phase != PhaseWaiting {
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
	case OpStart:
		if op.Want > 0 && op.Want <= len(j.Members) {
			// An elastic restart goes on with fewer workers than asked;
			// those left out wait for the next generation.
			j.Pending = append(j.Pending, j.Members[op.Want:]...)
			j.Members, j.Want = j.Members[:op.Want:op.Want], op.Want
		}
		if j.Phase != PhaseWaiting || len(j.Members) != j.Want || j.Want == 0 {
			return opErr(op, "phase %s with %d of %d workers", j.Phase, len(j.Members), j.Want)
		}
		j.Phase = PhaseRunning
		j.Generation++
		j.Done = map[int]string{}
		j.Ready = map[int]bool{}
	case OpReady:
		if j.Phase != PhaseRunning {
			return opErr(op, "the job is %s", j.Phase)
		}
		if op.Rank < 0 || op.Rank >= j.Want {
			return opErr(op, "rank %d of %d", op.Rank, j.Want)
		}
		if j.Ready == nil {
			j.Ready = map[int]bool{}
		}
		j.Ready[op.Rank] = true
	case OpProgress:
		if op.Step > j.Step {
			j.Step = op.Step
		}
		j.Loss, j.Rate = op.Loss, op.Rate
	case OpCancel:
		switch j.Phase {
		case PhaseWaiting:
			j.Phase, j.StopAsked = PhaseStopped, true
		case PhaseRunning:
			j.StopAsked = true
		default:
			return opErr(op, "the job is already %s", j.Phase)
		}
	case OpCheckpoint:
		if op.Step >= j.LatestStep {
			j.Latest, j.LatestStep = op.Dir, op.Step
		}
	case OpRegroup:
		if j.Phase != PhaseRunning {
			return opErr(op, "the job is %s", j.Phase)
		}
		if op.Want < 1 {
			return opErr(op, "want %d workers", op.Want)
		}
		// The waiting workers are the first members of the next ring;
		// the old members join again.
		j.Phase, j.Members, j.Ready, j.Done = PhaseWaiting, j.Pending, nil, nil
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
	case OpStopAsked:
		j.StopAsked = true
	case OpGrow:
		if j.Phase != PhaseRunning || uint64(op.Step) != j.Generation || len(j.Pending) == 0 {
			return opErr(op, "grow generation %d: the job is %s in generation %d with %d pending", op.Step, j.Phase, j.Generation, len(j.Pending))
		}
		j.GrowAsked = j.Generation
	case OpFinish:
		if j.Phase != PhaseRunning && j.Phase != PhaseWaiting {
			return opErr(op, "the job is %s", j.Phase)
		}
		if op.Step != j.specSteps() {
			return opErr(op, "finish at step %d of %d", op.Step, j.specSteps())
		}
		j.Phase, j.Step = PhaseDone, op.Step
		j.Latest, j.LatestStep = op.Dir, op.Step
	case OpRankDone:
		if j.Done == nil && (j.Phase == PhaseFailed || j.Phase == PhaseRunning) {
			j.Done = map[int]string{}
		}
		if j.Phase == PhaseFailed {
			j.Done[op.Rank] = op.Error // the others following a failure
			return nil
		}
		if j.Phase != PhaseRunning {
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
			j.Phase = PhaseFailed
			return nil
		}
		if len(j.Done) == j.Want {
			switch {
			case j.StopAsked || j.Step < j.specSteps():
				j.Phase = PhaseStopped
			default:
				j.Phase = PhaseDone
			}
		}
	default:
		return opErr(op, "unknown op")
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

// SpecSteps is the job's total steps, read from its spec (0 if unreadable).
func (j *Job) SpecSteps() int { return j.specSteps() }

// normalize repairs a state decoded from a snapshot written while Done
// and Ready were omitempty: a running job gets the empty maps OpStart
// gave it, a failed one its Done map, and a job recorded as null is
// dropped.
func (s *State) normalize() {
	if s.Jobs == nil {
		s.Jobs = map[string]*Job{}
	}
	for id, j := range s.Jobs {
		switch {
		case j == nil:
			delete(s.Jobs, id)
		case j.Phase == PhaseRunning:
			if j.Ready == nil {
				j.Ready = map[int]bool{}
			}
			fallthrough
		case j.Phase == PhaseFailed:
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
func (s *State) Next() *Job {
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
	return j.Phase == PhaseDone || j.Phase == PhaseStopped || j.Phase == PhaseFailed
}
