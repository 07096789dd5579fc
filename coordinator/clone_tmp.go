package coordinator

import (
	"maps"
	"slices"
)

// Clone returns a deep copy of j.
func (j *Job) Clone() *Job {
	c := *j
	c.Spec = slices.Clone(j.Spec)
	c.Members = slices.Clone(j.Members)
	c.Pending = slices.Clone(j.Pending)
	c.Failures = slices.Clone(j.Failures)
	c.Done = maps.Clone(j.Done)
	c.Ready = maps.Clone(j.Ready)
	c.Incarnations = maps.Clone(j.Incarnations)
	return &c
}

// Check reports the error Apply would return for op, without changing
// the state.
func (s *State) Check(op Op) error {
	c := &State{Jobs: map[string]*Job{}, NextSeq: s.NextSeq}
	if j := s.Jobs[op.Job]; j != nil {
		c.Jobs[op.Job] = j.Clone()
	}
	return c.Apply(op)
}

// Check reports the error Apply would return for op, without changing
// the state.
func (f *FSM) Check(op Op) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.state.Check(op)
}

// Job returns a copy of the job's record.
func (f *FSM) Job(id string) (Job, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if j := f.state.Jobs[id]; j != nil {
		return *j.Clone(), true
	}
	return Job{}, false
}
