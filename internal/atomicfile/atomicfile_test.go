package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// record makes a Replacer whose hook appends each step to *steps and
// fails the step numbered failAt (none if failAt < 0) with err.
func record(steps *[]string, failAt int, err error) Replacer {
	return Replacer{Hook: func(s string) error {
		*steps = append(*steps, s)
		if len(*steps)-1 == failAt {
			return err
		}
		return nil
	}}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ns []string
	for _, e := range es {
		ns = append(ns, e.Name())
	}
	return ns
}

// TestWriteFile: the file gets the data and exactly the permissions asked
// for (not 0600 from the temporary file, not the umask's), an existing
// file is replaced, nothing else is left in the directory, and the steps
// come in order: the file's fsync, the rename, the directory's fsync.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "metrics.json")
	for _, c := range []struct {
		data string
		perm os.FileMode
	}{{"first\n", 0o640}, {"second, longer\n", 0o604}, {"", 0o644}} {
		var steps []string
		if err := record(&steps, -1, nil).WriteFile(path, []byte(c.data), c.perm); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != c.data {
			t.Fatalf("read %q, %v; want %q", got, err, c.data)
		}
		if st, _ := os.Stat(path); st.Mode().Perm() != c.perm {
			t.Errorf("mode %v, want %v", st.Mode().Perm(), c.perm)
		}
		if ns := names(t, dir); !slices.Equal(ns, []string{"metrics.json"}) {
			t.Errorf("directory holds %v", ns)
		}
		if len(steps) != 5 || steps[0] != "create "+path || steps[1] != "write "+path || steps[2] != "fsync "+path ||
			!strings.HasPrefix(steps[3], "rename "+filepath.Join(dir, ".metrics.json.tmp-")) || steps[4] != "fsync-dir "+dir {
			t.Errorf("steps %q: want create, write, fsync, rename of a hidden temporary, fsync-dir", steps)
		}
	}
}

// TestWriteStreams: Write hands fill a writer whose output, large and in
// small pieces, reaches the file whole.
func TestWriteStreams(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.bin")
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	err := Write(path, 0o644, func(w io.Writer) error {
		for i := 0; i < len(want); i += 7 {
			if _, err := w.Write(want[i:min(i+7, len(want))]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes (%v), want %d", len(got), err, len(want))
	}
}

// TestFailureLeavesTheOldFile: a failure at any step up to the rename,
// or in fill, returns an error that wraps it, leaves the old file as it
// was and no temporary file; a failure fsyncing the directory leaves the
// new file (the rename happened) and still no temporary.
func TestFailureLeavesTheOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.json")
	const old = "old content\n"
	if err := WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	injected := errors.New("injected")
	for k := range 5 {
		var steps []string
		err := record(&steps, k, injected).WriteFile(path, []byte("new content\n"), 0o644)
		if !errors.Is(err, injected) {
			t.Errorf("fault at step %d (%q): err %v", k, steps, err)
		}
		want := old
		if k == 4 { // fsync-dir: after the rename
			want = "new content\n"
		}
		if got, _ := os.ReadFile(path); string(got) != want {
			t.Errorf("fault at step %d: the file holds %q, want %q", k, got, want)
		}
		if ns := names(t, dir); !slices.Equal(ns, []string{"model.json"}) {
			t.Errorf("fault at step %d: directory holds %v", k, ns)
		}
		if err := WriteFile(path, []byte(old), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	err := Write(path, 0o644, func(w io.Writer) error {
		fmt.Fprint(w, "half a pic")
		return injected
	})
	if !errors.Is(err, injected) || !strings.Contains(err.Error(), path) {
		t.Errorf("failing fill: err %v, want it wrapped with the path", err)
	}
	if got, _ := os.ReadFile(path); string(got) != old {
		t.Errorf("after a failing fill the file holds %q", got)
	}
	if ns := names(t, dir); !slices.Equal(ns, []string{"model.json"}) {
		t.Errorf("after a failing fill the directory holds %v", ns)
	}
}

// TestMissingDirectory: a target in a directory that does not exist is
// an error naming the path, and nothing is created.
func TestMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "file")
	if err := WriteFile(path, []byte("x"), 0o644); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("err %v, want one naming %s", err, path)
	}
}

// TestConcurrentWritersLeaveOneWholeFile: writers racing on one path
// leave exactly one of their files, whole, and no temporary files; a
// reader meanwhile sees only whole files.
func TestConcurrentWritersLeaveOneWholeFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "progress.png")
	const writers, size = 8, 256 << 10
	content := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, size+i) }
	whole := func(b []byte) bool {
		for i := range writers {
			if bytes.Equal(b, content(i)) {
				return true
			}
		}
		return false
	}
	if err := WriteFile(path, content(0), 0o644); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	torn := make(chan int, 1)
	go func() {
		for {
			select {
			case <-stop:
				close(torn)
				return
			default:
			}
			if b, err := os.ReadFile(path); err == nil && !whole(b) {
				select {
				case torn <- len(b):
				default:
				}
			}
		}
	}()
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if err := WriteFile(path, content(i), 0o644); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	if n, ok := <-torn; ok {
		t.Errorf("a reader saw a torn file of %d bytes", n)
	}
	b, err := os.ReadFile(path)
	if err != nil || !whole(b) {
		t.Errorf("the file (%d bytes, %v) is none of the writers' whole", len(b), err)
	}
	if ns := names(t, dir); !slices.Equal(ns, []string{"progress.png"}) {
		t.Errorf("directory holds %v", ns)
	}
}

// TestImportsOnlyTheStandardLibrary: the package stays a leaf that the
// numeric core may import.
func TestImportsOnlyTheStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if deps := strings.Fields(string(out)); !slices.Equal(deps, []string{"github.com/levy-ml/levy/internal/atomicfile"}) {
		t.Errorf("atomicfile depends on %v beyond the standard library", deps)
	}
}
