package checkpoint

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/levy-ml/levy/safetensors"
)

var testJob = json.RawMessage(`{"name":"grid9-dlpm","method":"dlpm","alpha":1.7,"workers":4}`)

func testManifest(step int64) Manifest {
	return Manifest{
		Job:     testJob,
		Step:    step,
		Epoch:   step / 32,
		RNG:     RNGState{Seed: 1, Scheme: "pcg(splitmix(seed,tag,step,index))", Next: step},
		Created: time.Date(2026, 11, 23, 22, 0, 0, 123456789, time.UTC),
		Extra:   map[string]string{"loss": "0.0314", "host": "<rank0>"},
	}
}

// testFiles returns model, EMA and optimizer files whose values depend on
// step, including awkward floats (−0, ±Inf, NaN payload, subnormal).
func testFiles(step int64) []File {
	s := float32(step)
	return []File{
		{Name: "model.safetensors", Meta: map[string]string{"step": "x"}, Tensors: []safetensors.Tensor{
			{Name: "net.0.weight", Shape: []int{2, 3}, Data: []float32{s, -0.5, float32(math.Copysign(0, -1)), 1e-45, float32(math.Inf(1)), -s}},
			{Name: "net.0.bias", Shape: []int{3}, Data: []float32{0.25, float32(math.Inf(-1)), math.Float32frombits(0x7fc00123)}},
		}},
		{Name: "ema.safetensors", Tensors: []safetensors.Tensor{
			{Name: "net.0.weight", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, s}},
		}},
		{Name: "optim.safetensors", Meta: map[string]string{"optimizer": "adamw"}, Tensors: []safetensors.Tensor{
			{Name: "step", Shape: []int{}, Data: []float32{s}},
			{Name: "exp_avg.net.0.weight", Shape: []int{2, 3}, Data: []float32{0, 0, 0, 0, 0, 1}},
			{Name: "empty", Shape: []int{0, 4}, Data: []float32{}},
		}},
	}
}

func mustSave(t *testing.T, root string, step int64, keep int) string {
	t.Helper()
	dir, err := Save(root, testManifest(step), testFiles(step), keep)
	if err != nil {
		t.Fatalf("Save step %d: %v", step, err)
	}
	return dir
}

func listBases(t *testing.T, root string) []string {
	t.Helper()
	dirs, err := List(root)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, d := range dirs {
		out = append(out, filepath.Base(d))
	}
	return out
}

// hidden returns the names of the hidden entries in root.
func hidden(t *testing.T, root string) []string {
	t.Helper()
	es, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out
}

// snapshot maps every file under root to its SHA-256.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		sum := sha256.Sum256(b)
		out[p] = hex.EncodeToString(sum[:])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTensors(t *testing.T, file string, got, want []safetensors.Tensor) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d tensors, want %d", file, len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.Name || !slices.Equal(g.Shape, w.Shape) || len(g.Data) != len(w.Data) {
			t.Fatalf("%s: tensor %d is %q %v (%d values), want %q %v (%d)", file, i, g.Name, g.Shape, len(g.Data), w.Name, w.Shape, len(w.Data))
		}
		for j := range w.Data {
			if math.Float32bits(g.Data[j]) != math.Float32bits(w.Data[j]) {
				t.Errorf("%s: %s[%d] bits %#x, want %#x", file, w.Name, j, math.Float32bits(g.Data[j]), math.Float32bits(w.Data[j]))
			}
		}
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	root := filepath.Join(t.TempDir(), "runs", "job", "checkpoints") // Save creates it
	m := testManifest(640)
	files := testFiles(640)
	dir, err := Save(root, m, files, 3)
	if err != nil {
		t.Fatal(err)
	}
	if dir != StepDir(root, 640) || filepath.Base(dir) != "step-00000640" {
		t.Fatalf("dir %s", dir)
	}
	if m.Files != nil || m.Format != 0 {
		t.Error("Save modified the caller's manifest")
	}
	if h := hidden(t, root); len(h) != 0 {
		t.Errorf("leftovers %v", h)
	}
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := c.Manifest
	if got.Format != FormatVersion || got.Step != 640 || got.Epoch != 20 || got.RNG != m.RNG ||
		!got.Created.Equal(m.Created) || !reflect.DeepEqual(got.Extra, m.Extra) || string(got.Job) != string(testJob) {
		t.Errorf("manifest %+v\nwant like %+v", got, m)
	}
	if c.Dir != dir || len(c.Files) != 3 || len(got.Files) != 3 {
		t.Fatalf("dir %s, %d files, manifest lists %v", c.Dir, len(c.Files), got.Files)
	}
	for _, want := range files {
		f, ok := c.File(want.Name)
		if !ok {
			t.Fatalf("no %s", want.Name)
		}
		sameTensors(t, want.Name, f.Tensors, want.Tensors)
		if len(want.Meta) > 0 && !reflect.DeepEqual(f.Meta, want.Meta) || len(want.Meta) == 0 && len(f.Meta) != 0 {
			t.Errorf("%s meta %v, want %v", want.Name, f.Meta, want.Meta)
		}
		b, err := os.ReadFile(filepath.Join(dir, want.Name))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if fi := got.Files[want.Name]; fi.Bytes != int64(len(b)) || fi.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: manifest %+v, file has %d bytes", want.Name, fi, len(b))
		}
	}
	if names := []string{c.Files[0].Name, c.Files[1].Name, c.Files[2].Name}; !slices.IsSorted(names) {
		t.Errorf("files not sorted: %v", names)
	}
	if tm := c.Tensors("optim.safetensors"); len(tm) != 3 || tm["step"].Data[0] != 640 {
		t.Errorf("Tensors(optim) = %v", tm)
	}
	if c.Tensors("nope.safetensors") != nil {
		t.Error("Tensors of a missing file is not nil")
	}
	vm, err := Verify(dir)
	if err != nil || !reflect.DeepEqual(*vm, got) {
		t.Errorf("Verify = %+v, %v", vm, err)
	}
	// The manifest on disk is what ParseManifest reads, and readable by others.
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("checkpoint directory mode %v, %v", st.Mode(), err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"sha256": "`) || !strings.Contains(string(raw), `"<rank0>"`) {
		t.Errorf("manifest.json:\n%s", raw)
	}
}

func TestSaveFillsCreated(t *testing.T) {
	m := testManifest(1)
	m.Created = time.Time{}
	before := time.Now()
	dir, err := Save(t.TempDir(), m, testFiles(1), 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Created.Before(before.Add(-time.Second)) || got.Created.After(time.Now().Add(time.Second)) || got.Created.Location() != time.UTC {
		t.Errorf("created %v", got.Created)
	}
}

func TestKeepNewest(t *testing.T) {
	root := t.TempDir()
	for step := int64(10); step <= 60; step += 10 {
		mustSave(t, root, step, 3)
	}
	if got, want := listBases(t, root), []string{"step-00000040", "step-00000050", "step-00000060"}; !slices.Equal(got, want) {
		t.Fatalf("after keep 3: %v, want %v", got, want)
	}
	if h := hidden(t, root); len(h) != 0 {
		t.Errorf("leftovers %v", h)
	}
	for _, d := range []string{"step-00000040", "step-00000050", "step-00000060"} {
		if _, err := Verify(filepath.Join(root, d)); err != nil {
			t.Error(err)
		}
	}
}

func TestKeepAllAndKeepJustWritten(t *testing.T) {
	root := t.TempDir()
	for _, step := range []int64{30, 40, 5, 100000000} {
		mustSave(t, root, step, 0)
	}
	want := []string{"step-00000005", "step-00000030", "step-00000040", "step-100000000"}
	if got := listBases(t, root); !slices.Equal(got, want) {
		t.Fatalf("keep 0: %v, want %v", got, want)
	}
	// An older step saved again with keep 2 survives its own pruning.
	mustSave(t, root, 20, 2)
	want = []string{"step-00000020", "step-00000040", "step-100000000"}
	if got := listBases(t, root); !slices.Equal(got, want) {
		t.Fatalf("older step with keep 2: %v, want %v", got, want)
	}
}

func TestSaveReplacesSameStep(t *testing.T) {
	root := t.TempDir()
	mustSave(t, root, 10, 0)
	files := testFiles(10)
	files[1].Tensors[0].Data[0] = 42
	m := testManifest(10)
	m.Extra = map[string]string{"attempt": "2"}
	dir, err := Save(root, m, files, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Manifest.Extra["attempt"] != "2" || c.Tensors("ema.safetensors")["net.0.weight"].Data[0] != 42 {
		t.Errorf("second save not in place: %v", c.Manifest.Extra)
	}
	if got := listBases(t, root); !slices.Equal(got, []string{"step-00000010"}) {
		t.Errorf("list %v", got)
	}
	if h := hidden(t, root); len(h) != 0 {
		t.Errorf("leftovers %v", h)
	}
}

func TestListIgnoresOtherNames(t *testing.T) {
	if dirs, err := List(filepath.Join(t.TempDir(), "missing")); err != nil || len(dirs) != 0 {
		t.Fatalf("missing root: %v, %v", dirs, err)
	}
	root := t.TempDir()
	for _, d := range []string{"step-00000050", "step-00000007", "step-123456789", "step-10", "step-000000010",
		"step-abcdefgh", "step--0000001", "Step-00000001", ".tmp-step-00000090-1", ".old-step-00000091-1", ".del-step-00000092", "logs"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "step-00000070"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "logs"), filepath.Join(root, "step-00000060")); err != nil {
		t.Fatal(err)
	}
	want := []string{"step-00000007", "step-00000050", "step-00000060", "step-123456789"}
	if got := listBases(t, root); !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
}

// corruptions damage the checkpoint in dir; wantMsg is part of the error.
var corruptions = []struct {
	name, wantFile, wantMsg string
	damage                  func(t *testing.T, dir string)
}{
	{"truncated", "model.safetensors", "size ", func(t *testing.T, dir string) {
		p := filepath.Join(dir, "model.safetensors")
		st, _ := os.Stat(p)
		must(t, os.Truncate(p, st.Size()-5))
	}},
	{"empty", "optim.safetensors", "size 0, manifest says", func(t *testing.T, dir string) {
		must(t, os.Truncate(filepath.Join(dir, "optim.safetensors"), 0))
	}},
	{"flipped byte", "ema.safetensors", "sha256 mismatch", func(t *testing.T, dir string) {
		p := filepath.Join(dir, "ema.safetensors")
		b, err := os.ReadFile(p)
		must(t, err)
		b[len(b)-3] ^= 0x10
		must(t, os.WriteFile(p, b, 0o644))
	}},
	{"missing file", "model.safetensors", "no such file", func(t *testing.T, dir string) {
		must(t, os.Remove(filepath.Join(dir, "model.safetensors")))
	}},
	{"missing manifest", ManifestFile, "no such file", func(t *testing.T, dir string) {
		must(t, os.Remove(filepath.Join(dir, ManifestFile)))
	}},
	{"garbage manifest", ManifestFile, "manifest JSON", func(t *testing.T, dir string) {
		must(t, os.WriteFile(filepath.Join(dir, ManifestFile), []byte("\x00\x01garbage{"), 0o644))
	}},
	{"truncated manifest", ManifestFile, "manifest JSON", func(t *testing.T, dir string) {
		p := filepath.Join(dir, ManifestFile)
		b, err := os.ReadFile(p)
		must(t, err)
		must(t, os.WriteFile(p, b[:len(b)/2], 0o644))
	}},
	{"manifest of another step", ManifestFile, "directory is for step", func(t *testing.T, dir string) {
		p := filepath.Join(dir, ManifestFile)
		b, err := os.ReadFile(p)
		must(t, err)
		m, err := ParseManifest(b)
		must(t, err)
		m.Step++
		b, err = marshalManifest(m)
		must(t, err)
		must(t, os.WriteFile(p, b, 0o644))
	}},
	{"manifest format 2", ManifestFile, "manifest format: 2", func(t *testing.T, dir string) {
		p := filepath.Join(dir, ManifestFile)
		b, err := os.ReadFile(p)
		must(t, err)
		must(t, os.WriteFile(p, []byte(strings.Replace(string(b), `"format": 1`, `"format": 2`, 1)), 0o644))
	}},
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestCorruptionIsDetectedAndSkipped(t *testing.T) {
	for _, tc := range corruptions {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			mustSave(t, root, 10, 0)
			mustSave(t, root, 20, 0)
			newest := mustSave(t, root, 30, 0)
			tc.damage(t, newest)
			path := filepath.Join(newest, tc.wantFile)

			_, err := Load(newest)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("Load: %v\nwant ErrCorrupt naming %s and %q", err, path, tc.wantMsg)
			}
			_, err = Verify(newest)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Errorf("Verify: %v", err)
			}
			c, skipped, err := Latest(root)
			if err != nil {
				t.Fatal(err)
			}
			if c.Manifest.Step != 20 || c.Dir != StepDir(root, 20) || len(c.Files) != 3 {
				t.Errorf("Latest gave step %d in %s", c.Manifest.Step, c.Dir)
			}
			if len(skipped) != 1 || !errors.Is(skipped[0], ErrCorrupt) || !strings.Contains(skipped[0].Error(), path) {
				t.Errorf("skipped %v", skipped)
			}
		})
	}
}

func TestMissingFileIsFsError(t *testing.T) {
	root := t.TempDir()
	dir := mustSave(t, root, 1, 0)
	must(t, os.Remove(filepath.Join(dir, "ema.safetensors")))
	_, err := Load(dir)
	if !errors.Is(err, ErrCorrupt) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err %v wraps neither ErrCorrupt nor fs.ErrNotExist", err)
	}
}

// TestLoadDecodes: a file whose hash was recorded but which is not valid
// safetensors passes Verify (which only hashes) and fails Load.
func TestLoadDecodes(t *testing.T) {
	root := t.TempDir()
	dir := mustSave(t, root, 1, 0)
	bad := []byte("\x08\x00\x00\x00\x00\x00\x00\x00[]      ")
	must(t, os.WriteFile(filepath.Join(dir, "ema.safetensors"), bad, 0o644))
	mp := filepath.Join(dir, ManifestFile)
	b, err := os.ReadFile(mp)
	must(t, err)
	m, err := ParseManifest(b)
	must(t, err)
	sum := sha256.Sum256(bad)
	m.Files["ema.safetensors"] = FileInfo{Bytes: int64(len(bad)), SHA256: hex.EncodeToString(sum[:])}
	b, err = marshalManifest(m)
	must(t, err)
	must(t, os.WriteFile(mp, b, 0o644))
	if _, err := Verify(dir); err != nil {
		t.Errorf("Verify: %v", err)
	}
	_, err = Load(dir)
	if p := filepath.Join(dir, "ema.safetensors"); !errors.Is(err, ErrCorrupt) || !errors.Is(err, safetensors.ErrFormat) || !strings.Contains(err.Error(), p) {
		t.Errorf("Load: %v", err)
	}
}

func TestLatestNoneGood(t *testing.T) {
	root := t.TempDir()
	_, skipped, err := Latest(root)
	if !errors.Is(err, ErrNoCheckpoint) || len(skipped) != 0 {
		t.Errorf("empty root: %v, %v", skipped, err)
	}
	_, _, err = Latest(filepath.Join(root, "missing"))
	if !errors.Is(err, ErrNoCheckpoint) {
		t.Errorf("missing root: %v", err)
	}
	for i, step := range []int64{10, 20, 30} {
		dir := mustSave(t, root, step, 0)
		corruptions[i].damage(t, dir)
	}
	c, skipped, err := Latest(root)
	if c != nil || len(skipped) != 3 || !errors.Is(err, ErrNoCheckpoint) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Latest = %v, %v, %v", c, skipped, err)
	}
	for i, step := range []int64{30, 20, 10} { // newest first
		if !errors.Is(skipped[i], ErrCorrupt) || !strings.Contains(skipped[i].Error(), dirName(step)) {
			t.Errorf("skip %d: %v", i, skipped[i])
		}
	}
}

func TestCrashLeftoversIgnoredThenCleaned(t *testing.T) {
	root := t.TempDir()
	mustSave(t, root, 10, 0)
	// A save of step 20 that died before its manifest, and a prune that
	// died mid-removal.
	tmp := filepath.Join(root, ".tmp-step-00000020-4242")
	must(t, os.Mkdir(tmp, 0o700))
	must(t, os.WriteFile(filepath.Join(tmp, "model.safetensors"), []byte("\x40\x00\x00\x00\x00\x00\x00\x00{\"w\":"), 0o644))
	del := filepath.Join(root, ".del-step-00000005")
	must(t, os.Mkdir(del, 0o755))
	must(t, os.WriteFile(filepath.Join(del, "ema.safetensors"), []byte("x"), 0o644))
	for _, foreign := range []string{".nfs000123", ".tmp-notes", ".del-me"} { // not ours: left alone
		must(t, os.WriteFile(filepath.Join(root, foreign), nil, 0o644))
	}

	if got := listBases(t, root); !slices.Equal(got, []string{"step-00000010"}) {
		t.Errorf("List = %v", got)
	}
	c, skipped, err := Latest(root)
	if err != nil || c.Manifest.Step != 10 || len(skipped) != 0 {
		t.Fatalf("Latest = %v, %v, %v", c, skipped, err)
	}
	mustSave(t, root, 20, 0)
	if h := hidden(t, root); !slices.Equal(h, []string{".del-me", ".nfs000123", ".tmp-notes"}) {
		t.Errorf("after Save, hidden entries %v", h)
	}
	if got := listBases(t, root); !slices.Equal(got, []string{"step-00000010", "step-00000020"}) {
		t.Errorf("List = %v", got)
	}
}

// TestCrashDuringReplace: a crash between moving the old step-N away and
// renaming the new one in strands step-N as .old-…; the next Save puts it
// back. If step-N does exist, the stranded copy is just removed.
func TestCrashDuringReplace(t *testing.T) {
	root := t.TempDir()
	mustSave(t, root, 10, 0)
	d20 := mustSave(t, root, 20, 0)
	must(t, os.Rename(d20, filepath.Join(root, ".old-step-00000020-777")))
	must(t, os.Mkdir(filepath.Join(root, ".tmp-step-00000020-777"), 0o700))
	if c, _, err := Latest(root); err != nil || c.Manifest.Step != 10 {
		t.Fatalf("Latest during the crash window: %v, %v", c, err)
	}
	mustSave(t, root, 30, 0)
	if got := listBases(t, root); !slices.Equal(got, []string{"step-00000010", "step-00000020", "step-00000030"}) {
		t.Fatalf("List = %v", got)
	}
	if _, err := Verify(d20); err != nil {
		t.Errorf("restored step 20: %v", err)
	}
	// Stranded copy of a step that exists: removed.
	must(t, os.Mkdir(filepath.Join(root, ".old-step-00000010-1"), 0o755))
	mustSave(t, root, 40, 0)
	if h := hidden(t, root); len(h) != 0 {
		t.Errorf("leftovers %v", h)
	}
}

func TestFailingSaveLeavesEarlierCheckpoints(t *testing.T) {
	withFiles := func(edit func([]File) []File) func() (Manifest, []File) {
		return func() (Manifest, []File) { return testManifest(40), edit(testFiles(40)) }
	}
	withManifest := func(edit func(*Manifest)) func() (Manifest, []File) {
		return func() (Manifest, []File) {
			m := testManifest(40)
			edit(&m)
			return m, testFiles(40)
		}
	}
	cases := map[string]func() (Manifest, []File){
		"shape mismatch in the last file": withFiles(func(f []File) []File {
			f[2].Tensors[1].Shape = []int{7}
			return f
		}),
		"duplicate tensor names": withFiles(func(f []File) []File {
			f[1].Tensors = append(f[1].Tensors, f[1].Tensors[0])
			return f
		}),
		"reserved tensor name": withFiles(func(f []File) []File {
			f[0].Tensors[0].Name = "__metadata__"
			return f
		}),
		"duplicate file names": withFiles(func(f []File) []File { return append(f, f[0]) }),
		"no files":             withFiles(func([]File) []File { return nil }),
		"negative step":        withManifest(func(m *Manifest) { m.Step = -1 }),
		"negative epoch":       withManifest(func(m *Manifest) { m.Epoch = -1 }),
		"no job":               withManifest(func(m *Manifest) { m.Job = nil }),
		"job is an array":      withManifest(func(m *Manifest) { m.Job = json.RawMessage(`[1]`) }),
		"job is invalid":       withManifest(func(m *Manifest) { m.Job = json.RawMessage(`{"a":`) }),
	}
	for _, name := range []string{"model", "model.bin", ".safetensors", ".hidden.safetensors", "../up.safetensors",
		"a/b.safetensors", `a\b.safetensors`, ManifestFile, "", "tab\t.safetensors", "c:d.safetensors"} {
		cases["file name "+name] = withFiles(func(f []File) []File {
			f[1].Name = name
			return f
		})
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			for _, step := range []int64{10, 20, 30} {
				mustSave(t, root, step, 0)
			}
			before := snapshot(t, root)
			m, files := mk()
			dir, err := Save(root, m, files, 1) // keep 1 would prune 10 and 20 had it succeeded
			if err == nil || dir != "" {
				t.Fatalf("Save = %q, %v; want an error", dir, err)
			}
			if after := snapshot(t, root); !reflect.DeepEqual(after, before) {
				t.Errorf("files changed:\nbefore %v\nafter  %v", before, after)
			}
			if h := hidden(t, root); len(h) != 0 {
				t.Errorf("leftovers %v", h)
			}
			if c, skipped, err := Latest(root); err != nil || c.Manifest.Step != 30 || len(skipped) != 0 {
				t.Errorf("Latest = %v, %v, %v", c, skipped, err)
			}
		})
	}
}

func TestRootIsAFile(t *testing.T) {
	root := filepath.Join(t.TempDir(), "file")
	must(t, os.WriteFile(root, []byte("x"), 0o644))
	if dir, err := Save(root, testManifest(1), testFiles(1), 0); err == nil {
		t.Errorf("Save into a file: %s", dir)
	}
	if _, _, err := Latest(root); err == nil || errors.Is(err, ErrNoCheckpoint) {
		t.Errorf("Latest under a file: %v, want the listing error", err)
	}
}

func TestStepDir(t *testing.T) {
	if got := StepDir("r", 640); got != filepath.Join("r", "step-00000640") {
		t.Errorf("StepDir = %s", got)
	}
	for _, step := range []int64{0, 7, 99999999, 100000000, math.MaxInt64} {
		if got, ok := parseDirName(dirName(step)); !ok || got != step {
			t.Errorf("parseDirName(dirName(%d)) = %d, %v", step, got, ok)
		}
	}
}
