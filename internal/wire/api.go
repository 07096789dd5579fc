package wire

// The client API (levyctl submit, status, cancel): request/reply on these
// subjects, answered by the raft leader only, so "no responders" means no
// coordinator leads right now.
const (
	SubmitSubject = "levy.api.submit"
	StatusSubject = "levy.api.status"
	CancelSubject = "levy.api.cancel"
)

// Submit asks the leader to queue a job.
type Submit struct {
	V    int    `json:"v"`
	Spec string `json:"spec"` // the job spec, YAML or JSON
}

// Query names a job for status (empty: all jobs) or cancel.
type Query struct {
	V   int    `json:"v"`
	Job string `json:"job,omitempty"`
}

// JobStatus is one job as the leader sees it.
type JobStatus struct {
	ID             string   `json:"id"`
	Phase          string   `json:"phase"`
	Step           int      `json:"step"`
	Total          int      `json:"total"`
	Workers        int      `json:"workers"`
	Members        []string `json:"members,omitempty"`
	Generation     uint64   `json:"generation"`
	Loss           float64  `json:"loss"`
	StepsPerSec    float64  `json:"steps_per_sec"`
	ETASeconds     float64  `json:"eta_seconds"`
	Checkpoint     string   `json:"checkpoint,omitempty"`
	CheckpointStep int      `json:"checkpoint_step"`
	Restarts       int      `json:"restarts"`
	Grows          int      `json:"grows,omitempty"`   // rings re-formed to take in joining workers
	Pending        []string `json:"pending,omitempty"` // workers waiting for the next generation
	MinWorkers     int      `json:"min_workers,omitempty"`
	MaxWorkers     int      `json:"max_workers,omitempty"`
	Error          string   `json:"error,omitempty"`
}

// NodeSubject is the API subject of one coordinator (verb: submit,
// status, cancel or resume): the leader serves it like the shared
// subject, a follower refuses with the leader's identity (Reply.Leader).
func NodeSubject(id, verb string) string { return "levy.api.node." + id + "." + verb }

// Reply answers every API request.
type Reply struct {
	V      int         `json:"v"`
	OK     bool        `json:"ok"`
	Error  string      `json:"error,omitempty"`
	Job    string      `json:"job,omitempty"`
	Jobs   []JobStatus `json:"jobs,omitempty"`
	Leader string      `json:"leader,omitempty"`
}

func (m *Submit) check() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	if m.Spec == "" {
		return bad("empty job spec")
	}
	return nil
}

func (m *Query) check() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	if m.Job != "" {
		return checkJob(m.Job)
	}
	return nil
}

func (m *Reply) check() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	if !m.OK && m.Error == "" {
		return bad("a refusal without a reason")
	}
	return nil
}

// ResumeSubject restarts a stopped or failed job from a checkpoint.
const ResumeSubject = "levy.api.resume"

// Resume asks the leader to run a stopped or failed job again, from From
// (a checkpoint directory) or, if empty, from its newest good checkpoint.
type Resume struct {
	V    int    `json:"v"`
	Job  string `json:"job"`
	From string `json:"from,omitempty"`
}

func (m *Resume) check() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	return checkJob(m.Job)
}
