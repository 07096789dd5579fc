package checkpoint

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/levy-ml/levy/safetensors"
)

// Checkpoint is a checkpoint directory read back by Load or Latest.
type Checkpoint struct {
	Dir      string // the checkpoint's directory
	Manifest Manifest
	Files    []File // decoded, sorted by name; tensors in file order
}

// File returns the file called name.
func (c *Checkpoint) File(name string) (*File, bool) {
	for i := range c.Files {
		if c.Files[i].Name == name {
			return &c.Files[i], true
		}
	}
	return nil, false
}

// Tensors returns the tensors of the file called name by tensor name, or
// nil if there is no such file.
func (c *Checkpoint) Tensors(name string) map[string]safetensors.Tensor {
	f, ok := c.File(name)
	if !ok {
		return nil
	}
	m := make(map[string]safetensors.Tensor, len(f.Tensors))
	for _, t := range f.Tensors {
		m[t.Name] = t
	}
	return m
}

// Load reads and verifies the checkpoint in dir: the manifest must parse
// and validate (and its step match a step-XXXXXXXX directory name), and
// every file it lists must exist with the recorded size and SHA-256 and
// decode as safetensors. Every such failure wraps ErrCorrupt and names
// the file's path.
func Load(dir string) (*Checkpoint, error) {
	m, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	c := &Checkpoint{Dir: dir, Manifest: *m}
	for _, name := range sortedNames(m.Files) {
		path := filepath.Join(dir, name)
		b, err := readChecked(path, m.Files[name])
		if err != nil {
			return nil, err
		}
		ts, meta, err := safetensors.Decode(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
		}
		c.Files = append(c.Files, File{Name: name, Tensors: ts, Meta: meta})
	}
	return c, nil
}

// Verify checks the checkpoint in dir as Load does, but only hashes the
// files (streaming, without decoding them), and returns its manifest.
func Verify(dir string) (*Manifest, error) {
	m, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	for _, name := range sortedNames(m.Files) {
		if err := hashChecked(filepath.Join(dir, name), m.Files[name]); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func readManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifest+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	if len(b) > maxManifest {
		return nil, fmt.Errorf("%w: %s: larger than %d bytes", ErrCorrupt, path, maxManifest)
	}
	m, err := ParseManifest(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	if step, ok := parseDirName(filepath.Base(dir)); ok && step != m.Step {
		return nil, fmt.Errorf("%w: %s: step %d, but the directory is for step %d", ErrCorrupt, path, m.Step, step)
	}
	return m, nil
}

// readChecked reads path whole and checks it against fi.
func readChecked(path string, fi FileInfo) ([]byte, error) {
	f, err := openChecked(path, fi)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, fi.Bytes)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	if n, _ := f.Read(make([]byte, 1)); n > 0 {
		return nil, fmt.Errorf("%w: %s: grew while being read, manifest says %d bytes", ErrCorrupt, path, fi.Bytes)
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != fi.SHA256 {
		return nil, fmt.Errorf("%w: %s: sha256 mismatch (file %x, manifest %s)", ErrCorrupt, path, sum, fi.SHA256)
	}
	return b, nil
}

// hashChecked streams path through SHA-256 and checks it against fi.
func hashChecked(path string, fi FileInfo) error {
	f, err := openChecked(path, fi)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	if n != fi.Bytes {
		return fmt.Errorf("%w: %s: read %d bytes, manifest says %d", ErrCorrupt, path, n, fi.Bytes)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != fi.SHA256 {
		return fmt.Errorf("%w: %s: sha256 mismatch (file %s, manifest %s)", ErrCorrupt, path, sum, fi.SHA256)
	}
	return nil
}

// openChecked opens path and checks that it is a regular file of fi.Bytes.
func openChecked(path string, fi FileInfo) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s: not a regular file", ErrCorrupt, path)
	}
	if st.Size() != fi.Bytes {
		f.Close()
		return nil, fmt.Errorf("%w: %s: size %d, manifest says %d", ErrCorrupt, path, st.Size(), fi.Bytes)
	}
	return f, nil
}

// List returns the checkpoint directories under root (names step-XXXXXXXX,
// as StepDir makes them), sorted by step ascending. Hidden working
// directories and other names are ignored; a missing root gives an empty
// list. List does not verify the checkpoints.
func List(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	type cand struct {
		step int64
		path string
	}
	var cs []cand
	for _, e := range entries {
		step, ok := parseDirName(e.Name())
		if !ok {
			continue
		}
		path := filepath.Join(root, e.Name())
		if !e.IsDir() {
			if st, err := os.Stat(path); err != nil || !st.IsDir() { // a symlink to a directory counts
				continue
			}
		}
		cs = append(cs, cand{step, path})
	}
	slices.SortFunc(cs, func(a, b cand) int { return cmpInt64(a.step, b.step) })
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.path
	}
	return out, nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// parseDirName returns the step of a directory named exactly as dirName
// names it.
func parseDirName(name string) (int64, bool) {
	digits, ok := strings.CutPrefix(name, "step-")
	if !ok || len(digits) < 8 {
		return 0, false
	}
	step, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || step < 0 || dirName(step) != name {
		return 0, false
	}
	return step, true
}

// Latest returns the newest checkpoint under root that loads and
// verifies. Newer checkpoints that do not are skipped; skipped lists why,
// newest first, each error wrapping ErrCorrupt and naming the file, so the
// caller can log them. If none is good the error wraps ErrNoCheckpoint
// and the reasons. An error listing root is returned as is.
func Latest(root string) (c *Checkpoint, skipped []error, err error) {
	dirs, err := List(root)
	if err != nil {
		return nil, nil, err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		c, err := Load(dirs[i])
		if err == nil {
			return c, skipped, nil
		}
		skipped = append(skipped, err)
	}
	if len(skipped) == 0 {
		return nil, nil, fmt.Errorf("%w under %s", ErrNoCheckpoint, root)
	}
	return nil, skipped, fmt.Errorf("%w under %s: %w", ErrNoCheckpoint, root, errors.Join(skipped...))
}
