package coordinator

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.uber.org/zap"
)

// ErrNotLeader is returned by a follower asked to change the state; the
// error's text names the leader.
var ErrNotLeader = errors.New("coordinator: not the raft leader")

// NotLeaderError says who leads, when known.
type NotLeaderError struct {
	LeaderID, LeaderAddr string
}

func (e *NotLeaderError) Error() string {
	if e.LeaderID == "" {
		return "coordinator: not the raft leader, and no leader is known yet (election in progress?)"
	}
	return fmt.Sprintf("coordinator: not the raft leader; the leader is %s (%s)", e.LeaderID, e.LeaderAddr)
}

func (e *NotLeaderError) Unwrap() error { return ErrNotLeader }

// fsm is the raft FSM of a Node: it replicates a state, one JSON Op per
// log entry.
type fsm struct {
	mu sync.RWMutex
	st *state
}

// newFSM returns an FSM over an empty state.
func newFSM() *fsm { return &fsm{st: newState()} }

// Apply applies one committed entry; it returns the Op's error (or nil).
func (f *fsm) Apply(l *raft.Log) any {
	var op Op
	if err := json.Unmarshal(l.Data, &op); err != nil {
		return fmt.Errorf("%w: undecodable log entry %d: %v", ErrOp, l.Index, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st.Apply(op)
}

// Check returns the error that applying op now would return, without
// applying it.
func (f *fsm) Check(op Op) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.Check(op)
}

// Job returns a deep copy of job id.
func (f *fsm) Job(id string) (Job, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	j := f.st.Jobs[id]
	if j == nil {
		return Job{}, false
	}
	return *j.clone(), true
}

// Jobs returns deep copies of all jobs in submission order.
func (f *fsm) Jobs() []Job {
	f.mu.RLock()
	out := make([]Job, 0, len(f.st.Jobs))
	for _, j := range f.st.Jobs {
		if j != nil {
			out = append(out, *j.clone())
		}
	}
	f.mu.RUnlock()
	slices.SortFunc(out, func(a, b Job) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

// Read runs fn with the state under a read lock; fn must not keep it.
func (f *fsm) Read(fn func(*state)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fn(f.st)
}

// Snapshot captures the state as JSON.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	b, err := json.Marshal(f.st)
	if err != nil {
		return nil, err
	}
	return snapshot(b), nil
}

// Restore replaces the state with a snapshot.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer func() { _ = rc.Close() }() // read to the end or refused below; a failing Close loses nothing
	s := newState()
	dec := json.NewDecoder(rc)
	dec.DisallowUnknownFields()
	if err := dec.Decode(s); err != nil {
		return fmt.Errorf("coordinator: restoring a raft snapshot: %w", err)
	}
	s.normalize()
	f.mu.Lock()
	f.st = s
	f.mu.Unlock()
	return nil
}

type snapshot []byte

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		_ = sink.Cancel() // the write's error is the one to report
		return err
	}
	return sink.Close()
}

func (snapshot) Release() {}

// Peer is one coordinator of the raft group.
type Peer struct{ ID, Addr string }

// ParsePeers reads "c1=host:port,c2=host:port,…".
func ParsePeers(s string) ([]Peer, error) {
	var out []Peer
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		id, addr, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || id == "" || addr == "" {
			return nil, fmt.Errorf("--peers: %q: want id=host:port", part)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("--peers: %s: %v", part, err)
		}
		if seen[id] {
			return nil, fmt.Errorf("--peers: id %q appears twice", id)
		}
		seen[id] = true
		out = append(out, Peer{ID: id, Addr: addr})
	}
	return out, nil
}

// NodeConfig configures one coordinator's raft node.
type NodeConfig struct {
	ID      string // this coordinator's ID, one of Peers
	Bind    string // raft address to listen on (host:port)
	Peers   []Peer // the whole group, this node included
	DataDir string // raft.db (BoltDB) and snapshots/
	Log     *zap.Logger
	// Fast uses tuned timeouts (≈ 0.1–0.2 s elections, as measured in
	// ../shared/DEPENDENCIES.md §7) instead of raft's 1 s defaults.
	Fast bool
	// TLSCAFile, TLSCertFile and TLSKeyFile (PEM; all three or none) run
	// raft over mutual TLS 1.3: a coordinator accepts connections, and
	// connects, only to peers whose certificate the CA signed, and a
	// peer's certificate must name the host of its address in Peers (an
	// IP address or DNS SAN). Without them raft runs over plain TCP,
	// with no authentication.
	TLSCAFile, TLSCertFile, TLSKeyFile string
	// Partition, if not nil (tests only), can cut this node's raft
	// traffic while the rest of the coordinator (NATS, the job loop)
	// runs on: a real network partition of the raft port.
	Partition *Partition
	// SnapshotThreshold is how many log entries since the last snapshot
	// make raft take the next one; SnapshotInterval how often it checks
	// (each wait drawn between one and two intervals). 0 keeps raft's
	// defaults (8192 entries, 2 min). A threshold set here also bounds
	// the entries kept after a snapshot (raft's TrailingLogs, 10240 by
	// default, which would otherwise keep a small threshold from ever
	// compacting the log). Small values are for tests and small
	// clusters: every snapshot writes the whole state.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
}

// Validate reports the first bad field.
func (c NodeConfig) Validate() error {
	if c.ID == "" || c.Bind == "" || c.DataDir == "" {
		return fmt.Errorf("coordinator: raft node needs --id (%q), --raft-bind (%q) and --data-dir (%q)", c.ID, c.Bind, c.DataDir)
	}
	found := false
	for _, p := range c.Peers {
		found = found || p.ID == c.ID
	}
	if !found {
		return fmt.Errorf("coordinator: --id %s is not among --peers", c.ID)
	}
	if c.SnapshotInterval != 0 && c.SnapshotInterval < minSnapshotInterval {
		return fmt.Errorf("coordinator: --raft-snapshot-interval %v: want 0 (raft's default) or at least %v", c.SnapshotInterval, minSnapshotInterval)
	}
	return c.ValidateTLS()
}

// minSnapshotInterval is the shortest SnapshotInterval raft accepts.
const minSnapshotInterval = 5 * time.Millisecond

// ValidateTLS reports TLS files given without the other two.
func (c NodeConfig) ValidateTLS() error {
	if set := c.TLSCAFile != "" || c.TLSCertFile != "" || c.TLSKeyFile != ""; set && (c.TLSCAFile == "" || c.TLSCertFile == "" || c.TLSKeyFile == "") {
		return fmt.Errorf("coordinator: raft over TLS needs all three of --raft-tls-ca (%q), --raft-tls-cert (%q) and --raft-tls-key (%q)",
			c.TLSCAFile, c.TLSCertFile, c.TLSKeyFile)
	}
	return nil
}

// TLS reports whether raft runs over mutual TLS.
func (c NodeConfig) TLS() bool { return c.TLSCAFile != "" }

// Node is one member of the coordinators' raft group.
type Node struct {
	cfg   NodeConfig
	raft  *raft.Raft
	fsm   *fsm
	trans *raft.NetworkTransport
	store *raftboltdb.BoltStore
	lead  *leadership
	// caughtUp is the raft term in which this node, leading, saw a
	// barrier applied: from then on until the term ends its FSM holds
	// every entry acknowledged to anyone, and Apply may refuse an op by
	// checking it against the FSM.
	caughtUp atomic.Uint64
}

// NewNode opens (or creates) the node's raft state in DataDir and joins
// the group. A node with no state yet bootstraps the group from Peers
// (every member bootstraps the same configuration, which raft accepts).
func NewNode(cfg NodeConfig) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Log
	if log == nil {
		log = zap.NewNop()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("coordinator: --data-dir: %w", err)
	}
	rc := raftConfig(cfg, log)
	store, err := raftboltdb.NewBoltStore(filepath.Join(cfg.DataDir, "raft.db"))
	if err != nil {
		return nil, fmt.Errorf("coordinator: opening %s: %w", filepath.Join(cfg.DataDir, "raft.db"), err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, 2, rc.Logger)
	if err != nil {
		return nil, closeAfter(err, store)
	}
	trans, err := newTransport(cfg, rc.Logger)
	if err != nil {
		return nil, closeAfter(err, store)
	}
	f := newFSM()
	r, err := startRaft(cfg, rc, f, store, snaps, trans)
	if err != nil {
		return nil, closeAfter(err, trans, store)
	}
	n := &Node{cfg: cfg, raft: r, fsm: f, trans: trans, store: store, lead: newLeadership()}
	go n.lead.watch(r.LeaderCh(), r.CurrentTerm)
	return n, nil
}

// raftConfig is raft's configuration for the node.
func raftConfig(cfg NodeConfig, log *zap.Logger) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	// Raft's entries go to zap as structured entries, at info and above
	// (raft's debug and trace are its own internals); zap's level
	// filters further.
	rc.Logger = newHclog(log.With(zap.String("coordinator", cfg.ID)), hclog.Info).Named("raft")
	if cfg.Fast {
		rc.HeartbeatTimeout, rc.ElectionTimeout = 150*time.Millisecond, 150*time.Millisecond
		rc.LeaderLeaseTimeout, rc.CommitTimeout = 100*time.Millisecond, 5*time.Millisecond
	}
	if cfg.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = cfg.SnapshotThreshold
		// After a snapshot, keep as many entries as the threshold: a
		// follower a little behind still catches up from the log, one
		// further behind gets the snapshot.
		rc.TrailingLogs = min(rc.TrailingLogs, cfg.SnapshotThreshold)
	}
	if cfg.SnapshotInterval > 0 {
		rc.SnapshotInterval = cfg.SnapshotInterval
	}
	return rc
}

// newTransport listens on cfg.Bind: over mutual TLS, through a test's
// Partition, or over plain TCP.
func newTransport(cfg NodeConfig, logger hclog.Logger) (*raft.NetworkTransport, error) {
	addr, err := net.ResolveTCPAddr("tcp", cfg.Bind)
	if err != nil {
		return nil, fmt.Errorf("coordinator: --raft-bind %s: %w", cfg.Bind, err)
	}
	var trans *raft.NetworkTransport
	if cfg.TLS() {
		tc, terr := raftTLSConfig(cfg.TLSCAFile, cfg.TLSCertFile, cfg.TLSKeyFile)
		if terr != nil {
			return nil, terr
		}
		trans, err = newTLSTransport(cfg.Bind, addr, tc, logger)
	} else if cfg.Partition != nil {
		trans, err = newPartitionTransport(cfg.Bind, addr, cfg.Partition, logger)
	} else {
		trans, err = raft.NewTCPTransportWithLogger(cfg.Bind, addr, 3, 5*time.Second, logger)
	}
	if err != nil {
		return nil, fmt.Errorf("coordinator: --raft-bind %s: %w", cfg.Bind, err)
	}
	return trans, nil
}

// startRaft bootstraps the group from cfg.Peers if the node has no
// state yet, and starts raft.
func startRaft(cfg NodeConfig, rc *raft.Config, f *fsm, store *raftboltdb.BoltStore, snaps raft.SnapshotStore, trans raft.Transport) (*raft.Raft, error) {
	has, err := raft.HasExistingState(store, store, snaps)
	if err != nil {
		return nil, err
	}
	if !has {
		var servers []raft.Server
		for _, p := range cfg.Peers {
			servers = append(servers, raft.Server{ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)})
		}
		if err := raft.BootstrapCluster(rc, store, store, snaps, trans, raft.Configuration{Servers: servers}); err != nil {
			return nil, fmt.Errorf("coordinator: bootstrapping raft: %w", err)
		}
	}
	r, err := raft.NewRaft(rc, f, store, store, snaps, trans)
	if err != nil {
		return nil, fmt.Errorf("coordinator: starting raft: %w", err)
	}
	return r, nil
}

// closeAfter closes what a failed NewNode opened and returns err, the
// failure to report: a Close failing after it adds nothing the caller
// could act on.
func closeAfter(err error, cs ...io.Closer) error {
	for _, c := range cs {
		_ = c.Close() // err says what failed
	}
	return err
}

// IsLeader reports whether this node leads.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Leader returns the leader's ID and address ("" when unknown).
func (n *Node) Leader() (id, addr string) {
	a, i := n.raft.LeaderWithID()
	return string(i), string(a)
}

// Job returns a copy of job id's record as this node has applied it (a
// follower's may lag the leader's).
func (n *Node) Job(id string) (Job, bool) { return n.fsm.Job(id) }

// apply replicates op and applies it; on a follower it returns a
// *NotLeaderError naming the leader. An op the state refuses returns its
// error (wrapping ErrOp) without being replicated, once this leader's
// FSM has caught up with the log (see checkable).
func (n *Node) apply(op Op, timeout time.Duration) error {
	if !n.IsLeader() {
		id, addr := n.Leader()
		return &NotLeaderError{LeaderID: id, LeaderAddr: addr}
	}
	if n.checkable(timeout) {
		if err := n.fsm.Check(op); err != nil {
			return err
		}
	}
	b, err := json.Marshal(op)
	if err != nil {
		return err
	}
	f := n.raft.Apply(b, timeout)
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			id, addr := n.Leader()
			return &NotLeaderError{LeaderID: id, LeaderAddr: addr}
		}
		return fmt.Errorf("coordinator: replicating %s: %w", op.Kind, err)
	}
	if err, ok := f.Response().(error); ok && err != nil {
		return err
	}
	return nil
}

// checkable reports whether the FSM may judge ops for this leader: only
// once a barrier has been applied in the current term. Before that a new
// leader's FSM may lack entries that an earlier leader committed and
// acknowledged, and refusing on that stale state would contradict them
// ("no such job" for a job whose submit succeeded). A failed barrier
// leaves the op to go through raft, as every op did before.
func (n *Node) checkable(timeout time.Duration) bool {
	term := n.raft.CurrentTerm()
	if n.caughtUp.Load() == term {
		return true
	}
	if err := n.raft.Barrier(timeout).Error(); err != nil {
		return false
	}
	// Storing the term read before the barrier: if the term moved on
	// meanwhile, the next call sees a mismatch and asks again.
	n.caughtUp.Store(term)
	return true
}

// Shutdown stops the node and closes its files.
func (n *Node) Shutdown() error {
	err := n.raft.Shutdown().Error()
	n.lead.close()
	if terr := n.trans.Close(); err == nil {
		err = terr
	}
	if cerr := n.store.Close(); err == nil {
		err = cerr
	}
	return err
}
