package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// recordSteps collects the file-system steps that pass the fault hook
// until the test ends.
func recordSteps(t *testing.T) *[]string {
	t.Helper()
	var steps []string
	faultHook = func(s string) error { steps = append(steps, s); return nil }
	t.Cleanup(func() { faultHook = nil })
	return &steps
}

// TestSaveSyncsTheParentsOfANewRoot: a Save that creates its root (and
// directories above it) fsyncs the parent of each directory it created
// before it commits, or a crash could lose the whole tree of
// checkpoints it reported saved.
func TestSaveSyncsTheParentsOfANewRoot(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "runs", "job", "checkpoints")
	steps := recordSteps(t)
	if _, err := Save(root, testManifest(10), testFiles(10), 0); err != nil {
		t.Fatal(err)
	}
	commit := index(*steps, "rename-in ")
	var synced []string
	for _, s := range (*steps)[:commit] {
		if dir, ok := strings.CutPrefix(s, "fsync-dir "); ok {
			synced = append(synced, dir)
		}
	}
	for _, parent := range []string{base, filepath.Join(base, "runs"), filepath.Join(base, "runs", "job")} {
		if !slices.Contains(synced, parent) {
			t.Errorf("%s, parent of a directory Save created, not fsynced before the commit (fsynced: %q)", parent, synced)
		}
	}
}

// TestMkdirAll: only the parents of the directories it creates are
// fsynced; an existing tree is left alone, and a file in the way is an
// error.
func TestMkdirAll(t *testing.T) {
	base := t.TempDir()
	steps := recordSteps(t)
	p := filepath.Join(base, "a", "b")
	if err := MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(p); err != nil || !st.IsDir() {
		t.Fatalf("%s: %v", p, err)
	}
	want := []string{"fsync-dir " + base, "fsync-dir " + filepath.Join(base, "a")}
	if !slices.Equal(*steps, want) {
		t.Errorf("steps %q, want %q", *steps, want)
	}
	*steps = nil
	if err := MkdirAll(p, 0o755); err != nil || len(*steps) != 0 {
		t.Errorf("existing tree: %v, steps %q", err, *steps)
	}
	f := filepath.Join(base, "file")
	must(t, os.WriteFile(f, nil, 0o644))
	if err := MkdirAll(filepath.Join(f, "x"), 0o755); err == nil {
		t.Error("a directory under a file was made")
	}
}

// TestWriteFileAtomic: the file gets the data and the permissions, an
// existing file is replaced, nothing else is left in the directory, and
// the data and the directory are fsynced before and after the rename.
// A failure at any step leaves the old file as it was and no temporary.
func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "metrics.json")
	steps := recordSteps(t)
	for _, data := range []string{"first\n", "second, longer\n"} {
		*steps = nil
		if err := WriteFileAtomic(path, []byte(data), 0o640); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != data {
			t.Fatalf("read %q, %v; want %q", got, err, data)
		}
		if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
			t.Errorf("mode %v, want 0640", st.Mode())
		}
		if names := dirNames(t, dir); !slices.Equal(names, []string{"metrics.json"}) {
			t.Errorf("directory holds %v", names)
		}
		fs, rn, fd := index(*steps, "fsync "), index(*steps, "rename "), slices.Index(*steps, "fsync-dir "+dir)
		if fs < 0 || rn < fs || fd < rn {
			t.Errorf("steps %q: want the file's fsync, the rename, then the directory's fsync", *steps)
		}
	}

	n := len(*steps)
	for k := range n {
		injected := errors.New("injected")
		i := 0
		faultHook = func(string) error {
			i++
			if i-1 == k {
				return injected
			}
			return nil
		}
		err := WriteFileAtomic(path, []byte("third\n"), 0o640)
		if !errors.Is(err, injected) {
			t.Errorf("fault at step %d: err %v", k, err)
		}
		got, _ := os.ReadFile(path)
		if want := "second, longer\n"; string(got) != want && k < n-1 {
			t.Errorf("fault at step %d: the file holds %q, want the old %q", k, got, want)
		}
		if names := dirNames(t, dir); !slices.Equal(names, []string{"metrics.json"}) {
			t.Errorf("fault at step %d: directory holds %v", k, names)
		}
	}
}

// TestWriteDirAtomic: the directory appears whole, with the files fill
// wrote, fsynced; a second write replaces it; a failing fill leaves the
// old one and no temporary beside it.
func TestWriteDirAtomic(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "step-00000010")
	steps := recordSteps(t)
	write := func(text string) func(string) error {
		return func(tmp string) error {
			if filepath.Dir(tmp) != parent || !strings.HasPrefix(filepath.Base(tmp), ".") {
				t.Errorf("temporary %s: want a hidden name in %s", tmp, parent)
			}
			must(t, os.WriteFile(filepath.Join(tmp, "a.txt"), []byte(text), 0o644))
			return os.WriteFile(filepath.Join(tmp, "b.txt"), []byte(text+text), 0o644)
		}
	}
	for _, text := range []string{"one", "two"} {
		*steps = nil
		if err := WriteDirAtomic(dir, 0o755, write(text)); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "b.txt")); string(got) != text+text {
			t.Fatalf("b.txt holds %q", got)
		}
		if names := dirNames(t, parent); !slices.Equal(names, []string{"step-00000010"}) {
			t.Errorf("parent holds %v", names)
		}
		if names := dirNames(t, dir); !slices.Equal(names, []string{"a.txt", "b.txt"}) {
			t.Errorf("directory holds %v", names)
		}
		fa, fb, rn, fp := index(*steps, "fsync "), lastIndex(*steps, "fsync "), index(*steps, "rename-in "), slices.Index(*steps, "fsync-dir "+parent)
		if fa < 0 || fb == fa || rn < fb || fp < rn {
			t.Errorf("steps %q: want both files fsynced, then the rename, then the parent's fsync", *steps)
		}
	}
	err := WriteDirAtomic(dir, 0o755, func(tmp string) error { return errors.New("fill failed") })
	if err == nil || !strings.Contains(err.Error(), "fill failed") {
		t.Fatalf("failing fill: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "a.txt")); string(got) != "two" {
		t.Errorf("after a failing fill a.txt holds %q", got)
	}
	if names := dirNames(t, parent); !slices.Equal(names, []string{"step-00000010"}) {
		t.Errorf("after a failing fill the parent holds %v", names)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	must(t, err)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func index(steps []string, prefix string) int {
	return slices.IndexFunc(steps, func(s string) bool { return strings.HasPrefix(s, prefix) })
}

func lastIndex(steps []string, prefix string) int {
	for i := len(steps) - 1; i >= 0; i-- {
		if strings.HasPrefix(steps[i], prefix) {
			return i
		}
	}
	return -1
}
