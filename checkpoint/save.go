package checkpoint

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/levy-ml/levy/internal/atomicfile"
	"github.com/levy-ml/levy/safetensors"
)

// ErrPrune is wrapped by the error Save returns when the checkpoint was
// committed but removing old ones failed; the returned dir is then valid.
var ErrPrune = errors.New("checkpoint: pruning old checkpoints failed")

// Prefixes of the hidden working directories Save keeps inside root.
const (
	tmpPrefix = ".tmp-" // a save in progress; removed by the next Save
	oldPrefix = ".old-" // a checkpoint being replaced; restored if its successor is missing
	delPrefix = ".del-" // a checkpoint being pruned; removed by the next Save
)

// StepDir is the directory Save uses for step under root: root/step-%08d.
func StepDir(root string, step int64) string {
	return filepath.Join(root, dirName(step))
}

func dirName(step int64) string { return fmt.Sprintf("step-%08d", step) }

// faultHook, set only by tests, runs before each file-system step of Save
// with a description of it: an error fails that step, a panic simulates a
// crash just before it.
var faultHook func(step string) error

func fault(step string) error {
	if faultHook == nil {
		return nil
	}
	return faultHook(step)
}

// Save writes a checkpoint of files for m.Step under root, in
// root/step-%08d, and returns that directory. It sets m.Format, fills
// m.Files with each file's size and SHA-256 (whatever the caller put there
// is ignored) and sets m.Created to the current UTC time if it is zero;
// m.Job must be the job spec as a JSON object.
//
// The save is atomic: a crash at any point leaves either the earlier state
// or the complete new checkpoint (see the package documentation). If the
// step's directory already exists it is replaced: the new checkpoint is
// completed under a temporary name, the old one renamed away, the new one
// renamed in and only then the old one removed.
//
// After the commit Save keeps the keep newest checkpoints by step (all of
// them if keep ≤ 0) plus the one just written, and removes the rest.
//
// Errors: a failed save returns dir "" and leaves every checkpoint as it
// was, its temporary directory removed, nothing pruned. A non-empty dir
// with an error means the new checkpoint is in place but something after
// the commit failed: fsyncing root (its durability is then in doubt) or
// pruning (the error wraps ErrPrune).
//
// Save assumes a single writer per root (rank 0): it removes the leftovers
// of other saves, which would break a concurrent Save.
func Save(root string, m Manifest, files []File, keep int) (dir string, err error) {
	if err := checkFiles(files); err != nil {
		return "", err
	}
	m.Format = FormatVersion
	if m.Created.IsZero() {
		m.Created = time.Now().UTC()
	}
	m.Files = make(map[string]FileInfo, len(files))
	for _, f := range files {
		m.Files[f.Name] = FileInfo{SHA256: strings.Repeat("0", 64)} // placeholder until written
	}
	if err := m.Validate(); err != nil { // the other fields, before touching the disk
		return "", err
	}
	if err := MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	if err := cleanup(root); err != nil {
		return "", err
	}

	name := dirName(m.Step)
	if err := fault("mkdir-temp"); err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	tmp, err := os.MkdirTemp(root, tmpPrefix+name+"-")
	if err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp makes it 0700; readers may be other users
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	for _, f := range files {
		fi, err := writeTensors(filepath.Join(tmp, f.Name), f)
		if err != nil {
			return "", err
		}
		m.Files[f.Name] = fi
	}
	mb, err := marshalManifest(&m)
	if err != nil {
		return "", fmt.Errorf("checkpoint: manifest: %w", err)
	}
	if err := writeSynced(filepath.Join(tmp, ManifestFile), func(w io.Writer) error {
		_, err := w.Write(mb)
		return err
	}); err != nil {
		return "", err
	}
	if err := syncDir(tmp); err != nil {
		return "", err
	}

	dir = filepath.Join(root, name)
	committed, err := commit(root, tmp, dir)
	if !committed {
		return "", err
	}
	if err != nil {
		return dir, err // in place, but root's fsync failed
	}
	if err := prune(root, dir, keep); err != nil {
		return dir, fmt.Errorf("%w: %w", ErrPrune, err)
	}
	return dir, nil
}

// checkFiles rejects what Save can see is wrong before it touches the disk.
func checkFiles(files []File) error {
	if len(files) == 0 {
		return errors.New("checkpoint: no files to save")
	}
	seen := make(map[string]bool, len(files))
	for _, f := range files {
		if err := ValidFileName(f.Name); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		if seen[f.Name] {
			return fmt.Errorf("checkpoint: file %q given twice", f.Name)
		}
		seen[f.Name] = true
	}
	return nil
}

// commit renames the finished tmp to dir, moving an existing dir out of the
// way first, and fsyncs root. committed reports whether the new checkpoint
// is in place (even if a later step failed).
func commit(root, tmp, dir string) (committed bool, err error) {
	var old string
	if _, err := os.Lstat(dir); err == nil {
		// .tmp-step-XXXXXXXX-<random> becomes .old-step-XXXXXXXX-<random>.
		old = filepath.Join(root, oldPrefix+filepath.Base(tmp)[len(tmpPrefix):])
		if err := rename("rename-away", dir, old); err != nil {
			return false, fmt.Errorf("checkpoint: moving the existing %s away: %w", dir, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("checkpoint: %w", err)
	}
	if err := rename("rename-in", tmp, dir); err != nil {
		if old != "" {
			os.Rename(old, dir) // put it back; otherwise the next Save does
		}
		return false, fmt.Errorf("checkpoint: committing %s: %w", dir, err)
	}
	if err := syncDir(root); err != nil {
		return true, err
	}
	if old != "" && fault("remove-old "+old) == nil {
		// Committed: a failure here only leaves a hidden copy, which the
		// next Save removes.
		os.RemoveAll(old)
	}
	return true, nil
}

// removeAll is os.RemoveAll behind the fault hook.
func removeAll(step, path string) error {
	if err := fault(step + " " + path); err != nil {
		return err
	}
	return os.RemoveAll(path)
}

// rename is os.Rename behind the fault hook.
func rename(step, from, to string) error {
	if err := fault(step + " " + from); err != nil {
		return err
	}
	return os.Rename(from, to)
}

// writeTensors encodes f to path, fsyncs and closes it, and returns the
// size and SHA-256 of what was written.
func writeTensors(path string, f File) (FileInfo, error) {
	h := sha256.New()
	var n int64
	err := writeSynced(path, func(w io.Writer) error {
		cw := &countWriter{w: io.MultiWriter(w, h)}
		err := safetensors.Encode(cw, f.Tensors, f.Meta)
		n = cw.n
		return err
	})
	if err != nil {
		return FileInfo{}, err
	}
	return FileInfo{Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// writeSynced creates path, lets fill write it through a buffer, then
// flushes, fsyncs and closes it.
func writeSynced(path string, fill func(io.Writer) error) (err error) {
	if err := fault("create " + path); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("checkpoint: closing %s: %w", path, cerr)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := fill(bw); err != nil {
		return fmt.Errorf("checkpoint: writing %s: %w", path, err)
	}
	if err := errors.Join(fault("write "+path), bw.Flush()); err != nil {
		return fmt.Errorf("checkpoint: writing %s: %w", path, err)
	}
	if err := errors.Join(fault("fsync "+path), f.Sync()); err != nil {
		return fmt.Errorf("checkpoint: fsync %s: %w", path, err)
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// syncDir fsyncs a directory (atomicfile.SyncDir behind the fault hook)
// so that the entries created or renamed in it survive a crash.
func syncDir(path string) error {
	if err := (atomicfile.Replacer{Hook: fault}).SyncDir(path); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// cleanup removes what crashed saves and prunes left in root and puts back
// a replaced checkpoint whose successor never arrived.
func cleanup(root string) error {
	entries, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	changed := false
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(root, name)
		switch {
		case isOurs(name, tmpPrefix), isOurs(name, delPrefix):
			if err := removeAll("cleanup", path); err != nil {
				return fmt.Errorf("checkpoint: removing leftover %s: %w", path, err)
			}
			changed = true
		case isOurs(name, oldPrefix):
			// .old-step-XXXXXXXX-<suffix>: put step-XXXXXXXX back if it is gone.
			target, _, _ := cutStep(name[len(oldPrefix):])
			_, err := os.Lstat(filepath.Join(root, target))
			switch {
			case errors.Is(err, os.ErrNotExist):
				if err := rename("restore", path, filepath.Join(root, target)); err != nil {
					return fmt.Errorf("checkpoint: restoring %s: %w", path, err)
				}
			case err != nil:
				return fmt.Errorf("checkpoint: %w", err)
			default:
				if err := removeAll("cleanup", path); err != nil {
					return fmt.Errorf("checkpoint: removing leftover %s: %w", path, err)
				}
			}
			changed = true
		}
	}
	if changed {
		return syncDir(root)
	}
	return nil
}

// prune keeps the keep newest checkpoints under root and the one just
// written (dir); the others are renamed to hidden names, then removed.
func prune(root, dir string, keep int) error {
	if keep <= 0 {
		return nil
	}
	dirs, err := List(root)
	if err != nil {
		return err
	}
	var doomed []string
	for _, d := range dirs[:max(0, len(dirs)-keep)] {
		if d != dir {
			doomed = append(doomed, d)
		}
	}
	if len(doomed) == 0 {
		return nil
	}
	var errs []error
	var hidden []string
	for _, d := range doomed {
		h := filepath.Join(root, delPrefix+filepath.Base(d))
		if err := rename("prune", d, h); err != nil {
			errs = append(errs, err)
			continue
		}
		hidden = append(hidden, h)
	}
	if err := syncDir(root); err != nil {
		errs = append(errs, err)
	}
	for _, h := range hidden {
		if err := removeAll("prune-remove", h); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// isOurs reports whether name is one of Save's working names with the
// given prefix: .tmp-step-N-*, .old-step-N-* or .del-step-N.
func isOurs(name, prefix string) bool {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return false
	}
	if prefix == delPrefix {
		_, ok = parseDirName(rest)
		return ok
	}
	_, suffix, ok := cutStep(rest)
	return ok && suffix != ""
}

// cutStep splits "step-XXXXXXXX-rest" into the directory name
// "step-XXXXXXXX" and "rest".
func cutStep(s string) (name, rest string, ok bool) {
	i := strings.LastIndexByte(s, '-')
	if i < 0 {
		return "", "", false
	}
	if _, ok := parseDirName(s[:i]); !ok {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}
