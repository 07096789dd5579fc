package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/levy-ml/levy/checkpoint"
	"github.com/levy-ml/levy/safetensors"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "levyctl-test")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "levyctl")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
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

func TestBadInputNamesFlagAndValue(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"train", "--alpha", "2.5", "--out", t.TempDir()}, []string{"--alpha", "2.5"}},
		{[]string{"train", "--alpha", "0", "--out", t.TempDir()}, []string{"--alpha", "0"}},
		{[]string{"train", "--method", "gan", "--out", t.TempDir()}, []string{"--method", "gan"}},
		{[]string{"train", "--steps", "ten", "--out", t.TempDir()}, []string{"ten", "steps"}},
		{[]string{"train", "--dataset", "moons", "--out", t.TempDir()}, []string{"--dataset", "moons"}},
		{[]string{"sample", "--model", "/nonexistent/model", "--out", t.TempDir()}, []string{"--model", "/nonexistent/model"}},
		{[]string{"sample", "--model", t.TempDir(), "--out", t.TempDir()}, []string{"--model", "no model"}},
		{[]string{"sample", "--model", t.TempDir(), "--sampler", "euler", "--out", t.TempDir()}, []string{"--sampler", "euler"}},
		{[]string{"noise", "--alpha", "3"}, []string{"--alpha", "3"}},
		{[]string{"noise", "--n", "x"}, []string{"x", "n"}},
		{[]string{"repro", "--table", "3"}, []string{"--table", "3"}},
		{[]string{"repro", "--methods", "dlpm,vae"}, []string{"--methods", "vae"}},
		{[]string{"repro", "--alpha", "1.7,abc"}, []string{"--alpha", "abc"}},
		{[]string{"frobnicate"}, []string{"frobnicate"}},
	} {
		_, stderr, code := run(t, c.args...)
		if code == 0 {
			t.Errorf("%v: exit 0, want non-zero", c.args)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: stderr %q does not name %q", c.args, stderr, w)
			}
		}
	}
}

func TestNoiseCSV(t *testing.T) {
	out, _, code := run(t, "noise", "--alpha", "1.5", "--n", "100", "--dim", "3", "--seed", "4")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 100 || len(recs[0]) != 3 {
		t.Fatalf("%d rows of %d columns, want 100 × 3", len(recs), len(recs[0]))
	}
	again, _, _ := run(t, "noise", "--alpha", "1.5", "--n", "100", "--dim", "3", "--seed", "4")
	if again != out {
		t.Error("same seed, different draws")
	}
}

func TestTrainThenSample(t *testing.T) {
	dir := t.TempDir()
	model, samples := filepath.Join(dir, "m"), filepath.Join(dir, "s")
	if _, stderr, code := run(t, "train", "--method", "dlpm", "--alpha", "1.7", "--dataset", "grid9", "--steps", "30", "--seed", "1", "--out", model); code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	stdout, stderr, code := run(t, "sample", "--model", model, "--sampler", "dlim", "--steps", "10", "--n", "300", "--seed", "2", "--out", samples)
	if code != 0 {
		t.Fatalf("sample: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "prd_f1") {
		t.Errorf("sample printed no metrics: %s", stdout)
	}
	for _, f := range []string{"samples.csv", "samples.png", "metrics.json"} {
		if st, err := os.Stat(filepath.Join(samples, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
	if _, stderr, code := run(t, "sample", "--model", model, "--sampler", "lim-sde", "--out", samples); code == 0 || !strings.Contains(stderr, "dlpm") {
		t.Errorf("LIM sampler on a DLPM model: exit %d, stderr %q", code, stderr)
	}
}

func TestReproSaveThenRender(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "t2")
	out, stderr, code := run(t, "repro", "--table", "2", "--alpha", "1.7", "--methods", "dlpm,lim", "--runs", "2",
		"--steps", "10", "--n", "200", "--T", "10", "--dlim-steps", "5", "--save", prefix)
	if code != 0 {
		t.Fatalf("repro: exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "DLPM") || !strings.Contains(out, "LIM") {
		t.Fatalf("no table on stdout:\n%s", out)
	}
	md, stderr, code := run(t, "repro", "--table", "2", "--from", prefix+".jsonl", "--markdown")
	if code != 0 {
		t.Fatalf("repro --from: exit %d: %s", code, stderr)
	}
	saved, _ := os.ReadFile(prefix + ".md")
	if md != string(saved) {
		t.Errorf("--from rendering differs from the saved Markdown:\n%s\nvs\n%s", md, saved)
	}
	if _, stderr, code := run(t, "repro", "--table", "1", "--from", prefix+".jsonl"); code == 0 || !strings.Contains(stderr, "table 2") {
		t.Errorf("--from with the wrong --table: exit %d, stderr %q", code, stderr)
	}
}

// TestSampleStepsMinimum: --steps below the chosen sampler's minimum
// (2 for the DLPM family, whose steps are the schedule length T′; 1 for
// LIM) is refused with that minimum, whatever the value.
func TestSampleStepsMinimum(t *testing.T) {
	dir := t.TempDir()
	for _, m := range []string{"dlpm", "lim"} {
		if _, stderr, code := run(t, "train", "--method", m, "--steps", "3", "--out", filepath.Join(dir, m)); code != 0 {
			t.Fatalf("train %s: exit %d: %s", m, code, stderr)
		}
	}
	for _, c := range []struct{ model, sampler, steps, want string }{
		{"dlpm", "dlpm", "0", "--steps 0: the dlpm sampler takes at least 2"},
		{"dlpm", "dlpm", "1", "--steps 1: the dlpm sampler takes at least 2"},
		{"dlpm", "", "1", "--steps 1: the dlpm sampler takes at least 2"}, // the model's own sampler
		{"dlpm", "dlim", "-3", "--steps -3: the dlim sampler takes at least 2"},
		{"lim", "lim-ode", "0", "--steps 0: the lim-ode sampler takes at least 1"},
		{"lim", "lim-ode", "1", ""},
	} {
		args := []string{"sample", "--model", filepath.Join(dir, c.model), "--steps", c.steps, "--n", "50", "--out", filepath.Join(dir, "s")}
		if c.sampler != "" {
			args = append(args, "--sampler", c.sampler)
		}
		_, stderr, code := run(t, args...)
		switch {
		case c.want == "" && code != 0:
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		case c.want != "" && (code == 0 || !strings.Contains(stderr, c.want)):
			t.Errorf("%v: exit %d, stderr %q, want %q", args, code, stderr, c.want)
		}
	}
}

// TestFlagErrorPrintedOnce: an unknown flag or a bad flag value is
// printed once, with the command's usage, and exits 2; -h prints the
// usage and exits 0.
func TestFlagErrorPrintedOnce(t *testing.T) {
	cases := [][]string{{"train", "--steps", "ten"}, {"status", "--timeout", "soon"}}
	for name := range commands {
		cases = append(cases, []string{name, "--bogus"})
	}
	for _, args := range cases {
		word := strings.TrimPrefix(args[len(args)-1], "--")
		_, stderr, code := run(t, args...)
		if n := strings.Count(stderr, word); n != 1 || code != 2 || !strings.Contains(stderr, "Usage of levyctl "+args[0]) {
			t.Errorf("%v: %q printed %d times, exit %d, want once with the usage and exit 2:\n%s", args, word, n, code, stderr)
		}
	}
	for name := range commands {
		if _, stderr, code := run(t, name, "-h"); code != 0 || !strings.Contains(stderr, "Usage of levyctl "+name) {
			t.Errorf("%s -h: exit %d:\n%s", name, code, stderr)
		}
	}
}

// TestTrainOutHoldsAModel: train refuses an --out that holds a model
// before training; --force replaces it and first removes the old
// model's samples, beside it and in a samples directory under it.
func TestTrainOutHoldsAModel(t *testing.T) {
	model := filepath.Join(t.TempDir(), "m")
	if _, stderr, code := run(t, "train", "--steps", "3", "--seed", "1", "--out", model); code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	for _, out := range []string{model, filepath.Join(model, "samples")} {
		if _, stderr, code := run(t, "sample", "--model", model, "--steps", "5", "--n", "50", "--out", out); code != 0 {
			t.Fatalf("sample: exit %d: %s", code, stderr)
		}
	}
	keep := filepath.Join(model, "notes.txt")
	if err := os.WriteFile(keep, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(model, "model.json"))

	_, stderr, code := run(t, "train", "--steps", "3", "--seed", "2", "--out", model)
	if code == 0 || !strings.Contains(stderr, "--out "+model+": already holds a model") || !strings.Contains(stderr, "--force") {
		t.Errorf("train into a model: exit %d, stderr %q, want a refusal naming --out and --force", code, stderr)
	}
	if strings.Contains(stderr, "training ") {
		t.Errorf("refused only after training:\n%s", stderr)
	}
	if now, _ := os.ReadFile(filepath.Join(model, "model.json")); string(now) != string(before) {
		t.Error("the refused train changed model.json")
	}

	if _, stderr, code := run(t, "train", "--steps", "3", "--seed", "2", "--force", "--out", model); code != 0 {
		t.Fatalf("train --force: exit %d: %s", code, stderr)
	}
	if now, _ := os.ReadFile(filepath.Join(model, "model.json")); string(now) == string(before) {
		t.Error("train --force left the old model.json")
	}
	for _, f := range []string{"samples.csv", "samples.png", "metrics.json", "samples"} {
		if _, err := os.Stat(filepath.Join(model, f)); err == nil {
			t.Errorf("train --force left the old model's %s", f)
		}
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("train --force removed a file that is not a sample: %v", err)
	}
}

// TestTrainOutUnwritable: an --out that cannot be written is refused
// before training, not after it.
func TestTrainOutUnwritable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(file, "m")
	_, stderr, code := run(t, "train", "--steps", "200", "--out", out)
	if code == 0 || !strings.Contains(stderr, "--out "+out) || strings.Contains(stderr, "training ") {
		t.Errorf("train --out %s: exit %d, want a refusal naming --out before training:\n%s", out, code, stderr)
	}
	if os.Getuid() != 0 { // root writes anywhere
		ro := filepath.Join(t.TempDir(), "ro")
		if err := os.Mkdir(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		_, stderr, code := run(t, "train", "--steps", "200", "--out", ro)
		if code == 0 || !strings.Contains(stderr, "--out "+ro) || strings.Contains(stderr, "training ") {
			t.Errorf("train --out %s (read-only): exit %d, want a refusal naming --out before training:\n%s", ro, code, stderr)
		}
	}
}

// TestVerify: levyctl verify checks a checkpoint, or every checkpoint of
// a run directory, prints one line per checkpoint and fails if one is
// bad, naming the bad file and what is wrong with it.
func TestVerify(t *testing.T) {
	runDir := t.TempDir()
	root := filepath.Join(runDir, "checkpoints")
	for _, step := range []int64{10, 20, 30} {
		m := checkpoint.Manifest{Format: checkpoint.FormatVersion, Job: json.RawMessage(`{"name":"v"}`), Step: step,
			RNG: checkpoint.RNGState{Seed: 1, Scheme: "test", Next: step}, Created: time.Now().UTC()}
		w := []float32{float32(step), 1, 2, 3}
		files := []checkpoint.File{
			{Name: "model.safetensors", Tensors: []safetensors.Tensor{{Name: "w", Shape: []int{4}, Data: w}}},
			{Name: "ema.safetensors", Tensors: []safetensors.Tensor{{Name: "w", Shape: []int{4}, Data: w}}},
		}
		if _, err := checkpoint.Save(root, m, files, 0); err != nil {
			t.Fatal(err)
		}
	}
	step := func(n int64) string { return checkpoint.StepDir(root, n) }

	out, stderr, code := run(t, "verify", runDir)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 {
		t.Fatalf("verify a good run: exit %d, %d lines:\n%s%s", code, len(lines), out, stderr)
	}
	for i, n := range []int64{10, 20, 30} {
		want := fmt.Sprintf("%s: step %d, files ema.safetensors model.safetensors: OK", step(n), n)
		if lines[i] != want {
			t.Errorf("line %d: %q, want %q", i, lines[i], want)
		}
	}
	if out, _, code := run(t, "verify", step(20)); code != 0 || !strings.HasSuffix(strings.TrimSpace(out), "OK") || strings.Count(out, "\n") != 1 {
		t.Errorf("verify one checkpoint: exit %d:\n%s", code, out)
	}

	// A torn write of step 20's model, a flipped bit in step 30's EMA.
	model := filepath.Join(step(20), "model.safetensors")
	st, err := os.Stat(model)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(model, st.Size()-3); err != nil {
		t.Fatal(err)
	}
	ema := filepath.Join(step(30), "ema.safetensors")
	b, err := os.ReadFile(ema)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0x10
	if err := os.WriteFile(ema, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = run(t, "verify", runDir)
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if code == 0 || len(lines) != 3 || !strings.Contains(stderr, "2 of 3 checkpoints are bad") {
		t.Fatalf("verify a damaged run: exit %d, %d lines:\n%s%s", code, len(lines), out, stderr)
	}
	for i, want := range []string{
		": OK",
		fmt.Sprintf(": checkpoint: corrupt: %s: size %d, manifest says %d", model, st.Size()-3, st.Size()),
		fmt.Sprintf(": checkpoint: corrupt: %s: sha256 mismatch", ema),
	} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d: %q, want it to hold %q", i, lines[i], want)
		}
	}
	if _, _, code := run(t, "verify", step(30)); code == 0 {
		t.Error("verify of the damaged step 30 exited 0")
	}
	if _, stderr, code := run(t, "verify", t.TempDir()); code == 0 || !strings.Contains(stderr, "no checkpoint") {
		t.Errorf("verify of an empty directory: exit %d, %q", code, stderr)
	}
}
