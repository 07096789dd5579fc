package localcluster

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/levy-ml/levy/checkpoint"
	"github.com/levy-ml/levy/worker"
)

// TestSamplerKeepsOutOfCheckpoints: after a run with the sampler, each
// checkpoint directory holds exactly the files of its manifest and
// verifies; the samples of each sampled checkpoint are in
// <run>/samples/step-N (the final one among them), and the run
// directory's copies are the final step's.
func TestSamplerKeepsOutOfCheckpoints(t *testing.T) {
	spec := smallJob("layout", 40, 20)
	res := runLocal(t, spec, 2, t.TempDir(), "", 0, true)
	root := worker.CheckpointDir(res.RunDir)
	dirs, err := checkpoint.List(root)
	if err != nil || len(dirs) != 2 {
		t.Fatalf("checkpoints %v (%v), want steps 20 and 40", dirs, err)
	}
	if got := names(t, root); !slices.Equal(got, []string{"step-00000020", "step-00000040"}) {
		t.Errorf("checkpoints/ holds %v", got)
	}
	for _, d := range dirs {
		m, err := checkpoint.Verify(d)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{checkpoint.ManifestFile}
		for name := range m.Files {
			want = append(want, name)
		}
		slices.Sort(want)
		if got := names(t, d); !slices.Equal(got, want) {
			t.Errorf("%s holds %v, want only the checkpoint's %v", d, got, want)
		}
	}

	samples := filepath.Join(res.RunDir, "samples")
	sampled := names(t, samples)
	if len(sampled) == 0 || sampled[len(sampled)-1] != "step-00000040" {
		t.Fatalf("samples/ holds %v, want the final step-00000040 last", sampled)
	}
	for _, s := range sampled {
		if got := names(t, filepath.Join(samples, s)); !slices.Equal(got, []string{worker.MetricsFile, worker.PlotFile, worker.SamplesFile}) {
			t.Errorf("samples/%s holds %v", s, got)
		}
	}
	for _, f := range []string{worker.MetricsFile, worker.PlotFile, worker.SamplesFile} {
		want, err := os.ReadFile(filepath.Join(samples, "step-00000040", f))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(filepath.Join(res.RunDir, f)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s in the run directory is not the final step's (%v)", f, err)
		}
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}
