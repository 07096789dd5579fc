package natsauth

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/levy-ml/levy/internal/wire"
)

// Role is a kind of levy process, with its own NATS permissions.
type Role string

// The roles.
const (
	Operator    Role = "operator"    // levyctl
	Coordinator Role = "coordinator" // one user per coordinator ID
	Worker      Role = "worker"      // one user per worker ID
	Sampler     Role = "sampler"     // one user per sampler ID
)

// ErrIdentity is wrapped by the errors of a bad Identity or set of them.
var ErrIdentity = errors.New("natsauth: bad identity")

// Identity is one NATS user: a role and the ID the process has in levy
// (worker --id, coordinator --id; any name for an operator).
type Identity struct {
	Role Role
	Name string
	// Password is the NATS password: plain text, a bcrypt hash ("$2a$…",
	// which nats-server accepts), or, for RenderConfig only, a reference
	// to an environment variable of the server ("$LEVY_PW_W0").
	Password string
}

// Username is the identity's NATS user name, "<role>-<name>"
// (worker-w0, coordinator-c1): the role prefix keeps the names of
// different roles apart.
func (id Identity) Username() string { return string(id.Role) + "-" + id.Name }

var envRefRE = regexp.MustCompile(`^\$[A-Za-z_][A-Za-z0-9_]*$`)

// isEnvRef reports whether p names an environment variable of the server.
func isEnvRef(p string) bool { return envRefRE.MatchString(p) }

// bcryptRE is how nats-server tells a bcrypt hash from a password.
var bcryptRE = regexp.MustCompile(`^\$2[abxy]\$\d{2}\$`)

// isBcrypt reports whether nats-server takes p for a bcrypt hash.
func isBcrypt(p string) bool { return bcryptRE.MatchString(p) }

// Validate reports a bad role, name or password.
func (id Identity) Validate() error {
	switch id.Role {
	case Operator, Coordinator, Worker, Sampler:
	default:
		return fmt.Errorf("%w: role %q: want operator, coordinator, worker or sampler", ErrIdentity, id.Role)
	}
	if !wire.ValidID(id.Name) {
		return fmt.Errorf("%w: %s name %q: want 1–64 of [A-Za-z0-9_-]", ErrIdentity, id.Role, id.Name)
	}
	p := id.Password
	if p == "" || len(p) > 256 {
		return fmt.Errorf("%w: %s: a password of %d bytes, want 1–256", ErrIdentity, id.Username(), len(p))
	}
	for _, c := range p {
		if c <= ' ' || c > '~' || c == '"' || c == '\\' {
			return fmt.Errorf("%w: %s: the password may hold printable ASCII other than space, '\"' and '\\'", ErrIdentity, id.Username())
		}
	}
	if strings.HasPrefix(p, "$") && !isBcrypt(p) && !isEnvRef(p) {
		return fmt.Errorf("%w: %s: a password starting with '$' must be a bcrypt hash or an environment variable reference", ErrIdentity, id.Username())
	}
	return nil
}

// ResponseMax and ResponseTTL bound a responder's answers: one reply per
// request, within two minutes (nats-server's defaults for
// allow_responses, written out).
const (
	ResponseMax = 1
	ResponseTTL = 2 * time.Minute
)

// The API verbs of wire.NodeSubject.
var apiVerbs = []string{"submit", "status", "cancel", "resume"}

// inbox is where nats.go's requests wait for their replies.
const inbox = "_INBOX.>"

// Permissions returns the NATS permissions of id's role, for id.Name.
// The lists are in a fixed order.
func (id Identity) Permissions() *server.Permissions {
	var pub, sub []string
	var resp *server.ResponsePermission
	name := id.Name
	switch id.Role {
	case Operator:
		pub = []string{wire.SubmitSubject, wire.StatusSubject, wire.CancelSubject, wire.ResumeSubject}
		for _, v := range apiVerbs {
			pub = append(pub, wire.NodeSubject("*", v))
		}
		sub = []string{inbox}
		for _, what := range []string{wire.ReportProgress, wire.ReportCkpt, wire.ReportSamples, wire.ReportDone} {
			sub = append(sub, wire.MemberSubject("*", what, "*"))
		}
		sub = append(sub, wire.CheckpointsSubject("*"))
	case Coordinator:
		pub = []string{wire.AssignSubject("*"), wire.ControlSubject("*"), wire.CheckpointsSubject("*")}
		resp = &server.ResponsePermission{MaxMsgs: ResponseMax, Expires: ResponseTTL}
		sub = []string{wire.JoinWildcard, wire.HeartbeatWildcard}
		for _, what := range []string{wire.ReportReady, wire.ReportProgress, wire.ReportCkpt, wire.ReportDone, wire.ReportSamples} {
			sub = append(sub, wire.MemberSubject("*", what, "*"))
		}
		sub = append(sub, wire.SubmitSubject, wire.StatusSubject, wire.CancelSubject, wire.ResumeSubject)
		for _, v := range apiVerbs {
			sub = append(sub, wire.NodeSubject(name, v))
		}
	case Worker:
		pub = []string{wire.JoinSubject(name), wire.HeartbeatSubject(name)}
		for _, what := range []string{wire.ReportReady, wire.ReportProgress, wire.ReportCkpt, wire.ReportDone} {
			pub = append(pub, wire.MemberSubject("*", what, name))
		}
		pub = append(pub, ringSubject("*", name))
		sub = []string{wire.AssignSubject(name), wire.ControlSubject("*"), ringSubject("*", "*"), inbox}
	case Sampler:
		pub = []string{wire.JoinSubject(name), wire.MemberSubject("*", wire.ReportSamples, name)}
		sub = []string{wire.CheckpointsSubject("*"), inbox}
	default:
		panic(fmt.Sprintf("natsauth: Permissions of role %q", id.Role))
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: sub},
		Response:  resp,
	}
}

// ringSubject is the all-reduce chunk subject of any job, generation and
// rank, from sender (see wire.RingPrefix and allreduce.NewNATS).
func ringSubject(job, sender string) string {
	return "levy.job." + job + ".ar.*.*." + sender
}
