package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/levy-ml/levy/checkpoint"
)

// natsServer finds the nats-server binary. .ci/run installs it (Debian
// package nats-server); the test installs nothing. Set
// LEVY_REQUIRE_SYSTEM_DEPS=1 to make its absence a failure (CI does).
func natsServer(t *testing.T) string {
	p, err := exec.LookPath("nats-server")
	if err != nil {
		if os.Getenv("LEVY_REQUIRE_SYSTEM_DEPS") != "" {
			t.Fatal("nats-server not found in PATH (apt-get install nats-server)")
		}
		t.Skip("nats-server not in PATH; .ci/run installs it (apt-get install nats-server)")
	}
	return p
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// build compiles the commands into dir.
func build(t *testing.T, dir string, cmds ...string) {
	t.Helper()
	args := []string{"build", "-o", dir + string(os.PathSeparator)}
	for _, c := range cmds {
		args = append(args, "github.com/levy-ml/levy/cmd/"+c)
	}
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
}

// syncBuffer is a bytes.Buffer safe for a process's stdout and stderr.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, ctx context.Context, name, bin string, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, out
}

// TestMultiProcess: nats-server, a coordinator and 3 workers, each its own
// process on loopback, train a job to the end; the workers leave on their
// own (--once) and the final checkpoint verifies.
func TestMultiProcess(t *testing.T) {
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
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("listen: 127.0.0.1:%d\nmax_payload: 8388608\n", port)), 0o644); err != nil {
		t.Fatal(err)
	}
	ns, nsOut := start(t, ctx, "nats-server", natsBin, "-c", conf)
	defer ns.Process.Kill()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nats-server did not listen: %s", nsOut)
		}
		time.Sleep(50 * time.Millisecond)
	}

	runs := t.TempDir()
	spec := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(spec, []byte("name: mp\nsteps: 60\ncheckpoint_every: 30\nglobal_batch: 768\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	coord, cOut := start(t, ctx, "coordinator", filepath.Join(bin, "coordinator"), "--nats", url, "--workers", "3",
		"--job", spec, "--runs-dir", runs, "--progress-every", "1s", "--log-level", "info")
	var workers []*exec.Cmd
	var wOut []*syncBuffer
	for i := range 3 {
		w, out := start(t, ctx, "worker", filepath.Join(bin, "worker"), "--nats", url, "--once", "--id", fmt.Sprintf("proc%d", i),
			"--ring-timeout", "20s", "--runs-dir", runs)
		workers, wOut = append(workers, w), append(wOut, out)
	}
	if err := coord.Wait(); err != nil {
		for i, o := range wOut {
			t.Logf("worker %d:\n%s", i, o)
		}
		t.Fatalf("coordinator: %v\n%s", err, cOut)
	}
	for i, w := range workers {
		if err := w.Wait(); err != nil {
			t.Errorf("worker %d: %v\n%s", i, err, wOut[i])
		}
	}
	out := cOut.String()
	for _, want := range []string{"worker proc0 joined", "ring generation 1", "checkpoint: step 60", "done: 60 steps"} {
		if !strings.Contains(out, want) {
			t.Errorf("coordinator output lacks %q:\n%s", want, out)
		}
	}
	c, skipped, err := checkpoint.Latest(filepath.Join(runs, "mp", "checkpoints"))
	if err != nil || len(skipped) > 0 || c.Manifest.Step != 60 {
		t.Fatalf("final checkpoint: %v, skipped %v", err, skipped)
	}
	if c.Manifest.Extra["world"] != "3" {
		t.Errorf("manifest world = %q, want 3", c.Manifest.Extra["world"])
	}
}

// TestWorkerRefusesGPUWithoutCUDA: `worker --gpu 0` on a CPU build exits
// non-zero at once with a message that says why.
func TestWorkerRefusesGPUWithoutCUDA(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary; skipped with -short")
	}
	bin := t.TempDir()
	build(t, bin, "worker")
	out, err := exec.Command(filepath.Join(bin, "worker"), "--gpu", "0", "--nats", "nats://127.0.0.1:1").CombinedOutput()
	if err == nil {
		t.Fatalf("worker --gpu 0 succeeded:\n%s", out)
	}
	if !strings.Contains(string(out), "without CUDA") || !strings.Contains(string(out), "--gpu -1") {
		t.Errorf("worker --gpu 0 said:\n%s", out)
	}
}

// TestCoordinatorRefusesBadJobSpec: an invalid spec is refused before
// anything starts, naming the field and the reason; nothing is written.
func TestCoordinatorRefusesBadJobSpec(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary; skipped with -short")
	}
	bin := t.TempDir()
	build(t, bin, "coordinator")
	dir := t.TempDir()
	spec := filepath.Join(dir, "bad.yaml")
	os.WriteFile(spec, []byte("alpha: 2.5\nsteps: 10\n"), 0o644)
	runs := filepath.Join(dir, "runs")
	out, err := exec.Command(filepath.Join(bin, "coordinator"), "--local", "--workers", "2", "--job", spec, "--runs-dir", runs).CombinedOutput()
	if err == nil {
		t.Fatalf("accepted a bad spec:\n%s", out)
	}
	if !strings.Contains(string(out), `"alpha" = 2.5`) || !strings.Contains(string(out), "bad.yaml") {
		t.Errorf("message does not name the file and field:\n%s", out)
	}
	if _, err := os.Stat(runs); err == nil {
		t.Errorf("a refused job created %s", runs)
	}
	out, err = exec.Command(filepath.Join(bin, "coordinator"), "--local", "--workers", "2000", "--runs-dir", runs).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "global_batch") {
		t.Errorf("1024 points over 2000 workers: %v\n%s", err, out)
	}
}
