package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
)

// Version is the protocol version this build speaks.
const Version = 1

// MaxMessage bounds a control message; larger ones are refused before
// decoding (a job spec is well under 4 KiB).
const MaxMessage = 1 << 20

// ErrMessage is wrapped by every decoding or validation error.
var ErrMessage = errors.New("wire: bad message")

var idRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidID reports whether s can be a job or worker ID (one NATS token).
func ValidID(s string) bool { return idRE.MatchString(s) }

// Subjects.
const JoinSubject = "levy.coord.join"

// AssignSubject is where a worker waits for its assignment.
func AssignSubject(worker string) string { return "levy.worker." + worker + ".assign" }

// JobSubject is levy.job.<job>.<what> (what: ctl, progress, ckpt, done, samples).
func JobSubject(job, what string) string { return "levy.job." + job + "." + what }

// RingPrefix is the all-reduce subject prefix of one ring generation.
func RingPrefix(job string, generation uint64) string {
	return "levy.job." + job + ".ar." + strconv.FormatUint(generation, 10)
}

// Roles a process joins as.
const (
	RoleWorker  = "worker"
	RoleSampler = "sampler"
)

// Join announces a worker to the coordinator.
type Join struct {
	V      int    `json:"v"`
	Worker string `json:"worker"` // unique ID
	Role   string `json:"role"`   // RoleWorker or RoleSampler
	Host   string `json:"host"`
	PID    int    `json:"pid"`
	GPU    int    `json:"gpu"` // −1: CPU
}

// JoinReply answers a Join: accepted, or refused with a reason.
type JoinReply struct {
	V     int    `json:"v"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Assign gives a worker its place in a job.
type Assign struct {
	V          int             `json:"v"`
	Job        string          `json:"job"`
	Spec       json.RawMessage `json:"spec"` // job.Spec as JSON
	Rank       int             `json:"rank"`
	World      int             `json:"world"`
	Ring       []string        `json:"ring"`              // worker IDs in rank order
	Generation uint64          `json:"generation"`        // ring generation
	RunDir     string          `json:"run_dir"`           // runs/<job>, on storage every worker sees
	Resume     string          `json:"resume,omitempty"`  // checkpoint directory to start from
	StopAt     int             `json:"stop_at,omitempty"` // checkpoint and leave after this many steps (0: run to the end)
	Elastic    bool            `json:"elastic,omitempty"` // after a failed or aborted ring, join again
}

// Command kinds.
const (
	CmdCheckpoint = "checkpoint" // save a checkpoint at the next step boundary
	CmdStop       = "stop"       // save a checkpoint and stop
	CmdStart      = "start"      // every rank listens: start training (Generation says which ring)
	CmdAbort      = "abort"      // leave ring Generation at once (a member died); elastic workers rejoin
	// CmdRegroup: at the next step boundary, save a checkpoint and leave
	// ring Generation; every member joins again for the next generation,
	// which takes in the workers waiting to join a running job.
	CmdRegroup = "regroup"
)

// HeartbeatSubject carries every worker's Heartbeat.
const HeartbeatSubject = "levy.worker.heartbeat"

// Heartbeat says a worker process is alive.
type Heartbeat struct {
	V      int    `json:"v"`
	Worker string `json:"worker"`
}

// Command is sent by the coordinator to every worker of a job.
type Command struct {
	V          int    `json:"v"`
	Job        string `json:"job"`
	Kind       string `json:"kind"`
	Generation uint64 `json:"generation,omitempty"`
}

// Ready is sent by a rank once it listens on its ring and control
// subjects; the coordinator sends CmdStart when every rank is ready, so
// that no rank's first chunk can reach a peer that does not listen yet.
type Ready struct {
	V          int    `json:"v"`
	Job        string `json:"job"`
	Rank       int    `json:"rank"`
	Generation uint64 `json:"generation"`
}

// Progress is rank 0's periodic report.
type Progress struct {
	V           int     `json:"v"`
	Job         string  `json:"job"`
	Step        int     `json:"step"` // steps completed
	Total       int     `json:"total"`
	Loss        float64 `json:"loss"`          // mean over workers and over the steps since the last report
	StepsPerSec float64 `json:"steps_per_sec"` // since the last report
	AllReduceMS float64 `json:"allreduce_ms"`  // mean all-reduce time per step since the last report
	Skipped     int     `json:"skipped"`       // steps skipped for non-finite gradients, in all
}

// Checkpoint announces a checkpoint that is on storage and verified.
type Checkpoint struct {
	V    int    `json:"v"`
	Job  string `json:"job"`
	Step int    `json:"step"`
	Dir  string `json:"dir"`
	Last bool   `json:"last"` // the job's final checkpoint
}

// Done is sent by every rank when it leaves a job.
type Done struct {
	V          int    `json:"v"`
	Job        string `json:"job"`
	Generation uint64 `json:"generation,omitempty"`
	Rank       int    `json:"rank"`
	Step       int    `json:"step"`
	Error      string `json:"error,omitempty"` // empty: finished or stopped cleanly
	// Retry marks a failure of the ring (a peer died, hung or the ring was
	// aborted), after which a new ring can go on; other errors (bad data,
	// non-finite gradients) would only repeat.
	Retry bool `json:"retry,omitempty"`
	// Regroup: the rank left the ring on CmdRegroup, after the checkpoint
	// of Step (no error).
	Regroup bool `json:"regroup,omitempty"`
}

// Samples reports what a sampler made of a checkpoint.
type Samples struct {
	V       int                `json:"v"`
	Job     string             `json:"job"`
	Step    int                `json:"step"`
	Dir     string             `json:"dir"`
	Metrics map[string]float64 `json:"metrics,omitempty"`
	Error   string             `json:"error,omitempty"`
}

// Message is any of the control messages.
type Message interface {
	check() error
}

// Encode stamps the version and marshals m.
func Encode(m Message) ([]byte, error) {
	switch v := m.(type) {
	case *Join:
		v.V = Version
	case *JoinReply:
		v.V = Version
	case *Assign:
		v.V = Version
	case *Command:
		v.V = Version
	case *Progress:
		v.V = Version
	case *Checkpoint:
		v.V = Version
	case *Done:
		v.V = Version
	case *Samples:
		v.V = Version
	case *Ready:
		v.V = Version
	case *Heartbeat:
		v.V = Version
	case *Submit:
		v.V = Version
	case *Query:
		v.V = Version
	case *Reply:
		v.V = Version
	case *Resume:
		v.V = Version
	default:
		return nil, fmt.Errorf("wire: Encode: %T is not a message pointer", m)
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

// Decode parses b into m (a pointer to one of the message types), strictly,
// and validates it.
func Decode(b []byte, m Message) error {
	if len(b) > MaxMessage {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrMessage, len(b), MaxMessage)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(m); err != nil {
		return fmt.Errorf("%w: %T: %v", ErrMessage, m, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %T: trailing data after the JSON object", ErrMessage, m)
	}
	return m.check()
}

func bad(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMessage}, a...)...)
}

func checkVersion(v int) error {
	if v != Version {
		return bad("protocol version %d, this build speaks %d", v, Version)
	}
	return nil
}

func checkJob(job string) error {
	if !ValidID(job) {
		return bad("job ID %q: want 1–64 of [A-Za-z0-9_-]", job)
	}
	return nil
}

func (m *Join) check() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	if !ValidID(m.Worker) {
		return bad("worker ID %q: want 1–64 of [A-Za-z0-9_-]", m.Worker)
	}
	if m.Role != RoleWorker && m.Role != RoleSampler {
		return bad("role %q: want %q or %q", m.Role, RoleWorker, RoleSampler)
	}
	if m.GPU < -1 || m.PID < 0 || len(m.Host) > 255 {
		return bad("join from %s: gpu %d, pid %d, host of %d bytes", m.Worker, m.GPU, m.PID, len(m.Host))
	}
	return nil
}

func (m *JoinReply) check() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	if !m.OK && m.Error == "" {
		return bad("refused join without a reason")
	}
	return nil
}

// MaxWorld bounds the number of ranks of a ring.
const MaxWorld = 4096

func (m *Assign) check() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	if err := checkJob(m.Job); err != nil {
		return err
	}
	if m.World < 1 || m.World > MaxWorld || m.Rank < 0 || m.Rank >= m.World {
		return bad("rank %d of world %d", m.Rank, m.World)
	}
	if len(m.Ring) != m.World {
		return bad("ring of %d workers for a world of %d", len(m.Ring), m.World)
	}
	seen := map[string]bool{}
	for _, w := range m.Ring {
		if !ValidID(w) || seen[w] {
			return bad("ring member %q invalid or repeated", w)
		}
		seen[w] = true
	}
	if len(m.Spec) == 0 || m.Spec[0] != '{' || !json.Valid(m.Spec) {
		return bad("spec is not a JSON object")
	}
	if m.RunDir == "" {
		return bad("empty run_dir")
	}
	if m.StopAt < 0 {
		return bad("stop_at %d", m.StopAt)
	}
	return nil
}

func (m *Command) check() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	if err := checkJob(m.Job); err != nil {
		return err
	}
	switch m.Kind {
	case CmdCheckpoint, CmdStop, CmdStart, CmdAbort, CmdRegroup:
	default:
		return bad("command %q: want %q, %q, %q, %q or %q", m.Kind, CmdCheckpoint, CmdStop, CmdStart, CmdAbort, CmdRegroup)
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func (m *Progress) check() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	if err := checkJob(m.Job); err != nil {
		return err
	}
	if m.Step < 0 || m.Total < 0 || m.Skipped < 0 || !finite(m.StepsPerSec) || !finite(m.AllReduceMS) {
		return bad("progress step %d/%d, %v steps/s, %v ms, %d skipped", m.Step, m.Total, m.StepsPerSec, m.AllReduceMS, m.Skipped)
	}
	return nil
}

func (m *Checkpoint) check() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	if err := checkJob(m.Job); err != nil {
		return err
	}
	if m.Step < 0 || m.Dir == "" {
		return bad("checkpoint at step %d in %q", m.Step, m.Dir)
	}
	return nil
}

func (m *Done) check() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	if err := checkJob(m.Job); err != nil {
		return err
	}
	if m.Rank < 0 || m.Rank >= MaxWorld || m.Step < 0 {
		return bad("done from rank %d at step %d", m.Rank, m.Step)
	}
	return nil
}

func (m *Heartbeat) check() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	if !ValidID(m.Worker) {
		return bad("heartbeat from worker %q", m.Worker)
	}
	return nil
}

func (m *Ready) check() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	if err := checkJob(m.Job); err != nil {
		return err
	}
	if m.Rank < 0 || m.Rank >= MaxWorld {
		return bad("ready from rank %d", m.Rank)
	}
	return nil
}

func (m *Samples) check() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	if err := checkJob(m.Job); err != nil {
		return err
	}
	if m.Step < 0 {
		return bad("samples at step %d", m.Step)
	}
	return nil
}
