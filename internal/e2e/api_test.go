package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSubmitStatusCancelWithCredentials: a NATS server that requires a
// password, one raft coordinator serving the API and two workers. Without
// credentials levyctl is refused and nothing changes; a malformed spec, an
// unknown job and a dead leader each get their own clear error; a good job
// is queued, runs, and is cancelled with a checkpoint.
func TestSubmitStatusCancelWithCredentials(t *testing.T) {
	natsBin := natsServer(t)
	if testing.Short() {
		t.Skip("builds binaries; skipped with -short")
	}
	bin := t.TempDir()
	build(t, bin, "coordinator", "worker", "levyctl")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	port := freePort(t)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	dir := t.TempDir()
	conf := filepath.Join(dir, "nats.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("listen: 127.0.0.1:%d\nmax_payload: 8388608\nauthorization { user: levy, password: s3cret }\n", port)), 0o644)
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
	creds := []string{"LEVY_NATS_USER=levy", "LEVY_NATS_PASSWORD=s3cret"}
	run := func(env []string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "levyctl"), append(args, "--nats", url)...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	var outs []*syncBuffer
	startEnv := func(name string, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, filepath.Join(bin, name), args...)
		cmd.Env = append(os.Environ(), creds...)
		out := &syncBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, out)
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	raftPort := freePort(t)
	coord := startEnv("coordinator", "--nats", url, "--workers", "2", "--runs-dir", filepath.Join(dir, "runs"),
		"--id", "c1", "--raft-bind", fmt.Sprintf("127.0.0.1:%d", raftPort), "--peers", fmt.Sprintf("c1=127.0.0.1:%d", raftPort),
		"--data-dir", filepath.Join(dir, "raft"), "--progress-every", "500ms")
	for i := range 2 {
		startEnv("worker", "--nats", url, "--id", fmt.Sprintf("api%d", i), "--runs-dir", filepath.Join(dir, "runs"))
	}
	// Wait until the coordinator leads and serves.
	for deadline := time.Now().Add(30 * time.Second); ; {
		out, err := run(creds, "status")
		if err == nil && strings.Contains(out, "no jobs") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the coordinator never served: %v\n%s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}

	good := filepath.Join(dir, "job.yaml")
	os.WriteFile(good, []byte("name: api-job\nsteps: 100000\ncheckpoint_every: 100000\n"), 0o644)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("name: bad\nalpha: 7\n"), 0o644)

	if out, err := run(nil, "submit", good); err == nil || !strings.Contains(out, "refused this client's credentials") || strings.Contains(out, "s3cret") {
		t.Fatalf("submit without credentials: %v\n%s", err, out)
	}
	if out, err := run(creds, "submit", bad); err == nil || !strings.Contains(out, `"alpha" = 7`) || !strings.Contains(out, "refused by the coordinator") {
		t.Fatalf("malformed spec: %v\n%s", err, out)
	}
	if out, err := run(creds, "status", "nosuch"); err == nil || !strings.Contains(out, `no job "nosuch"`) {
		t.Fatalf("unknown job: %v\n%s", err, out)
	}
	if out, _ := run(creds, "status"); !strings.Contains(out, "no jobs") {
		t.Fatalf("the refused requests changed the state:\n%s", out)
	}

	out, err := run(creds, "submit", good)
	if err != nil || strings.TrimSpace(out) != "api-job" {
		t.Fatalf("submit: %v\n%s", err, out)
	}
	for deadline := time.Now().Add(60 * time.Second); ; {
		out, _ = run(creds, "status", "api-job")
		if strings.Contains(out, "running") && !strings.Contains(out, " 0/100000") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job never ran:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("levyctl status:\n%s", out)
	if out, err := run(creds, "cancel", "api-job"); err != nil {
		t.Fatalf("cancel: %v\n%s", err, out)
	}
	for deadline := time.Now().Add(60 * time.Second); ; {
		out, _ = run(creds, "status", "api-job")
		if strings.Contains(out, "stopped") && strings.Contains(out, "step ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job did not stop with a checkpoint:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("after cancel:\n%s", out)

	// Resume: from a missing or a corrupt checkpoint is refused and
	// changes nothing; from the newest good one the job runs again.
	if out, err := run(creds, "resume", "api-job", "--from", filepath.Join(dir, "nope")); err == nil || !strings.Contains(out, "nope") {
		t.Fatalf("resume from a missing checkpoint: %v\n%s", err, out)
	}
	ckpts, _ := filepath.Glob(filepath.Join(dir, "runs", "api-job", "checkpoints", "step-*"))
	if len(ckpts) != 1 {
		t.Fatalf("checkpoints after the cancel: %v", ckpts)
	}
	model := filepath.Join(ckpts[0], "model.safetensors")
	orig, _ := os.ReadFile(model)
	os.WriteFile(model, orig[:len(orig)/2], 0o644)
	if out, err := run(creds, "resume", "api-job"); err == nil || !strings.Contains(out, "model.safetensors") || !strings.Contains(out, "corrupt") {
		t.Fatalf("resume from a corrupt checkpoint: %v\n%s", err, out)
	}
	if out, _ := run(creds, "status", "api-job"); !strings.Contains(out, "stopped") {
		t.Fatalf("a refused resume changed the job:\n%s", out)
	}
	os.WriteFile(model, orig, 0o644)
	if out, err := run(creds, "resume", "api-job"); err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	logs, err := run(creds, "logs", "api-job", "--for", "8s")
	if err != nil || !strings.Contains(logs, "step ") {
		for i, o := range outs {
			t.Logf("process %d:\n%s", i, o)
		}
		t.Fatalf("levyctl logs: %v\n%s", err, logs)
	}
	out, _ = run(creds, "status", "api-job")
	if !strings.Contains(out, "running") {
		t.Fatalf("after resume:\n%s", out)
	}
	t.Logf("after resume:\n%s", out)

	coord.Process.Kill()
	coord.Wait()
	if out, err := run(creds, "status"); err == nil || !strings.Contains(out, "no coordinator leads") {
		t.Fatalf("status with no coordinator: %v\n%s", err, out)
	}
}
