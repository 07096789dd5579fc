package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/levy-ml/levy/checkpoint"
)

// The acceptance tests run a standing cluster as an operator would: the
// Debian nats-server, three raft coordinators (BoltDB logs and snapshots
// in their --data-dir) and four workers, each its own process on
// loopback, with jobs submitted by levyctl. Coordinators are killed with
// SIGKILL and started again on the same --data-dir.

// proc is a process the test may kill and start again with the same
// arguments; its output over all its lives goes to one log.
type proc struct {
	name, path string
	args       []string
	log        *lineLog
	cur        *life
	starts     int
}

// life is one run of a proc.
type life struct {
	cmd    *exec.Cmd
	at     time.Time
	exited chan struct{}
	err    error // Wait's, once exited is closed
}

func (p *proc) start(ctx context.Context) error {
	if p.log == nil {
		p.log = &lineLog{}
	}
	if p.starts > 0 {
		fmt.Fprintf(p.log, "=== %s started again ===\n", p.name)
	}
	cmd := exec.CommandContext(ctx, p.path, p.args...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", p.name, err)
	}
	p.starts++
	l := &life{cmd: cmd, at: time.Now(), exited: make(chan struct{})}
	p.cur = l
	go func() { l.err = cmd.Wait(); close(l.exited) }()
	return nil
}

func (p *proc) alive() bool {
	if p.cur == nil {
		return false
	}
	select {
	case <-p.cur.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	if p.alive() {
		p.cur.cmd.Process.Signal(syscall.SIGKILL)
		<-p.cur.exited
	}
}

// harness is a running cluster.
type harness struct {
	t       *testing.T
	ctx     context.Context
	bin     string
	url     string
	dir     string
	runs    string
	coords  []*proc
	workers []*proc
}

// newHarness builds the binaries and starts nats-server, three
// coordinators (with coordArgs added) and four workers proc0…proc3 (with
// workerArgs added), all sharing one runs directory.
func newHarness(t *testing.T, ctx context.Context, natsBin string, coordArgs, workerArgs []string) *harness {
	t.Helper()
	h := &harness{t: t, ctx: ctx, bin: t.TempDir(), dir: t.TempDir()}
	build(t, h.bin, "coordinator", "worker", "levyctl")
	h.runs = filepath.Join(h.dir, "runs")
	port := freePort(t)
	h.url = fmt.Sprintf("nats://127.0.0.1:%d", port)
	conf := filepath.Join(h.dir, "nats.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("listen: 127.0.0.1:%d\nmax_payload: 8388608\n", port)), 0o644); err != nil {
		t.Fatal(err)
	}
	start(t, ctx, "nats-server", natsBin, "-c", conf)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nats-server did not listen")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var peers []string
	for i := range 3 {
		peers = append(peers, fmt.Sprintf("c%d=127.0.0.1:%d", i+1, freePort(t)))
	}
	t.Cleanup(func() {
		for _, p := range append(slices.Clone(h.coords), h.workers...) {
			p.kill()
		}
	})
	for i := range 3 {
		args := append([]string{"--nats", h.url, "--workers", "4", "--runs-dir", h.runs, "--id", h.id(i),
			"--raft-bind", strings.SplitN(peers[i], "=", 2)[1], "--peers", strings.Join(peers, ","),
			"--data-dir", h.dataDir(i), "--progress-every", "250ms"}, coordArgs...)
		p := &proc{name: h.id(i), path: filepath.Join(h.bin, "coordinator"), args: args}
		if err := p.start(ctx); err != nil {
			t.Fatal(err)
		}
		h.coords = append(h.coords, p)
	}
	for i := range 4 {
		args := append([]string{"--nats", h.url, "--id", fmt.Sprintf("proc%d", i), "--runs-dir", h.runs}, workerArgs...)
		p := &proc{name: fmt.Sprintf("proc%d", i), path: filepath.Join(h.bin, "worker"), args: args}
		if err := p.start(ctx); err != nil {
			t.Fatal(err)
		}
		h.workers = append(h.workers, p)
	}
	return h
}

func (h *harness) id(i int) string      { return fmt.Sprintf("c%d", i+1) }
func (h *harness) dataDir(i int) string { return filepath.Join(h.dir, fmt.Sprintf("raft%d", i+1)) }

// dump logs every process's output.
func (h *harness) dump() {
	for _, p := range append(slices.Clone(h.coords), h.workers...) {
		h.t.Logf("%s:\n%s", p.name, p.log)
	}
}

func (h *harness) fatalf(format string, a ...any) {
	h.t.Helper()
	h.dump()
	h.t.Fatalf(format, a...)
}

// levyctl runs levyctl with args and the cluster's URL.
func (h *harness) levyctl(args ...string) (string, error) {
	cmd := exec.CommandContext(h.ctx, filepath.Join(h.bin, "levyctl"), append(args, "--nats", h.url, "--timeout", "3s")...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// submit writes spec to a file and submits it, retrying while no
// coordinator leads.
func (h *harness) submit(name, spec string) string {
	h.t.Helper()
	path := filepath.Join(h.dir, name+".yaml")
	if err := os.WriteFile(path, []byte(spec), 0o644); err != nil {
		h.t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		out, err := h.levyctl("submit", path)
		if err == nil && strings.TrimSpace(out) == name {
			return path
		}
		if time.Now().After(deadline) {
			h.fatalf("levyctl submit %s: %v\n%s", path, err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// leader returns the coordinator that leads now (-1 if none answers as
// the leader): a coordinator asked by its own subject answers only if it
// leads.
func (h *harness) leader() int {
	for i, c := range h.coords {
		if !c.alive() {
			continue
		}
		if _, err := h.levyctl("status", "--coordinator", h.id(i)); err == nil {
			return i
		}
	}
	return -1
}

func (h *harness) waitLeader(within time.Duration) int {
	h.t.Helper()
	for deadline := time.Now().Add(within); ; {
		if i := h.leader(); i >= 0 {
			return i
		}
		if time.Now().After(deadline) || h.ctx.Err() != nil {
			h.fatalf("no coordinator led within %v", within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// jobStatus is one row of `levyctl status`.
type jobStatus struct {
	phase           string
	step, total     int
	want            int
	members         []string
	gen, restarts   int
	checkpoint, row string
}

// statusRE parses a row: JOB STATE STEP LOSS STEPS/S ETA WORKERS GEN
// RESTARTS CHECKPOINT, WORKERS being "n [lo-hi] members[ +pending]".
var statusRE = regexp.MustCompile(`^(\S+)\s+(\S+)\s+(\d+)/(\d+)\s+\S+\s+\S+\s+\S+\s+(\d+) \[\d+-\d+\] (\S*)(?: \+\S+)?\s+(\d+)\s+(\d+)\s+(.*?)\s*$`)

// status asks the leader for the job's row.
func (h *harness) status(job string) (jobStatus, error) {
	out, err := h.levyctl("status", job)
	if err != nil {
		return jobStatus{}, fmt.Errorf("levyctl status %s: %v: %s", job, err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		m := statusRE.FindStringSubmatch(line)
		if m == nil || m[1] != job {
			continue
		}
		s := jobStatus{phase: m[2], checkpoint: m[9], row: line}
		s.step, _ = strconv.Atoi(m[3])
		s.total, _ = strconv.Atoi(m[4])
		s.want, _ = strconv.Atoi(m[5])
		if m[6] != "" {
			s.members = strings.Split(m[6], ",")
		}
		s.gen, _ = strconv.Atoi(m[7])
		s.restarts, _ = strconv.Atoi(m[8])
		return s, nil
	}
	return jobStatus{}, fmt.Errorf("levyctl status %s: no row for the job in\n%s", job, out)
}

// waitFinished polls the job's status until it has left the running
// phases.
func (h *harness) waitFinished(job string, within time.Duration) jobStatus {
	h.t.Helper()
	var last error
	for deadline := time.Now().Add(within); ; {
		s, err := h.status(job)
		if err == nil && (s.phase == "done" || s.phase == "failed" || s.phase == "stopped") {
			return s
		}
		if err != nil {
			last = err
		} else {
			last = fmt.Errorf("%s", s.row)
		}
		if time.Now().After(deadline) || h.ctx.Err() != nil {
			h.fatalf("job %s did not finish within %v; last status: %v", job, within, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// lastStep is the newest step any coordinator has printed.
func (h *harness) lastStep() int {
	var at time.Time
	step := -1
	for _, c := range h.coords {
		c.log.mu.Lock()
		for k := len(c.log.lines) - 1; k >= 0; k-- {
			if m := stepRE.FindStringSubmatch(c.log.lines[k].line); m != nil {
				if c.log.lines[k].at.After(at) {
					at = c.log.lines[k].at
					step, _ = strconv.Atoi(m[1])
				}
				break
			}
		}
		c.log.mu.Unlock()
	}
	return step
}

// waitStep waits until a coordinator has printed step ≥ n.
func (h *harness) waitStep(n int) int {
	h.t.Helper()
	for h.ctx.Err() == nil {
		if s := h.lastStep(); s >= n {
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.fatalf("no coordinator reported step %d", n)
	return 0
}

// waitLine waits for a line matching re after since in one of the logs of
// the coordinators in among; it returns the coordinator and the line.
func (h *harness) waitLine(re *regexp.Regexp, since time.Time, within time.Duration, among ...int) (int, stamped, bool) {
	for deadline := time.Now().Add(within); time.Now().Before(deadline) && h.ctx.Err() == nil; {
		for _, i := range among {
			if s, _, ok := h.coords[i].log.find(re, since); ok {
				return i, s, true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return -1, stamped{}, false
}

// snapWatch records the raft snapshots that appear under each
// coordinator's data directory (hashicorp/raft's FileSnapshotStore writes
// <data-dir>/snapshots/<term>-<index>-<ms>/, first as <name>.tmp; it
// keeps two).
type snapWatch struct {
	mu   sync.Mutex
	seen []map[string]time.Time // per coordinator: snapshot → when first seen
}

func (h *harness) watchSnapshots() *snapWatch {
	w := &snapWatch{}
	for range h.coords {
		w.seen = append(w.seen, map[string]time.Time{})
	}
	poll := func() {
		for i := range h.coords {
			ents, _ := os.ReadDir(filepath.Join(h.dataDir(i), "snapshots"))
			w.mu.Lock()
			for _, e := range ents {
				if e.IsDir() && !strings.HasSuffix(e.Name(), ".tmp") {
					if _, ok := w.seen[i][e.Name()]; !ok {
						w.seen[i][e.Name()] = time.Now()
					}
				}
			}
			w.mu.Unlock()
		}
	}
	go func() {
		for h.ctx.Err() == nil {
			poll()
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return w
}

// of returns the snapshots seen of coordinator i.
func (w *snapWatch) of(i int) map[string]time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]time.Time{}
	for k, v := range w.seen[i] {
		out[k] = v
	}
	return out
}

func (w *snapWatch) count() (all int, per []int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range w.seen {
		per = append(per, len(m))
		all += len(m)
	}
	return all, per
}

var (
	electedRE  = regexp.MustCompile(`entering leader state`)
	leadsRE    = regexp.MustCompile(`coordinator (c\d) leads \(term (\d+)\)`)
	restoredRE = regexp.MustCompile(`restored from snapshot`)
	leaderIsRE = regexp.MustCompile(`the leader is (c\d+)`)
)

// trainedFiles are the files of a checkpoint that hold the training's
// state: they must not depend on anything but the spec and the ring size.
var trainedFiles = []string{"model.safetensors", "ema.safetensors", "optim.safetensors"}

// TestAcceptanceSoakSnapshotsLeaderKills: the standing cluster (3 raft
// coordinators with snapshots every few entries, 4 workers) trains a job
// through three rounds, spread over the job, of: the leader takes a raft
// snapshot, is SIGKILLed, another coordinator takes over, and the killed
// one starts again on its --data-dir (restoring from its snapshot and the
// log after it). The job completes with its first ring (generation 1,
// no restarts), and its final weights, EMA and optimizer state are
// bit-identical to those of an undisturbed run of the same spec on as
// many workers (coordinator --local): a change of leader does not touch
// the training.
func TestAcceptanceSoakSnapshotsLeaderKills(t *testing.T) {
	natsBin := natsServer(t)
	if testing.Short() {
		t.Skip("runs a cluster of processes for minutes; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const (
		kills = 3
		steps = 1500
	)
	spec := fmt.Sprintf("name: soak\nsteps: %d\ncheckpoint_every: 50\nglobal_batch: 768\n", steps)
	h := newHarness(t, ctx, natsBin, []string{"--raft-snapshot-threshold", "6", "--raft-snapshot-interval", "250ms"},
		[]string{"--once", "--ring-timeout", "10s"})
	snaps := h.watchSnapshots()
	t0 := time.Now()
	specPath := h.submit("soak", spec)
	h.waitStep(1)
	t.Logf("training started %v after the submission", time.Since(t0).Round(time.Millisecond))
	finalDir := checkpoint.StepDir(filepath.Join(h.runs, "soak", "checkpoints"), steps)
	ended := func() bool { _, err := os.Stat(finalDir); return err == nil }

	var elections, takeovers []time.Duration
	for k := range kills {
		// The kills are spread over the job: the k-th once the ring has
		// passed k/(kills+1) of it under the previous kill's successor.
		h.waitStep((k + 1) * steps / (kills + 1))
		ld := h.waitLeader(30 * time.Second)
		before := snaps.of(ld)
		var snap string
		var snapAt time.Time
		for snap == "" {
			for name, at := range snaps.of(ld) {
				if _, ok := before[name]; !ok {
					snap, snapAt = name, at
				}
			}
			if ended() {
				h.fatalf("the job ended after %d of %d leader kills: lengthen it (steps)", k, kills)
			}
			if ctx.Err() != nil {
				h.fatalf("no new snapshot of leader %s", h.id(ld))
			}
			time.Sleep(20 * time.Millisecond)
		}
		killAt := time.Now()
		step := h.lastStep()
		h.coords[ld].kill()
		t.Logf("kill %d: raft snapshot %s of leader %s (seen %v before the kill); SIGKILL %s at step ≈ %d",
			k+1, snap, h.id(ld), killAt.Sub(snapAt).Round(time.Millisecond), h.id(ld), step)
		var rest []int
		for i := range h.coords {
			if i != ld {
				rest = append(rest, i)
			}
		}
		if i, s, ok := h.waitLine(electedRE, killAt, 30*time.Second, rest...); ok {
			elections = append(elections, s.at.Sub(killAt))
			t.Logf("kill %d: %s elected %v after the kill", k+1, h.id(i), s.at.Sub(killAt).Round(time.Millisecond))
		} else {
			h.fatalf("kill %d: no coordinator was elected after %s's death", k+1, h.id(ld))
		}
		if i, s, ok := h.waitLine(leadsRE, killAt, 30*time.Second, rest...); ok {
			takeovers = append(takeovers, s.at.Sub(killAt))
			t.Logf("kill %d: %s took the job over %v after the kill (%s)", k+1, h.id(i), s.at.Sub(killAt).Round(time.Millisecond), s.line)
		} else if !ended() {
			h.fatalf("kill %d: no coordinator took the job over", k+1)
		}
		restartAt := time.Now()
		if err := h.coords[ld].start(ctx); err != nil {
			t.Fatal(err)
		}
		if _, s, ok := h.waitLine(restoredRE, restartAt, 20*time.Second, ld); ok {
			t.Logf("kill %d: %s started again on its data dir, restored from its snapshot in %v", k+1, h.id(ld), s.at.Sub(restartAt).Round(time.Millisecond))
		} else {
			h.fatalf("kill %d: %s started again but did not restore from a snapshot", k+1, h.id(ld))
		}
		// Back in the group: it knows the leader (or leads).
		for deadline := time.Now().Add(30 * time.Second); ; {
			out, err := h.levyctl("status", "--coordinator", h.id(ld))
			if err == nil || leaderIsRE.MatchString(out) {
				t.Logf("kill %d: %s back in the group %v after its restart", k+1, h.id(ld), time.Since(restartAt).Round(time.Millisecond))
				break
			}
			if time.Now().After(deadline) {
				h.fatalf("kill %d: %s did not rejoin the group: %v\n%s", k+1, h.id(ld), err, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	st := h.waitFinished("soak", 3*time.Minute)
	total := time.Since(t0)
	t.Logf("levyctl status soak: %s", st.row)
	if st.phase != "done" || st.step != steps || st.total != steps {
		h.fatalf("job soak: %s at %d/%d, want done at %d/%d", st.phase, st.step, st.total, steps, steps)
	}
	if st.gen != 1 || st.restarts != 0 || st.want != 4 || len(st.members) != 4 {
		h.fatalf("job soak ran in generation %d with %d restarts on %d workers %v: want generation 1, no restarts, 4 workers throughout",
			st.gen, st.restarts, st.want, st.members)
	}
	for i, c := range h.coords {
		if s, _, ok := c.log.find(regexp.MustCompile(`ring generation [2-9]|failed \(|re-forming`), t0); ok {
			h.fatalf("coordinator %s re-formed the ring: %s", h.id(i), s.line)
		}
	}
	for i, w := range h.workers {
		select {
		case <-w.cur.exited:
			if w.cur.err != nil {
				h.fatalf("worker proc%d: %v", i, w.cur.err)
			}
		case <-time.After(30 * time.Second):
			h.fatalf("worker proc%d (--once) did not exit after the job", i)
		}
	}
	got, skipped, err := checkpoint.Latest(filepath.Join(h.runs, "soak", "checkpoints"))
	if err != nil || len(skipped) > 0 || got.Manifest.Step != steps || got.Manifest.Extra["world"] != "4" {
		h.fatalf("final checkpoint: %v, skipped %v", err, skipped)
	}
	all, per := snaps.count()
	for _, c := range h.coords {
		c.kill()
	}

	// The same spec, undisturbed, on as many workers.
	refRuns := filepath.Join(h.dir, "ref-runs")
	r0 := time.Now()
	out, err := exec.CommandContext(ctx, filepath.Join(h.bin, "coordinator"), "--local", "--workers", "4", "--job", specPath,
		"--runs-dir", refRuns, "--no-sampler", "--progress-every", "10s").CombinedOutput()
	if err != nil {
		t.Fatalf("coordinator --local: %v\n%s", err, out)
	}
	ref, skipped, err := checkpoint.Latest(filepath.Join(refRuns, "soak", "checkpoints"))
	if err != nil || len(skipped) > 0 || ref.Manifest.Step != steps || ref.Manifest.Extra["world"] != "4" {
		t.Fatalf("the undisturbed run's final checkpoint: %v, skipped %v\n%s", err, skipped, out)
	}
	for _, f := range trainedFiles {
		a, aerr := os.ReadFile(filepath.Join(got.Dir, f))
		b, berr := os.ReadFile(filepath.Join(ref.Dir, f))
		switch {
		case aerr != nil || berr != nil:
			t.Errorf("%s: %v, %v", f, aerr, berr)
		case !bytes.Equal(a, b):
			t.Errorf("%s of the disturbed run (%s) differs from the undisturbed run's (%s)", f, got.Dir, ref.Dir)
		default:
			t.Logf("%s: %d bytes, identical to the undisturbed run's", f, len(a))
		}
	}
	t.Logf("figures: %d raft snapshots seen (per coordinator %v), %d leader kills; elections %v after the kills, job taken over %v after;"+
		" job done %v after the submission; the undisturbed --local run took %v",
		all, per, kills, roundAll(elections), roundAll(takeovers), total.Round(time.Millisecond), time.Since(r0).Round(time.Millisecond))
	if all < kills {
		t.Errorf("%d snapshots seen, want ≥ %d", all, kills)
	}
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

// TestAcceptanceQuorumOutageLongerThanJob (defect 12): near a quarter of
// the job two of the three coordinators, the leader among them, are
// SIGKILLed; no quorum is left. The workers train to the end without a
// coordinator and keep reporting Done; the two come back only 20 s after
// the final checkpoint is on storage. The new leader records the job done
// at its last step (not failed), acknowledges the workers' reports, and
// the same four workers take a second job and finish it.
func TestAcceptanceQuorumOutageLongerThanJob(t *testing.T) {
	natsBin := natsServer(t)
	if testing.Short() {
		t.Skip("runs a cluster of processes for minutes; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const (
		steps  = 400
		steps2 = 100
		after  = 20 * time.Second // more than the old 15 s of Done retries
	)
	h := newHarness(t, ctx, natsBin, nil, []string{"--ring-timeout", "10s"})
	t0 := time.Now()
	h.submit("outage", fmt.Sprintf("name: outage\nsteps: %d\ncheckpoint_every: 50\nglobal_batch: 768\n", steps))
	step := h.waitStep(steps / 4)
	ld := h.waitLeader(10 * time.Second)
	other := (ld + 1) % 3
	survivor := 3 - ld - other
	killAt := time.Now()
	h.coords[ld].kill()
	h.coords[other].kill()
	t.Logf("SIGKILL leader %s and %s at step ≈ %d (%v after the submission); %s is left alone, without a quorum",
		h.id(ld), h.id(other), step, killAt.Sub(t0).Round(time.Millisecond), h.id(survivor))

	root := filepath.Join(h.runs, "outage", "checkpoints")
	var finalAt time.Time
	for {
		if c, _, err := checkpoint.Latest(root); err == nil && c.Manifest.Step == steps {
			finalAt = time.Now()
			break
		}
		for i, w := range h.workers {
			if !w.alive() {
				h.fatalf("worker proc%d exited during the outage: %v", i, w.cur.err)
			}
		}
		if ctx.Err() != nil {
			h.fatalf("the workers did not train to the end without a coordinator")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("final checkpoint (step %d) on storage %v after the kills", steps, finalAt.Sub(killAt).Round(time.Millisecond))
	if out, err := h.levyctl("status", "outage"); err == nil {
		h.fatalf("a coordinator answered as leader without a quorum:\n%s", out)
	}
	time.Sleep(time.Until(finalAt.Add(after)))
	for i, w := range h.workers {
		if !w.alive() {
			h.fatalf("worker proc%d exited before any coordinator acknowledged its Done: %v", i, w.cur.err)
		}
	}
	restartAt := time.Now()
	for _, i := range []int{ld, other} {
		if err := h.coords[i].start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%s and %s started again after %v without a quorum (%v after the final checkpoint)",
		h.id(ld), h.id(other), restartAt.Sub(killAt).Round(time.Millisecond), restartAt.Sub(finalAt).Round(time.Millisecond))
	if i, s, ok := h.waitLine(electedRE, restartAt, 60*time.Second, 0, 1, 2); ok {
		t.Logf("%s elected %v after the restart", h.id(i), s.at.Sub(restartAt).Round(time.Millisecond))
	}
	if i, s, ok := h.waitLine(regexp.MustCompile(`finished while no coordinator led`), restartAt, 60*time.Second, 0, 1, 2); ok {
		t.Logf("%s, %v after the restart: %s", h.id(i), s.at.Sub(restartAt).Round(time.Millisecond), s.line)
	}
	st := h.waitFinished("outage", time.Minute)
	t.Logf("levyctl status outage (%v after the restart): %s", time.Since(restartAt).Round(time.Millisecond), st.row)
	if st.phase != "done" || st.step != steps || st.checkpoint != fmt.Sprintf("step %d", steps) {
		h.fatalf("job outage: %s at step %d/%d, checkpoint %q: want done at step %d with its final checkpoint", st.phase, st.step, st.total, st.checkpoint, steps)
	}
	first := slices.Sorted(slices.Values(st.members))

	// The workers' Done reports were acknowledged: they are free, and the
	// same four take the next job.
	s2 := time.Now()
	h.submit("after", fmt.Sprintf("name: after\nsteps: %d\ncheckpoint_every: 50\nglobal_batch: 768\n", steps2))
	st2, err := h.status("after")
	for deadline := time.Now().Add(90 * time.Second); err != nil || (st2.phase != "done" && st2.phase != "failed" && st2.phase != "stopped"); {
		if time.Now().After(deadline) || ctx.Err() != nil {
			var busy []string
			for i, w := range h.workers {
				if _, _, ok := w.log.find(regexp.MustCompile(`job=after|"job": "after"`), s2); !ok {
					busy = append(busy, fmt.Sprintf("proc%d", i))
				}
			}
			h.fatalf("the second job did not finish within 90 s (status %q, err %v); workers that never took it: %v", st2.row, err, busy)
		}
		time.Sleep(250 * time.Millisecond)
		st2, err = h.status("after")
	}
	t.Logf("levyctl status after (%v after its submission): %s", time.Since(s2).Round(time.Millisecond), st2.row)
	if st2.phase != "done" || st2.step != steps2 {
		h.fatalf("job after: %s at step %d, want done at %d", st2.phase, st2.step, steps2)
	}
	second := slices.Sorted(slices.Values(st2.members))
	if !slices.Equal(first, second) || len(second) != 4 {
		h.fatalf("the second job ran on %v, the first on %v: want the same four workers", second, first)
	}
	for i, w := range h.workers {
		if w.starts != 1 || !w.alive() {
			h.fatalf("worker proc%d: %d starts, alive %v", i, w.starts, w.alive())
		}
	}
	// When each worker, its Done acknowledged, asked for work again.
	var freed []time.Duration
	for _, w := range h.workers {
		if s, _, ok := w.log.find(regexp.MustCompile(`no place for this worker|waiting for a coordinator|\tassigned\t`), restartAt); ok {
			freed = append(freed, s.at.Sub(restartAt))
		}
	}
	t.Logf("figures: kill at step ≈ %d; final checkpoint %v after the kills; quorum restored after %v; workers free again %v after the restart;"+
		" second job done %v after its submission; total %v", step, finalAt.Sub(killAt).Round(time.Millisecond),
		restartAt.Sub(killAt).Round(time.Millisecond), roundAll(freed), time.Since(s2).Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
}
