package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/levy-ml/levy/checkpoint"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "coordinator-test")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "coordinator")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func runBin(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// tinyJob is a job of a few steps of a small network on little data.
const tinyJob = `name: tiny
data_n: 512
global_batch: 64
model: {hidden: 16, blocks: 1, time_embed: 8}
steps: 20
checkpoint_every: 10
sample: {n: 100, steps: 5}
`

// TestSecondLocalRun: the README's first command run twice works: the
// second run takes a new run directory, names it, and leaves the first
// one as it was (it can still be resumed).
func TestSecondLocalRun(t *testing.T) {
	dir := t.TempDir()
	spec, runs := filepath.Join(dir, "tiny.yaml"), filepath.Join(dir, "runs")
	if err := os.WriteFile(spec, []byte(tinyJob), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--local", "--workers", "2", "--job", spec, "--runs-dir", runs, "--no-sampler", "--progress-every", "1h"}
	first, second := filepath.Join(runs, "tiny"), filepath.Join(runs, "tiny-2")
	out1, stderr, code := runBin(t, args...)
	if code != 0 {
		t.Fatalf("first run: exit %d\n%s%s", code, out1, stderr)
	}
	newest1, err := checkpoint.List(filepath.Join(first, "checkpoints"))
	if err != nil || len(newest1) == 0 {
		t.Fatalf("first run: no checkpoints in %s: %v", first, err)
	}
	out2, stderr, code := runBin(t, args...)
	if code != 0 {
		t.Fatalf("second run: exit %d\n%s%s", code, out2, stderr)
	}
	if !strings.Contains(out2, "run directory "+second) {
		t.Errorf("the second run's output does not name its directory %s:\n%s", second, out2)
	}
	if strings.Contains(out1, "run directory") {
		t.Errorf("the first run, in runs/<job>, names a directory change:\n%s", out1)
	}
	c, _, err := checkpoint.Latest(filepath.Join(second, "checkpoints"))
	if err != nil || c.Manifest.Step != 20 {
		t.Fatalf("second run: newest checkpoint in %s: %v", second, err)
	}
	if again, _ := checkpoint.List(filepath.Join(first, "checkpoints")); strings.Join(again, " ") != strings.Join(newest1, " ") {
		t.Errorf("the second run changed the first one's checkpoints: %v, was %v", again, newest1)
	}
}

// TestUnknownFlagPrintedOnce: an unknown flag is printed once, with the
// usage, and exits 2.
func TestUnknownFlagPrintedOnce(t *testing.T) {
	_, stderr, code := runBin(t, "--bogus")
	if n := strings.Count(stderr, "bogus"); n != 1 || code != 2 || !strings.Contains(stderr, "-workers") {
		t.Errorf("--bogus printed %d times, exit %d, want once with the usage and exit 2:\n%s", n, code, stderr)
	}
}
