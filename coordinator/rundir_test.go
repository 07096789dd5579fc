package coordinator

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// TestFreshRunDir: runs/<name> while it is free, then runs/<name>-2,
// -3 …; a directory left by a run that never saved a checkpoint is
// taken again; runs started at once get different directories.
func TestFreshRunDir(t *testing.T) {
	runs := filepath.Join(t.TempDir(), "runs")
	take := func(name, want string) {
		t.Helper()
		got, err := FreshRunDir(runs, name)
		if err != nil || got != filepath.Join(runs, want) {
			t.Fatalf("FreshRunDir(%s) = %q, %v, want %s", name, got, err, filepath.Join(runs, want))
		}
		if st, err := os.Stat(filepath.Join(got, "checkpoints")); err != nil || !st.IsDir() {
			t.Fatalf("%s/checkpoints was not created: %v", got, err)
		}
	}
	take("job", "job")
	take("job", "job-2") // runs/job is taken, though it holds no checkpoint yet
	take("job", "job-3")

	// Run directories from before: one with a checkpoint, one whose
	// checkpoints directory is there (empty), one with only job.json
	// (its run stopped before saving anything): only the last is used
	// again.
	for _, d := range []string{"a/checkpoints/step-00000010", "b/checkpoints", "c"} {
		if err := os.MkdirAll(filepath.Join(runs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(runs, "c", "job.json"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	take("a", "a-2")
	take("b", "b-2")
	take("c", "c")
	take("c", "c-2")

	const n = 8
	dirs := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			d, err := FreshRunDir(runs, "race")
			if err != nil {
				t.Error(err)
			}
			dirs[i] = d
		})
	}
	wg.Wait()
	slices.Sort(dirs)
	if len(slices.Compact(slices.Clone(dirs))) != n {
		t.Errorf("%d concurrent runs took %v", n, dirs)
	}
}
