package localcluster

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/levy-ml/levy/coordinator"
	"github.com/levy-ml/levy/internal/wire"
)

// TestDeposedLeaderIsFenced partitions the raft leader's link while its
// NATS connection and job loop run on: the others elect a new leader,
// which takes the job over in a higher term. The deposed leader must act
// on nothing (its applies cannot commit, so it sends no decision), and a
// command in its old term, as it would have sent one, is dropped by the
// workers: the job completes in ring generation 1, not stopped, with no
// restart.
func TestDeposedLeaderIsFenced(t *testing.T) {
	steps := 300
	if raceEnabled {
		steps = 90
	}
	c := newCluster(t, smallJob("fence", steps, steps/6))
	var (
		mu        sync.Mutex
		cutAt     time.Time
		deposed   = -1
		afterCut  []string // commands the deposed leader sent after the cut, in its old term
		cutTerm   uint64   // the term it was deposed in
		sentLater []string // everything it sent after the cut, for the log
	)
	results := c.raft(2, func(i int, cc *coordinator.Config) {
		*cc = cc.WithFaults(&coordinator.Faults{Publish: func(subject string, m wire.Message) bool {
			mu.Lock()
			defer mu.Unlock()
			// Only commands of the deposed term count: under load raft
			// may, after the heal, elect the old node again, and as the
			// leader of a later term it rightly sends commands.
			if cmd, ok := m.(*wire.Command); ok && i == deposed && !cutAt.IsZero() {
				sentLater = append(sentLater, fmt.Sprintf("%s in term %d, %v after the cut", cmd.Kind, cmd.Term, time.Since(cutAt).Round(time.Millisecond)))
				if cmd.Term <= cutTerm {
					afterCut = append(afterCut, cmd.Kind)
				}
			}
			return false
		}})
	})
	c.worker("w0", nil)
	c.worker("w1", nil)

	// The commands the workers see, with their terms.
	nc := c.conn()
	var terms []uint64
	var tmu sync.Mutex
	if _, err := nc.Subscribe(wire.ControlSubject("fence"), func(m *nats.Msg) {
		var cmd wire.Command
		if wire.Decode(m.Data, &cmd) == nil {
			tmu.Lock()
			terms = append(terms, cmd.Term)
			tmu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}

	// Cut the leader's raft link once the job trains.
	var l int
	for {
		if l = c.leader(); l >= 0 {
			if j, ok := c.job(); ok && j.Step >= steps/4 {
				break
			}
		}
		if c.ctx.Err() != nil {
			t.Fatal("the job never reached a quarter of its steps")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, oldTerm, _ := c.nodes[l].Leading()
	mu.Lock()
	deposed, cutAt, cutTerm = l, time.Now(), oldTerm
	mu.Unlock()
	c.parts[l].Cut()

	// A new leader in a higher term; the old one steps down.
	var nl int
	for {
		nl = -1
		for i := range c.nodes {
			if i == l {
				continue
			}
			if leading, term, _ := c.nodes[i].Leading(); leading && term > oldTerm {
				nl = i
			}
		}
		leading, _, _ := c.nodes[l].Leading()
		if nl >= 0 && !leading {
			break
		}
		if time.Since(cutAt) > 10*time.Second {
			t.Fatalf("10 s after the cut: new leader %d, c%d still leading %v", nl, l+1, leading)
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, newTerm, _ := c.nodes[nl].Leading()
	t.Logf("c%d cut in term %d; c%d leads in term %d after %v", l+1, oldTerm, nl+1, newTerm, time.Since(cutAt).Round(time.Millisecond))

	// Wait until the workers have heard the new term (the new leader's
	// takeover re-sends the start in it), then send what a deposed leader
	// would: an abort of the running generation and a stop, in its term.
	for {
		tmu.Lock()
		heard := len(terms) > 0 && terms[len(terms)-1] >= newTerm
		tmu.Unlock()
		if heard {
			break
		}
		if time.Since(cutAt) > 10*time.Second {
			t.Fatal("the new leader sent no command in its term")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, kind := range []string{wire.CmdAbort, wire.CmdStop} {
		b, err := wire.Encode(&wire.Command{Term: oldTerm, Coordinator: c.peers[l].ID, Job: "fence", Kind: kind, Generation: 1})
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.Publish(wire.ControlSubject("fence"), b); err != nil {
			t.Fatal(err)
		}
	}
	c.parts[l].Heal()

	select {
	case res := <-results:
		j := res.Job
		if j.Phase != "done" || j.Generation != 1 || j.Restarts != 0 || j.Step != steps || j.StopAsked {
			t.Fatalf("job %s at step %d, generation %d, restarts %d, stop asked %v: the workers obeyed the deposed leader",
				j.Phase, j.Step, j.Generation, j.Restarts, j.StopAsked)
		}
	case <-c.ctx.Done():
		j, _ := c.job()
		t.Fatalf("the job did not complete: %s at step %d", j.Phase, j.Step)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("commands c%d sent after the cut: %v", deposed+1, sentLater)
	if len(afterCut) > 0 {
		t.Errorf("the deposed leader sent %v in its old term %d after its raft link was cut", afterCut, cutTerm)
	}
}
