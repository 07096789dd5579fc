package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRunnerOnAToyModule runs the runner over a module of its own: a
// mutant its test catches, one only another test catches, one nothing
// catches, one accepted with a reason, a stale one and one that does not
// compile. Each must get its own verdict, and the source must be left
// untouched.
func TestRunnerOnAToyModule(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "go.mod"), "module example.com/toy\n\ngo 1.22\n")
	src := `package sq

// Sq returns x·x.
func Sq(x int) int { return x * x }

// Abs returns |x|.
func Abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
`
	write(t, filepath.Join(root, "sq", "sq.go"), src)
	write(t, filepath.Join(root, "sq", "sq_test.go"), `package sq

import "testing"

func TestSq(t *testing.T) {
	if Sq(3) != 9 {
		t.Fatal("Sq(3)")
	}
}

func TestAbs(t *testing.T) {
	if Abs(-2) != 2 {
		t.Fatal("Abs(-2)")
	}
}
`)
	list := `# a comment
name: toy/sq-plus
item: 1
file: sq/sq.go
test: TestSq
old: return x * x
new: return x + x

name: toy/abs-by-other
file: sq/sq.go
test: TestSq
old: return -x
new: return x

name: toy/abs-boundary
file: sq/sq.go
test: TestAbs
old: if x < 0 {
new: if x <= 0 {

name: toy/abs-boundary-accepted
file: sq/sq.go
test: TestAbs
old: 	if x < 0 {
new: 	if x <= 0 {
why: −0 = 0

name: toy/none-accepted
file: sq/sq.go
test: none
old: 	if x < 0 {
new: 	if x+0 < 0 {
why: x+0 = x

name: toy/stale
file: sq/sq.go
test: TestSq
old: return x * x * x
new: return 0

name: toy/not-viable
file: sq/sq.go
test: TestSq
old: return x * x
new: return x * y
`
	write(t, filepath.Join(root, "internal", "mutants", "toy.mutants"), list)
	ms, err := loadAll(filepath.Join(root, "internal", "mutants"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 7 || ms[0].Item != "1" || ms[3].Why != "−0 = 0" || ms[3].Old != "\tif x < 0 {" {
		t.Fatalf("parsed %d mutants: %+v", len(ms), ms)
	}
	r := &runner{root: root, timeout: time.Minute, baseline: map[string]*baseResult{}}
	want := []string{"killed", "killed-by-other", "SURVIVED", "accepted", "accepted", "stale", "not-viable"}
	for i, m := range ms {
		if got := r.one(m).status; got != want[i] {
			t.Errorf("%s: %s, want %s", m.Name, got, want[i])
		}
	}
	if b, _ := os.ReadFile(filepath.Join(root, "sq", "sq.go")); string(b) != src {
		t.Error("the runner changed the source file")
	}
	// Exit status: the survivor, the stale and the unviable one count as bad.
	if bad := r.runAll(ms, 2); bad != 3 {
		t.Errorf("runAll reports %d bad mutants, want 3", bad)
	}
}

func TestParseErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ text, want string }{
		{"name: a\nfile: x.go\nold: y\nnew: z\n", "needs name, file, test and old"},
		{"name: a\nfile: x.go\ntest: T\nold: y\nnew: y\n", "old and new are the same"},
		{"name: a\nfile: ../x.go\ntest: T\nold: y\nnew: z\n", "relative to the module root"},
		{"name: a\nfile: x.go\ntest: T\nold: y\nnew: z\nkind: q\n", "unknown key"},
		{"just text\n", "want key: value"},
		{"name: a\nfile: x.go\ntest: none\nold: y\nnew: z\n", "needs a why"},
		{"name: a\nfile: x.go\ntest: T\nold: y\nnew: z\n\nname: a\nfile: x.go\ntest: T\nold: y\nnew: w\n", "already defined"},
	} {
		write(t, filepath.Join(dir, "x.mutants"), c.text)
		_, err := loadAll(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want one containing %q", c.text, err, c.want)
		}
	}
}
