package coordinator

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/levy-ml/levy/internal/natstest"
)

// gauge reads one series of reg.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no series %s", name)
	return 0
}

type group struct {
	t     *testing.T
	peers []Peer
	dirs  []string
	nodes []*Node
	// setup, if not nil, completes node i's configuration.
	setup func(i int, c *NodeConfig)
}

func newGroup(t *testing.T, n int) *group {
	t.Helper()
	return newGroupWith(t, n, nil)
}

func newGroupWith(t *testing.T, n int, setup func(i int, c *NodeConfig)) *group {
	t.Helper()
	g := &group{t: t, setup: setup}
	for i, a := range natstest.FreeAddrs(t, n) {
		g.peers = append(g.peers, Peer{ID: fmt.Sprintf("c%d", i+1), Addr: a})
		g.dirs = append(g.dirs, t.TempDir())
	}
	g.nodes = make([]*Node, n)
	for i := range n {
		g.start(i)
	}
	t.Cleanup(func() {
		for _, nd := range g.nodes {
			if nd != nil {
				nd.Shutdown()
			}
		}
	})
	return g
}

func (g *group) start(i int) {
	c := NodeConfig{ID: g.peers[i].ID, Bind: g.peers[i].Addr, Peers: g.peers, DataDir: g.dirs[i], Fast: true}
	if g.setup != nil {
		g.setup(i, &c)
	}
	nd, err := NewNode(c)
	if err != nil {
		g.t.Fatal(err)
	}
	g.nodes[i] = nd
}

// leader waits for a leader among the running nodes.
func (g *group) leader() int {
	g.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for i, nd := range g.nodes {
			if nd != nil && nd.IsLeader() {
				return i
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	g.t.Fatal("no leader within 10 s")
	return -1
}

// waitJob waits until node i's state has job id at step ≥ step.
func (g *group) waitJob(i int, id string, step int) {
	g.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ok := false
		g.nodes[i].fsm.Read(func(s *state) {
			j := s.Jobs[id]
			ok = j != nil && j.Step >= step
		})
		if ok {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	g.t.Fatalf("node %d never saw job %s at step %d", i, id, step)
}

func TestRaftReplicatesAndFailsOver(t *testing.T) {
	g := newGroup(t, 3)
	start := time.Now()
	l := g.leader()
	t.Logf("first leader %s after %v", g.peers[l].ID, time.Since(start).Round(time.Millisecond))
	ld := g.nodes[l]
	for _, op := range []Op{{Kind: opSubmit, Job: "j", Spec: spec(300), Want: 2},
		{Kind: opJoin, Job: "j", Worker: "a"}, {Kind: opJoin, Job: "j", Worker: "b"},
		{Kind: opStart, Job: "j"}, {Kind: opProgress, Job: "j", Step: 100}} {
		if err := ld.apply(op, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	// A refused op comes back as its error and changes nothing.
	if err := ld.apply(Op{Kind: opJoin, Job: "j", Worker: "c"}, time.Second); !errors.Is(err, ErrOp) {
		t.Fatalf("join of a full running job: %v", err)
	}
	for i := range g.nodes {
		g.waitJob(i, "j", 100)
	}
	// The raft state is exported: 2 (leader) on the leader only.
	for i, nd := range g.nodes {
		reg := prometheus.NewRegistry()
		nd.RegisterMetrics(reg)
		state, leader := gauge(t, reg, "levy_coordinator_raft_state"), gauge(t, reg, "levy_coordinator_raft_leader")
		if want := map[bool]float64{true: 2, false: 0}[i == l]; state != want || leader != want/2 {
			t.Errorf("node %d: raft_state %v, raft_leader %v; want %v, %v", i, state, leader, want, want/2)
		}
	}
	// A follower refuses to act and names the leader.
	f := (l + 1) % 3
	err := g.nodes[f].apply(Op{Kind: opProgress, Job: "j", Step: 101}, time.Second)
	var nl *NotLeaderError
	if !errors.As(err, &nl) || nl.LeaderID != g.peers[l].ID || !strings.Contains(err.Error(), g.peers[l].ID) {
		t.Fatalf("follower Apply: %v", err)
	}
	// Kill the leader: another takes over with the state and goes on.
	killed := time.Now()
	g.nodes[l].Shutdown()
	g.nodes[l] = nil
	l2 := g.leader()
	t.Logf("failover to %s in %v", g.peers[l2].ID, time.Since(killed).Round(time.Millisecond))
	if l2 == l {
		t.Fatal("the dead node leads")
	}
	// Under the race detector the fast timeouts can make leadership move
	// again right after the failover: the op goes to whoever leads.
	for deadline := time.Now().Add(10 * time.Second); ; {
		err := g.nodes[l2].apply(Op{Kind: opProgress, Job: "j", Step: 200}, time.Second)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrNotLeader) || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		l2 = g.leader()
	}
	// The old leader comes back from its data dir and catches up.
	g.start(l)
	g.waitJob(l, "j", 200)
	var gen uint64
	var members []string
	g.nodes[l].fsm.Read(func(s *state) { gen, members = s.Jobs["j"].Generation, s.Jobs["j"].Members })
	if gen != 1 || len(members) != 2 {
		t.Fatalf("restarted node: generation %d, members %v", gen, members)
	}
}

func TestRaftSnapshotRestore(t *testing.T) {
	g := newGroup(t, 3)
	l := g.leader()
	if err := g.nodes[l].apply(Op{Kind: opSubmit, Job: "s", Spec: spec(10), Want: 1}, time.Second); err != nil {
		t.Fatal(err)
	}
	for i := range g.nodes {
		g.waitJob(i, "s", 0)
	}
	// Snapshot every node, then restart one from its files only.
	for _, nd := range g.nodes {
		if err := nd.raft.Snapshot().Error(); err != nil {
			t.Fatal(err)
		}
	}
	f := (l + 1) % 3
	g.nodes[f].Shutdown()
	g.start(f)
	g.waitJob(f, "s", 0)
	snaps, _ := filepath.Glob(filepath.Join(g.dirs[f], "snapshots", "*"))
	if len(snaps) == 0 {
		t.Error("no snapshot on disk")
	}
	// A snapshot restores into an equal state.
	snap, err := g.nodes[l].fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	fsm := newFSM()
	if err := fsm.Restore(readCloser(snap.(snapshot))); err != nil {
		t.Fatal(err)
	}
	fsm.Read(func(s *state) {
		if s.Jobs["s"] == nil || s.Jobs["s"].Phase != phaseWaiting {
			t.Errorf("restored state %+v", s.Jobs)
		}
	})
}

func TestParsePeers(t *testing.T) {
	p, err := ParsePeers("c1=127.0.0.1:7001, c2=h:7002,c3=[::1]:7003")
	if err != nil || len(p) != 3 || p[1].Addr != "h:7002" {
		t.Fatalf("%v %v", p, err)
	}
	for _, bad := range []string{"", "c1", "c1=nohost", "c1=a:1,c1=b:2", "=a:1"} {
		if _, err := ParsePeers(bad); err == nil {
			t.Errorf("ParsePeers(%q) accepted", bad)
		}
	}
}

type rc struct{ *strings.Reader }

func (rc) Close() error { return nil }

func readCloser(b []byte) rc { return rc{strings.NewReader(string(b))} }

// TestRaftRefusedOpsAreNotReplicated: an op the state refuses comes back
// as its error without going through raft, so a worker retrying a join
// that cannot succeed does not grow the log.
func TestRaftRefusedOpsAreNotReplicated(t *testing.T) {
	g := newGroup(t, 1)
	ld := g.nodes[g.leader()]
	for _, op := range []Op{{Kind: opSubmit, Job: "j", Spec: spec(100), Want: 1},
		{Kind: opJoin, Job: "j", Worker: "a"}, {Kind: opStart, Job: "j"}} {
		if err := ld.apply(op, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	const n = 20
	before := ld.raft.LastIndex()
	for i := range n {
		for _, op := range []Op{{Kind: opJoin, Job: "j", Worker: "a"}, // still in the ring
			{Kind: opJoin, Job: "j", Worker: fmt.Sprint("w", i)}, // the ring is full
			{Kind: opReady, Job: "j", Rank: 1}, {Kind: opJoin, Job: "nobody", Worker: "a"}} {
			if err := ld.apply(op, time.Second); !errors.Is(err, ErrOp) {
				t.Fatalf("%+v: %v, want ErrOp", op, err)
			}
		}
	}
	if after := ld.raft.LastIndex(); after != before {
		t.Fatalf("%d refused ops moved raft's last index from %d to %d", 4*n, before, after)
	}
	if err := ld.apply(Op{Kind: opReady, Job: "j", Rank: 0}, time.Second); err != nil {
		t.Fatal(err)
	}
	if after := ld.raft.LastIndex(); after <= before {
		t.Fatalf("an accepted op left raft's last index at %d", after)
	}
}

// TestRaftSnapshotThreshold: with SnapshotThreshold and SnapshotInterval
// set, raft snapshots on its own after that many entries and compacts
// the log down to as many trailing entries; a node started again on its
// data directory restores the state from that snapshot and the log.
func TestRaftSnapshotThreshold(t *testing.T) {
	const threshold = 4
	g := newGroupWith(t, 1, func(_ int, c *NodeConfig) {
		c.SnapshotThreshold, c.SnapshotInterval = threshold, 10*time.Millisecond
	})
	ld := g.nodes[g.leader()]
	if err := ld.apply(Op{Kind: opSubmit, Job: "j", Spec: spec(100), Want: 1}, time.Second); err != nil {
		t.Fatal(err)
	}
	for step := 1; step <= 3*threshold; step++ {
		if err := ld.apply(Op{Kind: opProgress, Job: "j", Step: step}, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	var snaps []string
	for deadline := time.Now().Add(10 * time.Second); len(snaps) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no snapshot within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
		snaps, _ = filepath.Glob(filepath.Join(g.dirs[0], "snapshots", "*[0-9]"))
	}
	// Compacted: entries before the snapshot's trailing ones are gone.
	for deadline := time.Now().Add(10 * time.Second); ; {
		first, err := g.nodes[0].store.FirstIndex()
		if err != nil {
			t.Fatal(err)
		}
		if first > 1 {
			t.Logf("snapshots %v; the log starts at index %d of %d", snaps, first, ld.raft.LastIndex())
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the log was not compacted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	g.nodes[0].Shutdown()
	g.start(0)
	g.waitJob(0, "j", 3*threshold)
}

func TestNodeConfigSnapshotInterval(t *testing.T) {
	c := NodeConfig{ID: "c1", Bind: "127.0.0.1:1", Peers: []Peer{{"c1", "127.0.0.1:1"}}, DataDir: t.TempDir(), SnapshotInterval: time.Millisecond}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--raft-snapshot-interval") {
		t.Fatalf("a 1 ms snapshot interval: %v", err)
	}
	c.SnapshotInterval = 0
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}
