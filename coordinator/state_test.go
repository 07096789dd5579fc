package coordinator

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

func spec(steps int) json.RawMessage {
	b, _ := json.Marshal(map[string]int{"steps": steps})
	return b
}

// script is a job's life: submit, two joins, start, progress, a
// checkpoint and both ranks done.
func script() []Op {
	return []Op{
		{Kind: opSubmit, Job: "j", Spec: spec(100), Want: 2},
		{Kind: opJoin, Job: "j", Worker: "a"},
		{Kind: opJoin, Job: "j", Worker: "a"}, // a retried join
		{Kind: opJoin, Job: "j", Worker: "b"},
		{Kind: opStart, Job: "j"},
		{Kind: opReady, Job: "j", Rank: 0},
		{Kind: opReady, Job: "j", Rank: 1},
		{Kind: opProgress, Job: "j", Step: 40},
		{Kind: opCheckpoint, Job: "j", Step: 50, Dir: "d50"},
		{Kind: opCheckpoint, Job: "j", Step: 20, Dir: "d20"}, // late, older: ignored
		{Kind: opRankDone, Job: "j", Rank: 0, Step: 100},
		{Kind: opRankDone, Job: "j", Rank: 1, Step: 100},
	}
}

func TestStateLifecycle(t *testing.T) {
	s := newState()
	for _, op := range script() {
		if err := s.Apply(op); err != nil {
			t.Fatalf("%+v: %v", op, err)
		}
	}
	j := s.Jobs["j"]
	if j.Phase != phaseDone || j.Generation != 1 || j.Latest != "d50" || j.Step != 100 || len(j.Members) != 2 || j.Members[0] != "a" {
		t.Fatalf("final job %+v", j)
	}
}

// TestStateIsDeterministic: the same ops give the same state (what raft
// replication needs).
func TestStateIsDeterministic(t *testing.T) {
	a, b := newState(), newState()
	for _, op := range script() {
		a.Apply(op)
		b.Apply(op)
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatalf("states differ:\n%s\n%s", ja, jb)
	}
	// Ops survive JSON (the raft log's encoding).
	for _, op := range script() {
		enc, _ := json.Marshal(op)
		var back Op
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Fatal(err)
		}
		e2, _ := json.Marshal(back)
		if string(e2) != string(enc) {
			t.Fatalf("op round trip: %s vs %s", enc, e2)
		}
	}
}

func TestStateRefuses(t *testing.T) {
	s := newState()
	for _, op := range []Op{
		{Kind: opJoin, Job: "none", Worker: "a"},
		{Kind: opSubmit, Job: "j", Want: 0},
		{Kind: "reboot", Job: "j"},
	} {
		if err := s.Apply(op); !errors.Is(err, ErrOp) {
			t.Errorf("%+v: %v", op, err)
		}
	}
	s.Apply(Op{Kind: opSubmit, Job: "j", Spec: spec(10), Want: 1})
	s.Apply(Op{Kind: opJoin, Job: "j", Worker: "a"})
	if err := s.Apply(Op{Kind: opJoin, Job: "j", Worker: "b"}); !errors.Is(err, ErrOp) {
		t.Errorf("a join beyond --workers: %v", err)
	}
	if err := s.Apply(Op{Kind: opSubmit, Job: "j", Spec: spec(10), Want: 1}); !errors.Is(err, ErrOp) {
		t.Errorf("resubmitting a live job: %v", err)
	}
	if err := s.Apply(Op{Kind: opRankDone, Job: "j", Rank: 0}); !errors.Is(err, ErrOp) {
		t.Errorf("done before start: %v", err)
	}
}

func TestStateFailureAndStop(t *testing.T) {
	run := func(ops ...Op) *Job {
		s := newState()
		base := []Op{{Kind: opSubmit, Job: "j", Spec: spec(100), Want: 2},
			{Kind: opJoin, Job: "j", Worker: "a"}, {Kind: opJoin, Job: "j", Worker: "b"}, {Kind: opStart, Job: "j"}}
		for _, op := range append(base, ops...) {
			if err := s.Apply(op); err != nil {
				t.Fatalf("%+v: %v", op, err)
			}
		}
		return s.Jobs["j"]
	}
	// One failed rank fails the job at once; the other's late report is kept.
	j := run(Op{Kind: opRankDone, Job: "j", Rank: 1, Step: 7, Error: "ring broken"})
	if j.Phase != phaseFailed || j.Error == "" {
		t.Fatalf("after a failed rank: %+v", j)
	}
	// A stop request ends in "stopped" even at the last step.
	j = run(Op{Kind: opStopAsked, Job: "j"}, Op{Kind: opRankDone, Job: "j", Rank: 0, Step: 30},
		Op{Kind: opRankDone, Job: "j", Rank: 1, Step: 30})
	if j.Phase != phaseStopped {
		t.Fatalf("after a stop: %s", j.Phase)
	}
	// Ranks leaving before the end without a stop (--stop-at) also stop.
	j = run(Op{Kind: opRankDone, Job: "j", Rank: 0, Step: 30}, Op{Kind: opRankDone, Job: "j", Rank: 1, Step: 30})
	if j.Phase != phaseStopped {
		t.Fatalf("after leaving at 30 of 100: %s", j.Phase)
	}
	// A failed job can be submitted again (resume).
	s := newState()
	s.Jobs["j"] = j
	j.Phase = phaseFailed
	if err := s.Apply(Op{Kind: opSubmit, Job: "j", Spec: spec(100), Want: 3, Resume: "d", Step: 30}); err != nil {
		t.Fatal(err)
	}
	if s.Jobs["j"].Generation != 1 || s.Jobs["j"].Step != 30 {
		t.Errorf("resubmitted: %+v", s.Jobs["j"])
	}
}

func TestStateRegroup(t *testing.T) {
	s := newState()
	for _, op := range []Op{{Kind: opSubmit, Job: "j", Spec: spec(100), Want: 3},
		{Kind: opJoin, Job: "j", Worker: "a"}, {Kind: opJoin, Job: "j", Worker: "b"}, {Kind: opJoin, Job: "j", Worker: "c"},
		{Kind: opStart, Job: "j"}, {Kind: opCheckpoint, Job: "j", Step: 40, Dir: "d40"},
		{Kind: opRegroup, Job: "j", Want: 3, Resume: "d40", Step: 40, Error: "rank 2 died"},
		{Kind: opJoin, Job: "j", Worker: "b"}, {Kind: opJoin, Job: "j", Worker: "a"},
		{Kind: opStart, Job: "j", Want: 2}} {
		if err := s.Apply(op); err != nil {
			t.Fatalf("%+v: %v", op, err)
		}
	}
	j := s.Jobs["j"]
	if j.Phase != phaseRunning || j.Generation != 2 || j.Want != 2 || j.Members[0] != "b" || j.Resume != "d40" || j.Step != 40 || j.Restarts != 1 {
		t.Fatalf("after the regroup: %+v", j)
	}
	if err := s.Apply(Op{Kind: opStart, Job: "j"}); !errors.Is(err, ErrOp) {
		t.Errorf("start while running: %v", err)
	}
}

// TestStateGrow: workers that join a running ring wait as pending (up to
// Max), a planned regroup (no error) makes them the first members of the
// next generation without counting a restart, and a ring started with
// fewer than its members keeps the rest pending.
func TestStateGrow(t *testing.T) {
	s := newState()
	for _, op := range []Op{{Kind: opSubmit, Job: "j", Spec: spec(100), Want: 2, Min: 1, Max: 3},
		{Kind: opJoin, Job: "j", Worker: "a"}, {Kind: opJoin, Job: "j", Worker: "b"},
		{Kind: opStart, Job: "j"},
		{Kind: opJoin, Job: "j", Worker: "c"}, {Kind: opJoin, Job: "j", Worker: "c"}} {
		if err := s.Apply(op); err != nil {
			t.Fatalf("%+v: %v", op, err)
		}
	}
	j := s.Jobs["j"]
	if len(j.Pending) != 1 || j.Pending[0] != "c" {
		t.Fatalf("pending %v, want [c]", j.Pending)
	}
	if err := s.Apply(Op{Kind: opJoin, Job: "j", Worker: "d"}); !errors.Is(err, ErrOp) {
		t.Fatalf("a fourth worker with max 3: %v", err)
	}
	for _, op := range []Op{{Kind: opRegroup, Job: "j", Want: 3, Resume: "d23", Step: 23},
		{Kind: opJoin, Job: "j", Worker: "b"}, {Kind: opJoin, Job: "j", Worker: "a"}, {Kind: opStart, Job: "j"}} {
		if err := s.Apply(op); err != nil {
			t.Fatalf("%+v: %v", op, err)
		}
	}
	if j = s.Jobs["j"]; j.Generation != 2 || j.Grows != 1 || j.Restarts != 0 || len(j.Members) != 3 || j.Members[0] != "c" ||
		j.Step != 23 || len(j.Pending) != 0 {
		t.Fatalf("after growing: %+v", j)
	}
	// A failure regroup with too few for the batch: the ring starts
	// with 2 of the 3 that came back; the third waits.
	for _, op := range []Op{{Kind: opRegroup, Job: "j", Want: 3, Resume: "d30", Step: 30, Error: "ring broken"},
		{Kind: opJoin, Job: "j", Worker: "a"}, {Kind: opJoin, Job: "j", Worker: "b"}, {Kind: opJoin, Job: "j", Worker: "c"},
		{Kind: opStart, Job: "j", Want: 2}} {
		if err := s.Apply(op); err != nil {
			t.Fatalf("%+v: %v", op, err)
		}
	}
	if j = s.Jobs["j"]; len(j.Members) != 2 || len(j.Pending) != 1 || j.Pending[0] != "c" || j.Restarts != 1 {
		t.Fatalf("after a short start: members %v, pending %v, restarts %d", j.Members, j.Pending, j.Restarts)
	}
	if lo, hi := j.bounds(); lo != 1 || hi != 3 {
		t.Errorf("bounds %d, %d; want 1, 3", lo, hi)
	}
	if err := s.Apply(Op{Kind: opSubmit, Job: "k", Spec: spec(100), Want: 2, Min: 3}); !errors.Is(err, ErrOp) {
		t.Errorf("want below min: %v", err)
	}
}

// running returns a state with job j running on a and b, two ranks
// ready, a pending worker and a failure behind it.
func running(t *testing.T) *state {
	t.Helper()
	s := newState()
	for _, op := range []Op{{Kind: opSubmit, Job: "j", Spec: spec(100), Want: 2, Max: 3},
		{Kind: opJoin, Job: "j", Worker: "a"}, {Kind: opJoin, Job: "j", Worker: "b"}, {Kind: opStart, Job: "j"},
		{Kind: opRegroup, Job: "j", Want: 2, Error: "x"}, {Kind: opJoin, Job: "j", Worker: "a"},
		{Kind: opJoin, Job: "j", Worker: "b"}, {Kind: opStart, Job: "j"}, {Kind: opJoin, Job: "j", Worker: "c"},
		{Kind: opReady, Job: "j", Rank: 0}, {Kind: opRankDone, Job: "j", Rank: 1, Step: 5}} {
		if err := s.Apply(op); err != nil {
			t.Fatalf("%+v: %v", op, err)
		}
	}
	return s
}

func TestJobClone(t *testing.T) {
	j := running(t).Jobs["j"]
	c := j.clone()
	if !reflect.DeepEqual(c, j) {
		t.Fatalf("clone %+v of %+v", c, j)
	}
	// Nothing of the clone is shared.
	c.Spec[0] = ' '
	c.Members[0], c.Pending[0], c.Failures[0] = "z", "z", "z"
	c.Done[0], c.Ready[1] = "z", true
	if j.Spec[0] != '{' || j.Members[0] != "a" || j.Pending[0] != "c" || j.Failures[0] != "x" || len(j.Done) != 1 || len(j.Ready) != 1 {
		t.Fatalf("changing the clone changed the job: %+v", j)
	}
	// Nil stays nil, empty stays empty.
	w := &Job{Members: []string{}, Ready: map[int]bool{}}
	if c := w.clone(); c.Members == nil || c.Ready == nil || c.Done != nil || c.Pending != nil || c.Spec != nil {
		t.Fatalf("clone of %#v: %#v", w, c)
	}
	var none *Job
	if none.clone() != nil {
		t.Fatal("a nil job's clone")
	}
}

// TestStateCheck: Check returns Apply's error and changes nothing
// (fsm_property_test.go checks the same over random sequences).
func TestStateCheck(t *testing.T) {
	s := running(t)
	want := s.clone()
	for _, tc := range []struct {
		op Op
		ok bool
	}{
		{Op{Kind: opJoin, Job: "j", Worker: "a"}, false}, // in the ring
		{Op{Kind: opJoin, Job: "j", Worker: "c"}, true},  // a retried pending join
		{Op{Kind: opJoin, Job: "j", Worker: "d"}, false}, // beyond Max
		{Op{Kind: opReady, Job: "j", Rank: 1}, true},
		{Op{Kind: opReady, Job: "j", Rank: 2}, false},
		{Op{Kind: opRankDone, Job: "j", Rank: 0, Step: 100}, true},
		{Op{Kind: opSubmit, Job: "k", Want: 1}, true},
		{Op{Kind: opSubmit, Job: "j", Want: 1}, false},
		{Op{Kind: opRegroup, Job: "j", Want: 3}, true},
		{Op{Kind: opCancel, Job: "nobody"}, false},
		{Op{Kind: "reboot", Job: "j"}, false},
	} {
		err := s.Check(tc.op)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrOp)) {
			t.Errorf("Check(%+v): %v", tc.op, err)
		}
		if d := diffStates(want, s); d != "" {
			t.Fatalf("Check(%+v) changed the state: %s", tc.op, d)
		}
		if aerr := s.clone().Apply(tc.op); fmt.Sprint(aerr) != fmt.Sprint(err) {
			t.Errorf("%+v: Check %v, Apply %v", tc.op, err, aerr)
		}
	}
}

// TestFSMCopies: the fsm hands out copies of its jobs.
func TestFSMCopies(t *testing.T) {
	f := &fsm{st: running(t)}
	f.st.Apply(Op{Kind: opSubmit, Job: "k", Want: 1})
	j, ok := f.Job("j")
	if !ok || j.ID != "j" || len(j.Members) != 2 {
		t.Fatalf("Job(j): %+v, %v", j, ok)
	}
	j.Members[0], j.Ready[0] = "z", false
	if f.st.Jobs["j"].Members[0] != "a" || !f.st.Jobs["j"].Ready[0] {
		t.Fatal("changing Job's copy changed the fsm")
	}
	if _, ok := f.Job("nobody"); ok {
		t.Fatal("Job(nobody)")
	}
	all := f.Jobs()
	if len(all) != 2 || all[0].ID != "j" || all[1].ID != "k" {
		t.Fatalf("Jobs: %+v", all)
	}
	all[0].Done[7] = "z"
	f.st.Jobs["null"] = nil // as a state built by hand may hold
	if n := len(f.Jobs()); n != 2 {
		t.Fatalf("Jobs with a nil entry: %d jobs", n)
	}
	if len(f.st.Jobs["j"].Done) != 1 {
		t.Fatal("changing Jobs' copy changed the fsm")
	}
	if err := f.Check(Op{Kind: opReady, Job: "j", Rank: 9}); !errors.Is(err, ErrOp) {
		t.Fatalf("fsm.Check: %v", err)
	}
}
