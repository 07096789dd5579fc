package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var errInjected = errors.New("injected fault")

type crash struct{}

// saveWithFault runs Save with the k-th file-system step failing (or,
// with crashAt, the process "dying" just before it: nothing after it runs
// except deferred closes). It returns the step that was hit.
func saveWithFault(root string, m Manifest, files []File, keep, k int, crashAt bool) (dir string, err error, hit string, crashed bool) {
	n := 0
	faultHook = func(step string) error {
		n++
		if n-1 != k {
			return nil
		}
		hit = step
		if crashAt {
			panic(crash{})
		}
		return errInjected
	}
	defer func() {
		faultHook = nil
		if r := recover(); r != nil {
			if _, ok := r.(crash); !ok {
				panic(r)
			}
			crashed = true
		}
	}()
	dir, err = Save(root, m, files, keep)
	return dir, err, hit, false
}

// visible snapshots root without hidden entries.
func visible(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for p, h := range snapshot(t, root) {
		rel, _ := filepath.Rel(root, p)
		if !strings.HasPrefix(rel, ".") {
			out[rel] = h
		}
	}
	return out
}

func exists(root string, step int64) bool {
	_, err := os.Stat(StepDir(root, step))
	return err == nil
}

// TestFaultAtEveryStep fails, and separately crashes, Save at each of its
// file-system steps in turn (cleanup, writes, fsyncs, renames, pruning),
// for a new step and for a step saved again. Whatever happens, every
// visible checkpoint verifies, a checkpoint that was not committed prunes
// nothing, a failed Save changes nothing visible, and the next Save leaves
// a clean root with nothing lost.
func TestFaultAtEveryStep(t *testing.T) {
	type scenario struct {
		name string
		step int64
		newM func() Manifest
	}
	for _, sc := range []scenario{
		{"new step", 40, func() Manifest { return testManifest(40) }},
		{"same step again", 30, func() Manifest {
			m := testManifest(30)
			m.Extra = map[string]string{"attempt": "2"}
			return m
		}},
	} {
		// Steps 10, 20, 30 and the leftovers of a crashed save and prune,
		// built once and copied for each run.
		template := t.TempDir()
		for _, step := range []int64{10, 20, 30} {
			mustSave(t, template, step, 0)
		}
		must(t, os.MkdirAll(filepath.Join(template, ".tmp-step-00000099-1"), 0o755))
		must(t, os.MkdirAll(filepath.Join(template, ".del-step-00000001"), 0o755))
		setup := func(t *testing.T) string {
			root := filepath.Join(t.TempDir(), "root")
			must(t, os.CopyFS(root, os.DirFS(template)))
			return root
		}
		isNew := func(t *testing.T, dir string) bool {
			t.Helper()
			m, err := Verify(dir)
			if err != nil {
				t.Fatalf("committed %s does not verify: %v", dir, err)
			}
			return m.Step == sc.step && (sc.step != 30 || m.Extra["attempt"] == "2")
		}
		// Count the steps of an undisturbed Save.
		var steps []string
		root := setup(t)
		faultHook = func(s string) error { steps = append(steps, strings.Fields(s)[0]); return nil }
		_, err := Save(root, sc.newM(), testFiles(sc.step), 2)
		faultHook = nil
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"cleanup", "mkdir-temp", "create", "write", "fsync", "fsync-dir", "rename-in", "prune", "prune-remove"} {
			if !slices.Contains(steps, want) {
				t.Fatalf("%s: Save never reached %q: %v", sc.name, want, steps)
			}
		}
		for k := range steps {
			for _, crashAt := range []bool{false, true} {
				mode := "fail"
				if crashAt {
					mode = "crash"
				}
				t.Run(fmt.Sprintf("%s/%s at %d %s", sc.name, mode, k, steps[k]), func(t *testing.T) {
					root := setup(t)
					before, hiddenBefore := visible(t, root), hidden(t, root)
					dir, err, hit, crashed := saveWithFault(root, sc.newM(), testFiles(sc.step), 2, k, crashAt)
					if hit == "" || crashed != crashAt {
						t.Fatalf("step %d not hit (%q), crashed %v", k, hit, crashed)
					}
					dirs, lerr := List(root)
					must(t, lerr)
					for _, d := range dirs {
						if _, err := Verify(d); err != nil {
							t.Errorf("visible checkpoint is bad: %v", err)
						}
					}
					committed := exists(root, sc.step) && isNew(t, StepDir(root, sc.step))
					if !committed && !exists(root, 10) {
						t.Errorf("step 10 pruned though step %d was not committed", sc.step)
					}
					if !crashAt {
						switch {
						case err == nil && !strings.HasPrefix(hit, "remove-old"):
							t.Errorf("injected fault at %q not reported", hit)
						case err != nil && !errors.Is(err, errInjected):
							t.Errorf("err %v does not wrap the fault", err)
						case strings.HasPrefix(hit, "prune") && (dir == "" || !errors.Is(err, ErrPrune)):
							t.Errorf("failed prune: dir %q, err %v; want the dir and ErrPrune", dir, err)
						case dir == "" && !reflect.DeepEqual(visible(t, root), before):
							t.Errorf("failed Save (%v) changed visible files", err)
						case dir == "" && committed:
							t.Errorf("Save returned no dir but step %d is in place", sc.step)
						case dir != "" && !committed:
							t.Errorf("Save returned %s but it is not the new checkpoint", dir)
						}
						for _, h := range hidden(t, root) {
							if !slices.Contains(hiddenBefore, h) && !strings.HasPrefix(h, oldPrefix) && !strings.HasPrefix(h, delPrefix) {
								t.Errorf("failed Save left %s", h)
							}
						}
					}
					// The next Save recovers everything.
					mustSave(t, root, 50, 0)
					if h := hidden(t, root); len(h) != 0 {
						t.Errorf("after the next Save: leftovers %v", h)
					}
					for _, step := range []int64{30, 50} {
						if !exists(root, step) {
							t.Errorf("step %d lost", step)
						}
					}
					dirs, lerr = List(root)
					must(t, lerr)
					for _, d := range dirs {
						if _, err := Verify(d); err != nil {
							t.Errorf("after the next Save: %v", err)
						}
					}
				})
			}
		}
	}
}
