package localcluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/levy-ml/levy/checkpoint"
	"github.com/levy-ml/levy/coordinator"
	"github.com/levy-ml/levy/internal/natstest"
	"github.com/levy-ml/levy/worker"
)

// TestLeaderFailover: three raft-replicated coordinators and two workers
// on one NATS server; the raft leader dies near step 100 of 300; another
// coordinator is elected, takes the running job over where it was, and
// the job completes without starting again.
func TestLeaderFailover(t *testing.T) {
	_, url := natstest.Start(t, &server.Options{MaxPayload: MaxPayload})
	conn := func() *nats.Conn { return natstest.Connect(t, url) }
	var peers []coordinator.Peer
	for i, addr := range natstest.FreeAddrs(t, 3) {
		peers = append(peers, coordinator.Peer{ID: fmt.Sprintf("c%d", i+1), Addr: addr})
	}
	runs := t.TempDir()
	steps := 300
	if raceEnabled {
		steps = 60 // the race detector slows training tenfold
	}
	spec := smallJob("failover", steps, steps/6)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	nodes := make([]*coordinator.Node, 3)
	results := make(chan *coordinator.Result, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		// Raft's defaults under the race detector, as in newCluster.
		nd, err := coordinator.NewNode(coordinator.NodeConfig{ID: peers[i].ID, Bind: peers[i].Addr, Peers: peers,
			DataDir: t.TempDir(), Fast: !raceEnabled})
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = nd
		cc := coordinator.DefaultConfig()
		cc.NATS, cc.Job, cc.Workers, cc.RunsDir, cc.Progress, cc.Raft = conn(), spec, 2, runs, nil, nd
		s, err := coordinator.NewJobRunner(cc)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				res, err := s.Run(ctx)
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
	defer func() {
		cancel()
		wg.Wait()
		for _, nd := range nodes {
			if nd != nil {
				nd.Shutdown()
			}
		}
	}()
	for i := range 2 {
		wc := worker.DefaultConfig()
		wc.ID, wc.NATS, wc.Once, wc.JoinRetry, wc.RunsRoot = fmt.Sprintf("w%d", i), conn(), true, 100*time.Millisecond, runs
		w, err := worker.New(wc)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); w.Run(ctx) }()
	}

	leader := func() int {
		for i, nd := range nodes {
			if nd != nil && nd.IsLeader() {
				return i
			}
		}
		return -1
	}
	// Wait for step 100 on the leader, then kill it.
	var l, step int
	for {
		if l = leader(); l >= 0 {
			if j, ok := nodes[l].Job("failover"); ok {
				step = j.Step
			}
			if step >= steps/3 {
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("the job never reached step %d", steps/3)
		}
		time.Sleep(20 * time.Millisecond)
	}
	killed := time.Now()
	nodes[l].Shutdown()
	nodes[l] = nil
	for leader() < 0 {
		if time.Since(killed) > 10*time.Second {
			t.Fatal("no new leader within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("leader c%d killed at step %d; c%d elected after %v", l+1, step, leader()+1, time.Since(killed).Round(time.Millisecond))

	select {
	case res := <-results:
		if res.Job.Phase != "done" || res.Job.Generation != 1 {
			t.Fatalf("job %s in generation %d (want done in generation 1: no restart)", res.Job.Phase, res.Job.Generation)
		}
		c, err := checkpoint.Load(res.Latest)
		if err != nil || c.Manifest.Step != int64(steps) {
			t.Fatalf("final checkpoint: %v", err)
		}
		t.Logf("job done %v after the kill", time.Since(killed).Round(time.Millisecond))
	case <-ctx.Done():
		t.Fatal("the job did not complete after the failover")
	}
}
