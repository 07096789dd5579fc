package coordinator

import "testing"

// TestRefusedOpChangesNothing: an op the state refuses leaves it as it
// was. A refused op may still reach the FSM (raft replicates it when the
// leader could not check it first), so a change made before the refusal
// would be replicated too. It failed before for a start with Want on a
// running job, which moved members to Pending and cut Want before
// refusing.
func TestRefusedOpChangesNothing(t *testing.T) {
	ops := []Op{
		{Kind: opStart, Job: "j", Want: 1},
		{Kind: opStart, Job: "j", Want: 2},
		{Kind: opStart, Job: "j"},
		{Kind: opSubmit, Job: "j", Spec: spec(100), Want: 2},
		{Kind: opJoin, Job: "j", Worker: "a"},
		{Kind: opJoin, Job: "j", Worker: "d"},
		{Kind: opReady, Job: "j", Rank: 7},
		{Kind: opRegroup, Job: "j", Want: 0},
		{Kind: opGrow, Job: "j", Step: 99},
		{Kind: opFinish, Job: "j", Step: 3},
		{Kind: opRankDone, Job: "j", Rank: 9},
		{Kind: "nonsense", Job: "j"},
		{Kind: opProgress, Job: "nobody"},
	}
	for _, op := range ops {
		s := running(t)
		before := s.clone()
		if err := s.Apply(op); err == nil {
			continue
		}
		if d := diffStates(before, s); d != "" {
			t.Errorf("the refused %+v changed the state: %s", op, d)
		}
	}
}
