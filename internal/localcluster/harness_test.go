package localcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/levy-ml/levy/coordinator"
	"github.com/levy-ml/levy/internal/natstest"
	"github.com/levy-ml/levy/job"
	"github.com/levy-ml/levy/worker"
)

// cluster is an in-process cluster for protocol tests: a real NATS
// server, real workers, one coordinator or three raft coordinators.
type cluster struct {
	t     *testing.T
	ns    *server.Server
	runs  string
	spec  job.Spec
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup
	mu    sync.Mutex
	nodes []*coordinator.Node
	peers []coordinator.Peer
	dirs  []string
	parts []*coordinator.Partition // each node's raft link, to cut
}

func newCluster(t *testing.T, spec job.Spec) *cluster {
	t.Helper()
	ns, _ := natstest.Start(t, &server.Options{MaxPayload: MaxPayload}) // shut down after the cleanup below
	ctx, stop := context.WithTimeout(context.Background(), 3*time.Minute)
	c := &cluster{t: t, ns: ns, runs: t.TempDir(), spec: spec, ctx: ctx, stop: stop}
	t.Cleanup(func() {
		c.stop()
		c.wg.Wait()
		c.mu.Lock()
		for _, nd := range c.nodes {
			if nd != nil {
				nd.Shutdown()
			}
		}
		c.mu.Unlock()
	})
	return c
}

func (c *cluster) conn() *nats.Conn {
	return natstest.Connect(c.t, c.ns.ClientURL())
}

// coordConfig is a fast coordinator configuration of the cluster's job.
func (c *cluster) coordConfig(workers int) coordinator.Config {
	cc := coordinator.DefaultConfig()
	cc.NATS, cc.Job, cc.Workers, cc.RunsDir, cc.Progress = c.conn(), c.spec, workers, c.runs, nil
	if testing.Verbose() {
		cc.Progress = os.Stdout
	}
	cc.HandshakeEvery, cc.DeadAfter, cc.RejoinWindow = 200*time.Millisecond, 2*time.Second, time.Second
	return cc
}

// worker starts a worker; done receives Run's error.
func (c *cluster) worker(id string, f *worker.Faults, tweak ...func(*worker.Config)) (cancel context.CancelFunc, done <-chan error) {
	wc := worker.DefaultConfig()
	wc.ID, wc.NATS, wc.Once, wc.RunsRoot = id, c.conn(), true, c.runs
	wc.JoinRetry, wc.HeartbeatEvery, wc.StartTimeout = 100*time.Millisecond, 200*time.Millisecond, 10*time.Second
	if f != nil {
		wc = wc.WithFaults(f)
	}
	for _, tw := range tweak {
		tw(&wc)
	}
	w, err := worker.New(wc)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(c.ctx)
	ch := make(chan error, 1)
	c.wg.Add(1)
	go func() { defer c.wg.Done(); ch <- w.Run(ctx) }()
	return cancel, ch
}

// run runs one coordinator to the end of the job.
func (c *cluster) run(cc coordinator.Config) (*coordinator.Result, error) {
	s, err := coordinator.NewJobRunner(cc)
	if err != nil {
		c.t.Fatal(err)
	}
	return s.Run(c.ctx)
}

// raft starts three raft coordinators (configured by tweak(i, cfg)); the
// first Result of a finished job arrives on the channel.
func (c *cluster) raft(workers int, tweak func(i int, cc *coordinator.Config)) <-chan *coordinator.Result {
	c.t.Helper()
	for i, addr := range natstest.FreeAddrs(c.t, 3) {
		c.peers = append(c.peers, coordinator.Peer{ID: fmt.Sprintf("c%d", i+1), Addr: addr})
		c.dirs = append(c.dirs, c.t.TempDir())
		c.parts = append(c.parts, &coordinator.Partition{})
	}
	c.nodes = make([]*coordinator.Node, 3)
	results := make(chan *coordinator.Result, 3)
	for i := range 3 {
		c.startNode(i, workers, tweak, results)
	}
	return results
}

func (c *cluster) startNode(i, workers int, tweak func(i int, cc *coordinator.Config), results chan<- *coordinator.Result) {
	// Raft's fast timeouts (150 ms) are too short under the race detector:
	// leadership changed 30 times in 3 minutes and no job finished in
	// them. The race run keeps raft's defaults (1 s).
	nd, err := coordinator.NewNode(coordinator.NodeConfig{ID: c.peers[i].ID, Bind: c.peers[i].Addr, Peers: c.peers,
		DataDir: c.dirs[i], Fast: !raceEnabled, Partition: c.parts[i]})
	if err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.nodes[i] = nd
	c.mu.Unlock()
	cc := c.coordConfig(workers)
	cc.Raft = nd
	if tweak != nil {
		tweak(i, &cc)
	}
	s, err := coordinator.NewJobRunner(cc)
	if err != nil {
		c.t.Fatal(err)
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for c.ctx.Err() == nil {
			res, err := s.Run(c.ctx)
			if errors.Is(err, coordinator.ErrNotLeader) {
				continue
			}
			if err == nil {
				results <- res
			}
			return
		}
	}()
}

// leader returns the index of the leading coordinator (-1: none).
func (c *cluster) leader() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, nd := range c.nodes {
		if nd != nil && nd.IsLeader() {
			return i
		}
	}
	return -1
}

// kill shuts coordinator i down.
func (c *cluster) kill(i int) {
	c.mu.Lock()
	nd := c.nodes[i]
	c.nodes[i] = nil
	c.mu.Unlock()
	if nd != nil {
		nd.Shutdown()
	}
}

// job reads the job's record on any live coordinator.
func (c *cluster) job() (coordinator.Job, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, nd := range c.nodes {
		if nd != nil {
			if j, ok := nd.Job(c.spec.Name); ok {
				return j, true
			}
		}
	}
	return coordinator.Job{}, false
}

// raceWait is a test's patience d, tripled under the race detector: the
// protocol's own timeouts do not change, but every step and every
// goroutine switch is several times slower, and on a loaded 2-core
// machine a minute was not enough for a whole job (CI, 2026-12-03).
func raceWait(d time.Duration) time.Duration {
	if raceEnabled {
		return 3 * d
	}
	return d
}

// raceDeadAfter is a liveness timeout d for tests that count restarts:
// under the race detector a loaded machine can starve a healthy worker's
// heartbeats for a second, and an extra restart would fail the count.
func raceDeadAfter(d time.Duration) time.Duration {
	if raceEnabled {
		return 5 * d
	}
	return d
}

// raceSteps is n, or a fifth of it (at least 20) under the race detector,
// which slows training about tenfold: the protocol is the same, the jobs
// shorter.
func raceSteps(n int) int {
	if raceEnabled {
		return max(20, n/5)
	}
	return n
}
