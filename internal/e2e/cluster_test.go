package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/levy-ml/levy/checkpoint"
)

// lineLog records a process's output lines with the time each arrived.
type lineLog struct {
	mu    sync.Mutex
	part  string
	lines []stamped
}

type stamped struct {
	at   time.Time
	line string
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part += string(p)
	for {
		i := strings.IndexByte(l.part, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, stamped{time.Now(), l.part[:i]})
		l.part = l.part[i+1:]
	}
	return len(p), nil
}

// find returns the first line after since matching re.
func (l *lineLog) find(re *regexp.Regexp, since time.Time) (stamped, []string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		if s.at.Before(since) {
			continue
		}
		if m := re.FindStringSubmatch(s.line); m != nil {
			return s, m, true
		}
	}
	return stamped{}, nil, false
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, s := range l.lines {
		b.WriteString(s.at.Format("15:04:05.000 ") + s.line + "\n")
	}
	return b.String() + l.part
}

var stepRE = regexp.MustCompile(`^step (\d+)/`)

// TestClusterSurvivesWorkerAndLeaderDeath: the Debian nats-server, three
// raft coordinators and four workers, all separate processes on loopback.
// A worker is SIGKILLed near step 100 and the raft leader near step 200;
// the job completes. The test logs the detection, new-ring and failover
// times and the steps redone.
func TestClusterSurvivesWorkerAndLeaderDeath(t *testing.T) { clusterScenario(t, syscall.SIGKILL) }

// TestClusterSurvivesHungWorker: the same with a worker that hangs
// (SIGSTOP: alive, silent) instead of dying.
func TestClusterSurvivesHungWorker(t *testing.T) { clusterScenario(t, syscall.SIGSTOP) }

// TestClusterSurvivesNATSRestart: the same with the NATS server killed
// near step 100 and started again a second later (then the leader dies).
func TestClusterSurvivesNATSRestart(t *testing.T) { clusterScenario(t, 0) }

// clusterScenario disturbs a worker with sig near step 100 (sig 0:
// restarts the NATS server instead) and kills the raft leader near step
// 200.
func clusterScenario(t *testing.T, sig syscall.Signal) {
	natsBin := natsServer(t)
	if testing.Short() {
		t.Skip("builds binaries; skipped with -short")
	}
	bin := t.TempDir()
	build(t, bin, "coordinator", "worker", "levyctl")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	port := freePort(t)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	conf := filepath.Join(t.TempDir(), "nats.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("listen: 127.0.0.1:%d\nmax_payload: 8388608\n", port)), 0o644)
	ns, _ := start(t, ctx, "nats-server", natsBin, "-c", conf)
	listening := func() {
		for deadline := time.Now().Add(10 * time.Second); ; {
			if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				c.Close()
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("nats-server did not listen")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	listening()

	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	spec := filepath.Join(dir, "job.yaml")
	os.WriteFile(spec, []byte("name: cluster\nsteps: 300\ncheckpoint_every: 50\nglobal_batch: 768\n"), 0o644)
	var peers []string
	for i := range 3 {
		peers = append(peers, fmt.Sprintf("c%d=127.0.0.1:%d", i+1, freePort(t)))
	}
	coords := make([]*exec.Cmd, 3)
	logs := make([]*lineLog, 3)
	for i := range 3 {
		logs[i] = &lineLog{}
		addr := strings.SplitN(peers[i], "=", 2)[1]
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "coordinator"), "--nats", url, "--workers", "4",
			"--runs-dir", runs, "--id", fmt.Sprintf("c%d", i+1), "--raft-bind", addr, "--peers", strings.Join(peers, ","),
			"--data-dir", filepath.Join(dir, fmt.Sprintf("raft%d", i+1)), "--progress-every", "250ms", "--dead-after", "2s")
		cmd.Stdout, cmd.Stderr = logs[i], logs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		coords[i] = cmd
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
	}
	workers := make([]*exec.Cmd, 4)
	for i := range 4 {
		w, _ := start(t, ctx, "worker", filepath.Join(bin, "worker"), "--nats", url, "--once", "--id", fmt.Sprintf("proc%d", i),
			"--ring-timeout", "5s", "--runs-dir", runs)
		workers[i] = w
	}
	dump := func() {
		for i, l := range logs {
			t.Logf("coordinator c%d:\n%s", i+1, l)
		}
	}
	// waitStep waits until some coordinator reports step ≥ n after since.
	waitStep := func(n int, since time.Time) (int, int) {
		for ctx.Err() == nil {
			for i, l := range logs {
				l.mu.Lock()
				for k := len(l.lines) - 1; k >= 0 && l.lines[k].at.After(since); k-- {
					if m := stepRE.FindStringSubmatch(l.lines[k].line); m != nil {
						if s, _ := strconv.Atoi(m[1]); s >= n {
							l.mu.Unlock()
							return i, s
						}
					}
				}
				l.mu.Unlock()
			}
			time.Sleep(20 * time.Millisecond)
		}
		dump()
		t.Fatalf("no coordinator reported step %d", n)
		return -1, 0
	}
	// Submit the job to the standing group, as a user would.
	for deadline := time.Now().Add(30 * time.Second); ; {
		out, err := exec.CommandContext(ctx, filepath.Join(bin, "levyctl"), "submit", spec, "--nats", url).CombinedOutput()
		if err == nil && strings.TrimSpace(string(out)) == "cluster" {
			break
		}
		if time.Now().After(deadline) {
			dump()
			t.Fatalf("levyctl submit: %v\n%s", err, out)
		}
		time.Sleep(100 * time.Millisecond) // no leader yet
	}
	t0 := time.Now()
	_, s1 := waitStep(100, t0)
	kill1 := time.Now()
	if sig == 0 {
		ns.Process.Kill()
		ns.Wait()
		time.Sleep(time.Second)
		start(t, ctx, "nats-server", natsBin, "-c", conf)
		listening()
		t.Logf("NATS server restarted at step ≈ %d, down for %v", s1, time.Since(kill1).Round(time.Millisecond))
	} else {
		workers[3].Process.Signal(sig)
		defer workers[3].Process.Signal(syscall.SIGKILL)
		t.Logf("%s to worker proc3 at step ≈ %d", map[syscall.Signal]string{syscall.SIGKILL: "SIGKILL", syscall.SIGSTOP: "SIGSTOP"}[sig], s1)
	}

	leader, s2 := waitStep(200, kill1)
	// A follower asked to act answers with the leader's identity; the
	// leader answers itself.
	follower := (leader + 1) % 3
	out, err := exec.CommandContext(ctx, filepath.Join(bin, "levyctl"), "status", "--coordinator", fmt.Sprintf("c%d", follower+1),
		"--nats", url).CombinedOutput()
	if want := fmt.Sprintf("the leader is c%d", leader+1); err == nil || !strings.Contains(string(out), want) {
		t.Errorf("levyctl status --coordinator c%d (a follower): %v, want an error naming the leader (%q):\n%s", follower+1, err, want, out)
	}
	out, err = exec.CommandContext(ctx, filepath.Join(bin, "levyctl"), "status", "--coordinator", fmt.Sprintf("c%d", leader+1),
		"--nats", url).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "running") {
		t.Errorf("levyctl status --coordinator c%d (the leader): %v\n%s", leader+1, err, out)
	}
	kill2 := time.Now()
	coords[leader].Process.Signal(syscall.SIGKILL)
	t.Logf("SIGKILL raft leader c%d at step ≈ %d", leader+1, s2)

	doneRE := regexp.MustCompile(`^done: (\d+) steps`)
	var doneAt stamped
	for ok := false; !ok; {
		for i, l := range logs {
			if i == leader {
				continue
			}
			if doneAt, _, ok = l.find(doneRE, kill2); ok {
				break
			}
		}
		if ctx.Err() != nil {
			dump()
			t.Fatal("the job did not complete")
		}
		time.Sleep(50 * time.Millisecond)
	}
	c, skipped, err := checkpoint.Latest(filepath.Join(runs, "cluster", "checkpoints"))
	if err != nil || len(skipped) > 0 || c.Manifest.Step != 300 {
		dump()
		t.Fatalf("final checkpoint: %v %v", err, skipped)
	}
	// Figures for the record.
	failRE := regexp.MustCompile(`ring generation 1 failed \(rank \d+ at step (\d+): (.*)\); re-forming it from checkpoint step (\d+)`)
	newRingRE := regexp.MustCompile(`^ring generation 2: `)
	leadRE := regexp.MustCompile(`^coordinator c\d leads`)
	for i, l := range logs {
		if f, m, ok := l.find(failRE, kill1); ok {
			at, _ := strconv.Atoi(m[1])
			from, _ := strconv.Atoi(m[3])
			t.Logf("worker death detected after %v (%s); the ring had reported step %d (killed near %d), resumed from checkpoint %d: about %d steps redone",
				f.at.Sub(kill1).Round(time.Millisecond), m[2], at, s1, from, max(at, s1, from)-from)
			if r, _, ok := logs[i].find(newRingRE, kill1); ok {
				t.Logf("new ring after %v", r.at.Sub(kill1).Round(time.Millisecond))
			}
		}
		if i != leader {
			if f, _, ok := l.find(leadRE, kill2); ok {
				t.Logf("leader failover: c%d leads %v after the kill", i+1, f.at.Sub(kill2).Round(time.Millisecond))
			}
		}
	}
	t.Logf("job done %v after the start, %v after the leader's death (%s)", doneAt.at.Sub(t0).Round(time.Millisecond),
		doneAt.at.Sub(kill2).Round(time.Millisecond), doneAt.line)
	if !strings.Contains(doneAt.line, "step-00000300") {
		t.Errorf("the coordinator's final record names another checkpoint: %s", doneAt.line)
	}
	if sig != 0 && c.Manifest.Extra["world"] != "3" {
		t.Errorf("the final checkpoint was written by a ring of %s workers, want 3", c.Manifest.Extra["world"])
	}
}

// TestJobSurvivesNATSRestart: the NATS server is killed near step 100 and
// started again on the same port a second later; every process
// reconnects, the broken ring is re-formed from the newest checkpoint, and
// the job completes.
func TestJobSurvivesNATSRestart(t *testing.T) {
	natsBin := natsServer(t)
	if testing.Short() {
		t.Skip("builds binaries; skipped with -short")
	}
	bin := t.TempDir()
	build(t, bin, "coordinator", "worker")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	port := freePort(t)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	conf := filepath.Join(t.TempDir(), "nats.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("listen: 127.0.0.1:%d\nmax_payload: 8388608\n", port)), 0o644)
	listening := func() {
		for deadline := time.Now().Add(10 * time.Second); ; {
			if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				c.Close()
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("nats-server did not listen")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	ns, _ := start(t, ctx, "nats-server", natsBin, "-c", conf)
	listening()
	dir := t.TempDir()
	spec := filepath.Join(dir, "job.yaml")
	os.WriteFile(spec, []byte("name: restart\nsteps: 300\ncheckpoint_every: 50\nglobal_batch: 768\n"), 0o644)
	clog := &lineLog{}
	coord := exec.CommandContext(ctx, filepath.Join(bin, "coordinator"), "--nats", url, "--workers", "3", "--job", spec,
		"--runs-dir", filepath.Join(dir, "runs"), "--progress-every", "250ms", "--dead-after", "3s")
	coord.Stdout, coord.Stderr = clog, clog
	if err := coord.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { coord.Process.Kill(); coord.Wait() }()
	for i := range 3 {
		start(t, ctx, "worker", filepath.Join(bin, "worker"), "--nats", url, "--id", fmt.Sprintf("nr%d", i), "--ring-timeout", "5s",
			"--runs-dir", filepath.Join(dir, "runs"))
	}
	for {
		var step int
		clog.mu.Lock()
		for k := len(clog.lines) - 1; k >= 0; k-- {
			if mm := stepRE.FindStringSubmatch(clog.lines[k].line); mm != nil {
				step, _ = strconv.Atoi(mm[1])
				break
			}
		}
		clog.mu.Unlock()
		if step >= 100 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("never reached step 100:\n%s", clog)
		}
		time.Sleep(20 * time.Millisecond)
	}
	down := time.Now()
	ns.Process.Kill()
	ns.Wait()
	time.Sleep(time.Second)
	start(t, ctx, "nats-server", natsBin, "-c", conf)
	listening()
	t.Logf("NATS server down for %v", time.Since(down).Round(time.Millisecond))
	if err := coord.Wait(); err != nil {
		t.Fatalf("coordinator: %v\n%s", err, clog)
	}
	doneRE := regexp.MustCompile(`^done: 300 steps`)
	if _, _, ok := clog.find(doneRE, down); !ok {
		t.Fatalf("the job did not complete:\n%s", clog)
	}
	if f, _, ok := clog.find(regexp.MustCompile(`failed \(`), down); ok {
		t.Logf("%s (after %v)", f.line, f.at.Sub(down).Round(time.Millisecond))
	}
}
