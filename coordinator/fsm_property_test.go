package coordinator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The tests of this file check one property of the replicated state: a
// node that restores a raft snapshot taken after any prefix of the log
// and then applies the rest ends where a node that applied the whole log
// ends, op by op (the same error, or nil, from each op) and in the whole
// state. Raft restores snapshots whenever a node restarts after
// compacting its log or falls behind one, so any difference is a
// divergence between replicas, and a panic is a crash loop: raft applies
// the entry again on every restart.

// outcome is what state.Apply made of one op.
type outcome struct {
	Err   string // "" for nil
	Panic string // "" when Apply returned
}

func (o outcome) String() string {
	switch {
	case o.Panic != "":
		return "panic: " + o.Panic
	case o.Err != "":
		return "error: " + o.Err
	}
	return "nil"
}

// applyOne applies op to s, turning a panic into an outcome.
func applyOne(s *state, op Op) (o outcome) {
	defer func() {
		if r := recover(); r != nil {
			o.Panic = fmt.Sprint(r)
		}
	}()
	if err := s.Apply(op); err != nil {
		o.Err = err.Error()
	}
	return o
}

// bufferSink is a raft.SnapshotSink that keeps the snapshot in memory.
type bufferSink struct {
	bytes.Buffer
	closed, cancelled bool
}

func (s *bufferSink) ID() string    { return "buffer" }
func (s *bufferSink) Close() error  { s.closed = true; return nil }
func (s *bufferSink) Cancel() error { s.cancelled = true; return nil }

// roundTrip takes s through what raft does with it: fsm.Snapshot,
// Persist into a sink, and fsm.Restore into a fresh fsm.
func roundTrip(t testing.TB, s *state) *state {
	t.Helper()
	snap, err := (&fsm{st: s}).Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	var sink bufferSink
	if err := snap.Persist(&sink); err != nil || !sink.closed || sink.cancelled {
		t.Fatalf("Persist: %v (closed %v, cancelled %v)", err, sink.closed, sink.cancelled)
	}
	snap.Release()
	f := newFSM()
	if err := f.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	return f.st
}

// canon rewrites the one thing JSON does not keep and the state does not
// care about: a nil Spec comes back from a snapshot as the JSON null
// (specSteps reads both as 0). Everything else must survive exactly: nil
// and empty maps and slices are told apart.
func canon(s *state) *state {
	for _, j := range s.Jobs {
		if j != nil && string(j.Spec) == "null" {
			j.Spec = nil
		}
	}
	return s
}

// straight applies ops to a new state and returns it with each outcome.
// Before each op it checks state.Check: the same error as Apply, and no
// change to the state.
func straight(t testing.TB, ops []Op) (*state, []outcome) {
	t.Helper()
	s := newState()
	out := make([]outcome, len(ops))
	for i, op := range ops {
		before := s.clone()
		c := checkOne(s, op)
		if !reflect.DeepEqual(s, before) {
			t.Fatalf("op %d %+v: Check changed the state: %s", i, op, diffStates(before, s))
		}
		out[i] = applyOne(s, op)
		if c != out[i] {
			t.Fatalf("op %d %+v: Check says %v, Apply %v", i, op, c, out[i])
		}
	}
	return s, out
}

// checkOne is applyOne for state.Check.
func checkOne(s *state, op Op) (o outcome) {
	defer func() {
		if r := recover(); r != nil {
			o.Panic = fmt.Sprint(r)
		}
	}()
	if err := s.Check(op); err != nil {
		o.Err = err.Error()
	}
	return o
}

// checkCut applies ops[:cut], goes through a snapshot and applies the
// rest; the outcomes and the final state must be those of want and
// wantOut (ops applied straight through). It returns the outcomes after
// the restore, and what differed.
func checkCut(t testing.TB, ops []Op, cut int, want *state, wantOut []outcome) ([]outcome, error) {
	t.Helper()
	s := newState()
	for _, op := range ops[:cut] {
		applyOne(s, op)
	}
	s = roundTrip(t, s)
	got := make([]outcome, 0, len(ops)-cut)
	for i := cut; i < len(ops); i++ {
		o := applyOne(s, ops[i])
		if o != wantOut[i] {
			return got, fmt.Errorf("op %d %+v after a snapshot at %d of %d: %v; straight through: %v", i, ops[i], cut, len(ops), o, wantOut[i])
		}
		got = append(got, o)
	}
	if d := diffStates(canon(want), canon(s)); d != "" {
		return got, fmt.Errorf("snapshot at %d of %d ops: the states differ: %s", cut, len(ops), d)
	}
	return got, nil
}

// diffStates names the first fields where a and b differ ("" if none),
// printed with %#v so that nil and empty maps are told apart.
func diffStates(a, b *state) string {
	if reflect.DeepEqual(a, b) {
		return ""
	}
	if a.NextSeq != b.NextSeq {
		return fmt.Sprintf("next_seq %d vs %d", a.NextSeq, b.NextSeq)
	}
	ids := map[string]bool{}
	for id := range a.Jobs {
		ids[id] = true
	}
	for id := range b.Jobs {
		ids[id] = true
	}
	var out []string
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		ja, jb := a.Jobs[id], b.Jobs[id]
		if ja == nil || jb == nil {
			out = append(out, fmt.Sprintf("job %s: %v vs %v", id, ja, jb))
			continue
		}
		va, vb := reflect.ValueOf(*ja), reflect.ValueOf(*jb)
		for i := range va.NumField() {
			if fa, fb := va.Field(i).Interface(), vb.Field(i).Interface(); !reflect.DeepEqual(fa, fb) {
				out = append(out, fmt.Sprintf("job %s %s: %#v vs %#v", id, va.Type().Field(i).Name, fa, fb))
			}
		}
	}
	if len(out) == 0 {
		return "the states differ (DeepEqual), but no field does"
	}
	return strings.Join(out, "; ")
}

// mustCut is checkCut for tests that stop at the first difference.
func mustCut(t testing.TB, ops []Op, cut int, want *state, wantOut []outcome) []outcome {
	t.Helper()
	got, err := checkCut(t, ops, cut, want, wantOut)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Values the generator and the fuzz decoder draw from.
var (
	propJobs    = []string{"a", "b"}
	propWorkers = []string{"w1", "w2", "w3", "w4", "w5"}
	propSpecs   = []json.RawMessage{nil, spec(20), spec(50)}
	allOpKinds  = []string{opSubmit, opJoin, opStart, opProgress, opCheckpoint, opRankDone, opStopAsked, opReady, opRegroup, opCancel, opGrow, opFinish}
	propIncs    = []string{"", "inc00001", "inc00002"}
	allPhases   = []string{phaseWaiting, phaseRunning, phaseDone, phaseStopped, phaseFailed}
)

// opGen writes plausible op sequences: mostly ops that fit the chosen
// job's phase in the state so far, some that do not, and now and then
// anything at all, so that every phase is reached and every refusal
// happens.
type opGen struct {
	r *rand.Rand
	s *state // the ops so far, applied straight through
}

func (g *opGen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }

// chance reports true with probability n/d.
func (g *opGen) chance(n, d int) bool { return g.r.IntN(d) < n }

func (g *opGen) sequence(n int) []Op {
	g.s = newState()
	ops := make([]Op, n)
	for i := range ops {
		ops[i] = g.op()
		applyOne(g.s, ops[i])
	}
	return ops
}

func (g *opGen) op() Op {
	id := g.pick(propJobs)
	j := g.s.Jobs[id]
	if j == nil || g.chance(1, 10) {
		if j == nil && g.chance(9, 10) {
			return g.submit(id)
		}
		return g.wild(id)
	}
	steps := j.specSteps()
	switch j.Phase {
	case phaseWaiting:
		switch k := g.r.IntN(20); {
		case k < 11 && len(j.Members) < j.Want, k < 4:
			return Op{Kind: opJoin, Job: id, Worker: g.pick(propWorkers), Incarnation: g.pick(propIncs)}
		case k < 17:
			op := Op{Kind: opStart, Job: id}
			if len(j.Members) > 0 && g.chance(1, 3) {
				op.Want = 1 + g.r.IntN(len(j.Members)) // an elastic start
			}
			return op
		case k < 18:
			return Op{Kind: opCancel, Job: id}
		}
	case phaseRunning:
		switch k := g.r.IntN(40); {
		case k < 12:
			return Op{Kind: opReady, Job: id, Rank: g.r.IntN(j.Want+2) - 1}
		case k < 22:
			op := Op{Kind: opRankDone, Job: id, Rank: g.r.IntN(j.Want + 1), Step: g.pick2(j.Step, steps)}
			if g.chance(1, 8) {
				op.Error = "ring broken"
			}
			return op
		case k < 25:
			op := Op{Kind: opRegroup, Job: id, Want: g.r.IntN(4), Step: j.LatestStep, Resume: j.Latest}
			if g.chance(1, 2) {
				op.Error = "rank died"
			}
			return op
		case k < 28:
			return Op{Kind: opJoin, Job: id, Worker: g.pick(propWorkers), Incarnation: g.pick(propIncs)}
		case k < 29:
			return Op{Kind: opCancel, Job: id}
		case k < 30:
			return Op{Kind: opStopAsked, Job: id}
		case k < 31:
			return Op{Kind: opStart, Job: id}
		case k < 33:
			return Op{Kind: opGrow, Job: id, Step: int(j.Generation) - g.r.IntN(2)}
		case k < 34:
			return Op{Kind: opFinish, Job: id, Step: g.pick2(j.Step, steps), Dir: "final"}
		}
	case phaseFailed:
		if g.chance(1, 2) {
			return Op{Kind: opRankDone, Job: id, Rank: g.r.IntN(j.Want + 1), Step: j.Step}
		}
		if g.chance(3, 5) {
			return g.submit(id)
		}
	case phaseStopped:
		if g.chance(3, 5) {
			return g.submit(id)
		}
	case phaseDone:
		if g.chance(1, 4) {
			return g.submit(id) // refused: a done job stays done
		}
	}
	// Reports that any phase takes.
	switch g.r.IntN(3) {
	case 0:
		return Op{Kind: opProgress, Job: id, Step: j.Step + g.r.IntN(10), Loss: float64(g.r.IntN(1000)) / 7, Rate: float64(g.r.IntN(100)) / 3}
	case 1:
		step := j.LatestStep + g.r.IntN(10) - 3
		return Op{Kind: opCheckpoint, Job: id, Step: step, Dir: fmt.Sprintf("d%d", step)}
	}
	return g.wild(id)
}

// pick2 returns a or b, or b plus a little.
func (g *opGen) pick2(a, b int) int {
	switch g.r.IntN(3) {
	case 0:
		return a
	case 1:
		return b
	}
	return b + g.r.IntN(5)
}

func (g *opGen) submit(id string) Op {
	op := Op{Kind: opSubmit, Job: id, Spec: propSpecs[g.r.IntN(len(propSpecs))], Want: 1 + g.r.IntN(3)}
	if g.chance(1, 3) {
		op.Min = g.r.IntN(op.Want + 2) // above Want: refused
	}
	if g.chance(1, 3) {
		op.Max = op.Want + g.r.IntN(3) - 1 // below Want: refused
	}
	if g.chance(1, 2) {
		op.Resume, op.Step = "d10", 10
	}
	if g.chance(1, 20) {
		op.Want = 0 // refused
	}
	return op
}

// wild returns an op of any kind (or an unknown one) with any fields.
func (g *opGen) wild(id string) Op {
	kind := "reboot"
	if !g.chance(1, 15) {
		kind = g.pick(allOpKinds)
	}
	if g.chance(1, 15) {
		id = "nobody"
	}
	return Op{Kind: kind, Job: id, Spec: propSpecs[g.r.IntN(len(propSpecs))], Want: g.r.IntN(5) - 1,
		Worker: g.pick(propWorkers), Rank: g.r.IntN(5) - 1, Step: g.r.IntN(60), Dir: "dw",
		Error: []string{"", "boom"}[g.r.IntN(2)], Min: g.r.IntN(3), Max: g.r.IntN(4)}
}

// TestFSMSnapshotAnywhere is the property over random sequences.
func TestFSMSnapshotAnywhere(t *testing.T) {
	const sequences, cutsPer = 600, 5
	var (
		reached      = map[string]int{} // sequences in which a job reached the phase
		okAfter      = map[string]int{} // ops of each kind applied (nil error) after a restore
		refused      int                // ops refused, straight through
		total        int
		runningCuts  int // snapshots taken while a job ran
		failed       int // snapshots after which something differed
		panicked     int // ... with a panic
		emptyMapCuts int // ... with no rank yet ready or done: the crash loop's precondition
	)
	for seq := range sequences {
		g := &opGen{r: rand.New(rand.NewPCG(uint64(seq), 0x1e5))}
		ops := g.sequence(40 + g.r.IntN(80))
		want, wantOut := straight(t, ops)
		for i, o := range wantOut {
			if o.Panic != "" {
				t.Fatalf("sequence %d op %d %+v panicked straight through: %s", seq, i, ops[i], o.Panic)
			}
			if o.Err != "" {
				refused++
			}
		}
		total += len(ops)
		// Which phases did the sequence reach?
		s, seen := newState(), map[string]bool{}
		cutRunning, cutEmpty := make([]bool, len(ops)+1), make([]bool, len(ops)+1)
		for i := 0; ; i++ {
			for _, j := range s.Jobs {
				seen[j.Phase] = true
				if j.Phase == phaseRunning {
					cutRunning[i] = true
					cutEmpty[i] = cutEmpty[i] || len(j.Ready) == 0 || len(j.Done) == 0
				}
			}
			if i == len(ops) {
				break
			}
			applyOne(s, ops[i])
		}
		for p := range seen {
			reached[p]++
		}
		// Snapshot at 0, at the end, and at random cuts, the more
		// often where a job runs.
		cuts := []int{0, len(ops)}
		for len(cuts) < cutsPer+2 {
			c := g.r.IntN(len(ops) + 1)
			if cutRunning[c] || g.chance(1, 3) {
				cuts = append(cuts, c)
			}
		}
		for _, c := range cuts {
			got, err := checkCut(t, ops, c, want, wantOut)
			if err != nil {
				if strings.Contains(err.Error(), "panic") {
					panicked++
				}
				if failed++; failed <= 3 {
					t.Errorf("sequence %d: %v", seq, err)
				}
				continue
			}
			for k, o := range got {
				if o.Err == "" {
					okAfter[ops[c+k].Kind]++
				}
			}
			if cutRunning[c] {
				runningCuts++
			}
			if cutEmpty[c] {
				emptyMapCuts++
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d snapshots diverged, %d of them with a panic", failed, sequences*(cutsPer+2), panicked)
	}
	t.Logf("%d sequences, %d ops (%d refused), %d snapshots each; %d snapshots while a job ran, %d of them with no rank ready or done",
		sequences, total, refused, cutsPer+2, runningCuts, emptyMapCuts)
	t.Logf("sequences reaching each phase: %v", reached)
	t.Logf("ops applied after a restore, by kind: %v", okAfter)
	for _, p := range allPhases {
		if reached[p] < sequences/20 {
			t.Errorf("phase %s reached in %d of %d sequences", p, reached[p], sequences)
		}
	}
	for _, k := range allOpKinds {
		if okAfter[k] < 20 {
			t.Errorf("op %s applied %d times after a restore", k, okAfter[k])
		}
	}
	if refused < total/10 || emptyMapCuts < sequences/10 {
		t.Errorf("%d refused ops of %d; %d snapshots of a job with empty ready/done maps", refused, total, emptyMapCuts)
	}
}

// TestFSMSnapshotOfAStartedRing is the crash loop the property found: a
// snapshot of a ring that has just started (no rank ready or done yet),
// then the first ready report.
func TestFSMSnapshotOfAStartedRing(t *testing.T) {
	ops := []Op{{Kind: opSubmit, Job: "j", Spec: spec(10), Want: 2},
		{Kind: opJoin, Job: "j", Worker: "a"}, {Kind: opJoin, Job: "j", Worker: "b"}, {Kind: opStart, Job: "j"},
		{Kind: opReady, Job: "j", Rank: 0}, {Kind: opRankDone, Job: "j", Rank: 1, Step: 3}}
	want, wantOut := straight(t, ops)
	for cut := range len(ops) + 1 {
		mustCut(t, ops, cut, want, wantOut)
	}
}

// decodeOps reads a fuzz input: the first byte is where to snapshot,
// then three bytes an op (see fuzzOp).
func decodeOps(b []byte) (ops []Op, cut int) {
	if len(b) == 0 {
		return nil, 0
	}
	cut, b = int(b[0]), b[1:]
	kinds := append(allOpKinds[:len(allOpKinds):len(allOpKinds)], "reboot")
	for ; len(b) >= 3; b = b[3:] {
		k, x, y := b[0], b[1], b[2]
		op := Op{Kind: kinds[int(k&0x0f)%len(kinds)], Job: propJobs[int(k>>4)&1],
			Worker: propWorkers[int(x)%len(propWorkers)], Want: int(x>>3) & 3, Spec: propSpecs[int(x>>5)%len(propSpecs)],
			Rank: int(int8(y)) % 4, Step: int(y), Dir: fmt.Sprintf("d%d", y), Min: int(y>>6) & 3,
			Loss: float64(y) / 3, Rate: float64(x) / 7}
		if k&0x20 != 0 {
			op.Job = "nobody"
		}
		if k&0x40 != 0 {
			op.Error = "boom"
		}
		if k&0x80 != 0 {
			op.Resume = op.Dir
		}
		if y&0x20 != 0 {
			op.Max = op.Want + int(y>>3)&3 - 1
		}
		ops = append(ops, op)
	}
	return ops, cut % (len(ops) + 1)
}

// fuzzOp encodes an op of the given kind (index in allOpKinds) on job
// "a" with want w, worker w, rank r and step r, for decodeOps.
func fuzzOp(kind, w, r int) []byte {
	return []byte{byte(kind), byte(w<<3 | w%len(propWorkers)), byte(r)}
}

// FuzzStateApply: no op sequence panics, and a snapshot anywhere
// changes nothing.
func FuzzStateApply(f *testing.F) {
	const submit, join, start, progress, checkpoint, rankDone, stopAsked, ready, regroup, cancel = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9
	// A ring that starts, is snapshotted (cut 4) and gets ready and done
	// reports.
	f.Add(fuzzInput(4, fuzzOp(submit, 2, 0), fuzzOp(join, 0, 0), fuzzOp(join, 1, 0), fuzzOp(start, 0, 0),
		fuzzOp(ready, 0, 0), fuzzOp(ready, 0, 1), fuzzOp(progress, 0, 30), fuzzOp(checkpoint, 0, 30),
		fuzzOp(rankDone, 0, 0), fuzzOp(rankDone, 0, 1)))
	// A regroup, a grow and a cancel.
	f.Add(fuzzInput(6, fuzzOp(submit, 1, 0), fuzzOp(join, 0, 0), fuzzOp(start, 0, 0), fuzzOp(join, 2, 0),
		fuzzOp(regroup, 2, 12), fuzzOp(join, 0, 0), fuzzOp(start, 0, 0), fuzzOp(stopAsked, 0, 0), fuzzOp(cancel, 0, 0),
		fuzzOp(rankDone, 0, 0), fuzzOp(rankDone, 0, 1)))
	r := rand.New(rand.NewPCG(7, 7))
	for range 8 {
		b := make([]byte, 1+3*r.IntN(60))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ops, cut := decodeOps(b)
		want, wantOut := straight(t, ops)
		for i, o := range wantOut {
			if o.Panic != "" {
				t.Fatalf("op %d %+v panicked: %s", i, ops[i], o.Panic)
			}
		}
		mustCut(t, ops, cut, want, wantOut)
	})
}

// fuzzInput joins a cut byte and encoded ops.
func fuzzInput(cut byte, ops ...[]byte) []byte {
	out := []byte{cut}
	for _, o := range ops {
		out = append(out, o...)
	}
	return out
}

// TestFSMRestoresOldSnapshot: a snapshot written while Done and Ready were
// omitempty lacks both for a ring that has just started; restoring it
// gives the empty maps back, and the ring's reports apply.
func TestFSMRestoresOldSnapshot(t *testing.T) {
	const old = `{"jobs":{"j":{"id":"j","spec":{"steps":10},"want":2,"phase":"running","members":["a","b"],` +
		`"generation":1,"step":0,"latest_step":0,"seq":0},"gone":null},"next_seq":1}`
	f := newFSM()
	if err := f.Restore(io.NopCloser(strings.NewReader(old))); err != nil {
		t.Fatal(err)
	}
	want, _ := straight(t, []Op{{Kind: opSubmit, Job: "j", Spec: spec(10), Want: 2},
		{Kind: opJoin, Job: "j", Worker: "a"}, {Kind: opJoin, Job: "j", Worker: "b"}, {Kind: opStart, Job: "j"}})
	if d := diffStates(want, f.st); d != "" {
		t.Fatalf("restored: %s", d)
	}
	for _, op := range []Op{{Kind: opReady, Job: "j", Rank: 0}, {Kind: opRankDone, Job: "j", Rank: 1, Step: 10}} {
		if o := applyOne(f.st, op); o != (outcome{}) {
			t.Fatalf("%+v: %v", op, o)
		}
	}
}
