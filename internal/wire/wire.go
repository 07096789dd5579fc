package wire

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Version is the protocol version this build speaks. Version 2 names the
// sender of every message in its subject (so that NATS subject
// permissions authenticate it, see docs/security.md), carries process
// incarnations and raft terms, and keeps paths relative to the runs root.
const Version = 2

// MaxMessage bounds a control message; larger ones are refused before
// decoding (a job spec is well under 4 KiB).
const MaxMessage = 1 << 20

// ErrMessage is wrapped by every decoding or validation error.
var ErrMessage = errors.New("wire: bad message")

var idRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidID reports whether s can be a job or worker ID (one NATS token).
func ValidID(s string) bool { return idRE.MatchString(s) }

// Subjects. Every subject a worker or sampler publishes on ends with its
// own ID, so that a NATS user allowed only subjects ending in its ID (the
// worker role, docs/security.md) can speak only as itself; receivers
// check that the ID in the subject and the one in the message agree.

// JoinSubject is where worker (or sampler) id asks a coordinator for a place.
func JoinSubject(id string) string { return "levy.coord.join." + id }

// JoinWildcard matches every JoinSubject.
const JoinWildcard = "levy.coord.join.*"

// AssignSubject is where a worker waits for its assignment.
func AssignSubject(worker string) string { return "levy.worker." + worker + ".assign" }

// HeartbeatSubject carries worker id's heartbeats.
func HeartbeatSubject(id string) string { return "levy.worker." + id + ".heartbeat" }

// HeartbeatWildcard matches every HeartbeatSubject.
const HeartbeatWildcard = "levy.worker.*.heartbeat"

// ControlSubject carries the coordinator's Commands to a job's workers.
func ControlSubject(job string) string { return "levy.job." + job + ".ctl" }

// CheckpointsSubject is where the coordinator re-announces the checkpoints
// it adopted (verified, inside the run directory): samplers listen here,
// never to a worker's own announcement.
func CheckpointsSubject(job string) string { return "levy.job." + job + ".checkpoints" }

// What a member reports on MemberSubject.
const (
	ReportReady    = "ready"
	ReportProgress = "progress"
	ReportCkpt     = "ckpt"
	ReportDone     = "done"
	ReportSamples  = "samples"
)

// MemberSubject is levy.job.<job>.<what>.<sender>: a worker's or sampler's
// report to the coordinator.
func MemberSubject(job, what, sender string) string {
	return "levy.job." + job + "." + what + "." + sender
}

// SenderOf returns the last token of a MemberSubject, JoinSubject or
// HeartbeatSubject's ID token ("" if the subject has none).
func SenderOf(subject string) string {
	toks := strings.Split(subject, ".")
	switch {
	case len(toks) == 4 && toks[0] == "levy" && toks[1] == "worker" && toks[3] == "heartbeat":
		return toks[2]
	case len(toks) == 4 && toks[0] == "levy" && toks[1] == "coord" && toks[2] == "join":
		return toks[3]
	case len(toks) == 5 && toks[0] == "levy" && toks[1] == "job":
		return toks[4]
	}
	return ""
}

// RingPrefix is the all-reduce subject prefix of one ring generation; a
// chunk to rank r from worker w goes to <prefix>.<r>.<w>.
func RingPrefix(job string, generation uint64) string {
	return "levy.job." + job + ".ar." + strconv.FormatUint(generation, 10)
}

// CheckRel reports whether p is a path that may come over the wire: not
// empty, relative, and without ".." (filepath.IsLocal). Paths on the wire
// are relative to the receiver's runs root (a run directory) or to the run
// directory (a checkpoint), so a message cannot name a place outside them.
func CheckRel(what, p string) error {
	if !filepath.IsLocal(p) {
		return bad("%s %q: want a relative path without '..'", what, p)
	}
	return nil
}

// Roles a process joins as.
const (
	RoleWorker  = "worker"
	RoleSampler = "sampler"
)

// Join announces a worker (or sampler) to the coordinator, on
// JoinSubject(Worker).
//
// Joining takes two rounds when the job keeps its run on storage: the
// first Join (no Proof) is answered with a Preflight naming the run
// directory; the worker reads the token the coordinator wrote there and
// joins again with it as Proof. A worker that cannot read it says why in
// PreflightError and is not taken: the run directory is not shared.
type Join struct {
	V           int    `json:"v"`
	Worker      string `json:"worker"`      // unique ID
	Incarnation string `json:"incarnation"` // random at process start: tells two processes of one ID apart
	Role        string `json:"role"`        // RoleWorker or RoleSampler
	Host        string `json:"host"`
	PID         int    `json:"pid"`
	GPU         int    `json:"gpu"` // −1: CPU
	// Job and Proof answer a Preflight: the job, and the token read from
	// its run directory (or PreflightError: why it could not be read).
	Job            string `json:"job,omitempty"`
	Proof          string `json:"proof,omitempty"`
	PreflightError string `json:"preflight_error,omitempty"`
}

// Preflight asks a joining worker to prove that it sees the job's run
// directory (and the data directory of an image job).
type Preflight struct {
	Job string `json:"job"`
	// RunDir is the run directory relative to the runs root; the token is
	// in RunDir (package preflight).
	RunDir string `json:"run_dir"`
	// DataDir and DataDigest, for an image job: the worker hashes the
	// listing of DataDir (DataDigest) and compares.
	DataDir    string `json:"data_dir,omitempty"`
	DataDigest string `json:"data_digest,omitempty"`
}

// JoinReply answers a Join: accepted, refused with a reason, or a
// Preflight to answer first.
type JoinReply struct {
	V         int        `json:"v"`
	OK        bool       `json:"ok"`
	Error     string     `json:"error,omitempty"`
	Preflight *Preflight `json:"preflight,omitempty"`
	// Fatal: asking again cannot help (another live process uses this
	// worker's ID); the worker exits with Error.
	Fatal bool `json:"fatal,omitempty"`
}

// Assign gives a worker its place in a job.
type Assign struct {
	V           int             `json:"v"`
	Term        uint64          `json:"term"` // the sending coordinator's raft term (fencing)
	Job         string          `json:"job"`
	Spec        json.RawMessage `json:"spec"` // job.Spec as JSON
	Rank        int             `json:"rank"`
	World       int             `json:"world"`
	Ring        []string        `json:"ring"`              // worker IDs in rank order
	Incarnation string          `json:"incarnation"`       // the assigned worker process's
	Generation  uint64          `json:"generation"`        // ring generation
	RunDir      string          `json:"run_dir"`           // relative to the worker's runs root (CheckRel)
	Resume      string          `json:"resume,omitempty"`  // checkpoint to start from, relative to RunDir
	StopAt      int             `json:"stop_at,omitempty"` // checkpoint and leave after this many steps (0: run to the end)
	Elastic     bool            `json:"elastic,omitempty"` // after a failed or aborted ring, join again
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
	// CmdEnd: the job has ended (done, stopped or failed, Generation
	// any): a worker still in it leaves at once without reporting.
	CmdEnd = "end"
)

// Heartbeat says a worker process is alive, and where it is: a new leader
// reconciles its record with what the workers report.
type Heartbeat struct {
	V           int    `json:"v"`
	Worker      string `json:"worker"`
	Incarnation string `json:"incarnation"`
	// Job, Generation, Rank and Step: the ring the worker trains in and
	// its last completed step (Job empty: in none).
	Job        string `json:"job,omitempty"`
	Generation uint64 `json:"generation,omitempty"`
	Rank       int    `json:"rank,omitempty"`
	Step       int    `json:"step,omitempty"`
}

// Command is sent by the coordinator to every worker of a job. Workers
// remember the highest Term they have seen and drop commands of a lower
// one: a deposed leader cannot steer them.
type Command struct {
	V           int    `json:"v"`
	Term        uint64 `json:"term"`
	Coordinator string `json:"coordinator,omitempty"`
	Job         string `json:"job"`
	Kind        string `json:"kind"`
	Generation  uint64 `json:"generation,omitempty"`
}

// Sender identifies a worker process in its reports; it must agree with
// the subject's last token, and the coordinator accepts a report only
// from a member of the named generation with that incarnation.
type Sender struct {
	Worker      string `json:"worker"`
	Incarnation string `json:"incarnation"`
}

// Ready is sent by a rank once it listens on its ring and control
// subjects, and again every second until the start comes; the
// coordinator sends CmdStart when every rank is ready (and again to a
// rank that repeats its Ready), so that no rank's first chunk can reach a
// peer that does not listen yet and no single lost message wedges a ring.
type Ready struct {
	V int `json:"v"`
	Sender
	Job        string `json:"job"`
	Rank       int    `json:"rank"`
	Generation uint64 `json:"generation"`
}

// Progress is rank 0's periodic report.
type Progress struct {
	V int `json:"v"`
	Sender
	Job         string  `json:"job"`
	Generation  uint64  `json:"generation"`
	Step        int     `json:"step"` // steps completed
	Total       int     `json:"total"`
	Loss        float64 `json:"loss"`          // mean over workers and over the steps since the last report
	StepsPerSec float64 `json:"steps_per_sec"` // since the last report
	AllReduceMS float64 `json:"allreduce_ms"`  // mean all-reduce time per step since the last report
	Skipped     int     `json:"skipped"`       // steps skipped for non-finite gradients, in all
}

// Checkpoint announces a checkpoint that is on storage and verified: from
// rank 0 to the coordinator (MemberSubject), and from the coordinator to
// samplers once it adopted it (CheckpointsSubject).
type Checkpoint struct {
	V int `json:"v"`
	Sender
	Job        string `json:"job"`
	Generation uint64 `json:"generation"`
	Step       int    `json:"step"`
	Dir        string `json:"dir"`     // relative to RunDir (CheckRel)
	RunDir     string `json:"run_dir"` // relative to the runs root (CheckRel)
	Last       bool   `json:"last"`    // the job's final checkpoint
}

// Done is sent by every rank when it leaves a job, as a request repeated
// (with backoff, without end) until a coordinator acknowledges it or ends
// the job (CmdEnd of a term not lower than any the rank has seen).
type Done struct {
	V int `json:"v"`
	Sender
	Job        string `json:"job"`
	Generation uint64 `json:"generation"`
	Rank       int    `json:"rank"`
	Step       int    `json:"step"`
	Error      string `json:"error,omitempty"` // empty: finished or stopped cleanly
	// Retry marks a failure of the ring (a peer died, hung or the ring was
	// aborted, no start came), after which a new ring can go on; other
	// errors (bad data, non-finite gradients) would only repeat.
	Retry bool `json:"retry,omitempty"`
	// Regroup: the rank left the ring on CmdRegroup, after the checkpoint
	// of Step (no error).
	Regroup bool `json:"regroup,omitempty"`
}

// Samples reports what a sampler made of a checkpoint.
type Samples struct {
	V       int                `json:"v"`
	Sampler string             `json:"sampler"`
	Job     string             `json:"job"`
	Step    int                `json:"step"`
	Dir     string             `json:"dir"` // the checkpoint, relative to the run directory
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

var incRE = regexp.MustCompile(`^[A-Za-z0-9]{8,64}$`)

func checkSender(who, inc string) error {
	if !ValidID(who) {
		return bad("sender %q: want 1–64 of [A-Za-z0-9_-]", who)
	}
	if !incRE.MatchString(inc) {
		return bad("incarnation %q of %s: want 8–64 letters or digits", inc, who)
	}
	return nil
}

func (s Sender) check() error { return checkSender(s.Worker, s.Incarnation) }

func (m *Join) check() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	if err := checkSender(m.Worker, m.Incarnation); err != nil {
		return err
	}
	if m.Role != RoleWorker && m.Role != RoleSampler {
		return bad("role %q: want %q or %q", m.Role, RoleWorker, RoleSampler)
	}
	if m.GPU < -1 || m.PID < 0 || len(m.Host) > 255 {
		return bad("join from %s: gpu %d, pid %d, host of %d bytes", m.Worker, m.GPU, m.PID, len(m.Host))
	}
	if m.Job != "" {
		if err := checkJob(m.Job); err != nil {
			return err
		}
	}
	if len(m.Proof) > 128 || len(m.PreflightError) > 4096 {
		return bad("join from %s: proof of %d bytes, preflight error of %d", m.Worker, len(m.Proof), len(m.PreflightError))
	}
	return nil
}

func (m *JoinReply) check() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	if p := m.Preflight; p != nil {
		if err := checkJob(p.Job); err != nil {
			return err
		}
		if err := CheckRel("preflight run_dir", p.RunDir); err != nil {
			return err
		}
		if p.DataDir == "" && p.DataDigest != "" {
			return bad("preflight data digest without a data directory")
		}
		return nil
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
	if err := checkSender(m.Ring[m.Rank], m.Incarnation); err != nil {
		return err
	}
	if m.Generation == 0 {
		return bad("assignment to ring generation 0")
	}
	if len(m.Spec) == 0 || m.Spec[0] != '{' || !json.Valid(m.Spec) {
		return bad("spec is not a JSON object")
	}
	if err := CheckRel("run_dir", m.RunDir); err != nil {
		return err
	}
	if m.Resume != "" {
		if err := CheckRel("resume", m.Resume); err != nil {
			return err
		}
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
	case CmdCheckpoint, CmdStop, CmdStart, CmdAbort, CmdRegroup, CmdEnd:
	default:
		return bad("command %q: want %q, %q, %q, %q, %q or %q", m.Kind, CmdCheckpoint, CmdStop, CmdStart, CmdAbort, CmdRegroup, CmdEnd)
	}
	if (m.Kind == CmdStart || m.Kind == CmdAbort || m.Kind == CmdRegroup) && m.Generation == 0 {
		return bad("command %q without a generation", m.Kind)
	}
	if m.Coordinator != "" && !ValidID(m.Coordinator) {
		return bad("coordinator %q", m.Coordinator)
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func (m *Progress) check() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	if err := m.Sender.check(); err != nil {
		return err
	}
	if err := checkJob(m.Job); err != nil {
		return err
	}
	if m.Generation == 0 || m.Step < 0 || m.Total < 0 || m.Step > m.Total || m.Skipped < 0 || !finite(m.StepsPerSec) || !finite(m.AllReduceMS) || !finite(m.Loss) {
		return bad("progress of generation %d: step %d/%d, loss %v, %v steps/s, %v ms, %d skipped", m.Generation, m.Step, m.Total, m.Loss, m.StepsPerSec, m.AllReduceMS, m.Skipped)
	}
	return nil
}

func (m *Checkpoint) check() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	if m.Worker != "" || m.Incarnation != "" {
		if err := m.Sender.check(); err != nil {
			return err
		}
	}
	if err := checkJob(m.Job); err != nil {
		return err
	}
	if m.Step < 0 {
		return bad("checkpoint at step %d", m.Step)
	}
	if err := CheckRel("checkpoint dir", m.Dir); err != nil {
		return err
	}
	return CheckRel("checkpoint run_dir", m.RunDir)
}

func (m *Done) check() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	if err := m.Sender.check(); err != nil {
		return err
	}
	if err := checkJob(m.Job); err != nil {
		return err
	}
	if m.Generation == 0 || m.Rank < 0 || m.Rank >= MaxWorld || m.Step < 0 {
		return bad("done from rank %d of generation %d at step %d", m.Rank, m.Generation, m.Step)
	}
	if len(m.Error) > 8192 {
		return bad("done with an error of %d bytes", len(m.Error))
	}
	return nil
}

func (m *Heartbeat) check() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	if err := checkSender(m.Worker, m.Incarnation); err != nil {
		return err
	}
	if m.Job != "" {
		if err := checkJob(m.Job); err != nil {
			return err
		}
	}
	if m.Rank < 0 || m.Rank >= MaxWorld || m.Step < 0 {
		return bad("heartbeat from %s: rank %d, step %d", m.Worker, m.Rank, m.Step)
	}
	return nil
}

func (m *Ready) check() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	if err := m.Sender.check(); err != nil {
		return err
	}
	if err := checkJob(m.Job); err != nil {
		return err
	}
	if m.Generation == 0 || m.Rank < 0 || m.Rank >= MaxWorld {
		return bad("ready from rank %d of generation %d", m.Rank, m.Generation)
	}
	return nil
}

func (m *Samples) check() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	if !ValidID(m.Sampler) {
		return bad("sampler %q", m.Sampler)
	}
	if err := checkJob(m.Job); err != nil {
		return err
	}
	if m.Step < 0 {
		return bad("samples at step %d", m.Step)
	}
	return CheckRel("samples dir", m.Dir)
}

// NewIncarnation returns a fresh random incarnation (16 hex digits).
func NewIncarnation() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("wire: crypto/rand: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}
