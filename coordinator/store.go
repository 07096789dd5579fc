package coordinator

import (
	"errors"
	"sync"
	"time"
)

// store is where a coordinator keeps its state: in memory (one
// coordinator), or replicated by raft. The job loop reads copies only,
// and changes the state only through apply, so the goroutine that applies
// (raft's FSM goroutine) and the loop share nothing but the lock inside.
type store interface {
	// apply checks op against the state and, if it applies, records it
	// (replicated and committed, with raft) and applies it; a refused op
	// is never replicated.
	apply(op Op) error
	// job returns a copy of the job's record.
	job(id string) (Job, bool)
}

// memStore is the one-coordinator store.
type memStore struct {
	mu sync.Mutex
	st *state
}

func (m *memStore) apply(op Op) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st.Apply(op)
}

func (m *memStore) job(id string) (Job, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if j := m.st.Jobs[id]; j != nil {
		return *j.clone(), true
	}
	return Job{}, false
}

// raftStore replicates through a Node.
type raftStore struct {
	n       *Node
	timeout time.Duration
}

// apply: Node.apply checks op against the FSM before replicating it.
func (r raftStore) apply(op Op) error { return r.n.apply(op, r.timeout) }

func (r raftStore) job(id string) (Job, bool) { return r.n.fsm.Job(id) }

// faultStore wraps a store to inject failures (tests only).
type faultStore struct {
	store
	fail func(op Op) error
}

func (f faultStore) apply(op Op) error {
	if err := f.fail(op); err != nil {
		return err
	}
	return f.store.apply(op)
}

// errInjected is the error tests inject.
var errInjected = errors.New("coordinator: injected fault")
