package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/levy-ml/levy/internal/atomicfile"
)

// MkdirAll is os.MkdirAll that also fsyncs the parent of each directory it
// creates, so that the new directories survive a crash. Directories that
// exist already are left alone.
func MkdirAll(path string, perm os.FileMode) error {
	path = filepath.Clean(path)
	var missing []string // from path up
	for p := path; ; p = filepath.Dir(p) {
		_, err := os.Lstat(p)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("checkpoint: %w", err)
		}
		missing = append(missing, p)
		if filepath.Dir(p) == p {
			break
		}
	}
	if err := os.MkdirAll(path, perm); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := syncDir(filepath.Dir(missing[i])); err != nil {
			return err
		}
	}
	return nil
}

// WriteFileAtomic replaces path with a file holding data, with
// permissions perm, through atomicfile (temporary file, fsync, rename,
// directory fsync) with the package's fault hook on every step. A reader
// sees the old file or the new one, never part of one, and after a crash
// the file is the old or the new one. On an error before the rename, path
// is as it was and the temporary file is removed; an error fsyncing the
// directory leaves the new file in place, its durability in doubt.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := (atomicfile.Replacer{Hook: fault}).WriteFile(path, data, perm); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// WriteDirAtomic replaces the directory dir with one holding what fill
// writes into tmp, a fresh hidden directory beside dir (permissions perm).
// Once fill returns, every file in tmp is fsynced (fill makes plain files
// only, no subdirectories), then tmp itself; an existing dir is renamed
// away, tmp renamed to dir, the parent fsynced, and the old dir removed.
// A reader of dir sees the old directory or the new one whole. If fill or
// a later step fails, dir is as it was (put back if it had been moved)
// and tmp is removed. A crash may leave hidden .<name>.tmp-* or
// .<name>.old-* directories, which readers ignore; a crash between the two
// renames leaves dir missing and its old contents under the .old- name.
func WriteDirAtomic(dir string, perm os.FileMode, fill func(tmp string) error) (err error) {
	parent, name := filepath.Dir(dir), filepath.Base(dir)
	if err := fault("mkdir-temp " + dir); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+name+".tmp-")
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, perm); err != nil { // MkdirTemp makes it 0700
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := fill(tmp); err != nil {
		return fmt.Errorf("checkpoint: writing %s: %w", dir, err)
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	for _, e := range entries {
		if err := syncFile(filepath.Join(tmp, e.Name())); err != nil {
			return err
		}
	}
	if err := syncDir(tmp); err != nil {
		return err
	}
	var old string
	if _, err := os.Lstat(dir); err == nil {
		old = filepath.Join(parent, "."+name+".old-"+strings.TrimPrefix(filepath.Base(tmp), "."+name+".tmp-"))
		if err := rename("rename-away", dir, old); err != nil {
			return fmt.Errorf("checkpoint: moving the existing %s away: %w", dir, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := rename("rename-in", tmp, dir); err != nil {
		if old != "" {
			os.Rename(old, dir)
		}
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := syncDir(parent); err != nil {
		return err // in place, its durability in doubt
	}
	if old != "" {
		os.RemoveAll(old)
	}
	return nil
}

// syncFile fsyncs the regular file at path.
func syncFile(path string) error {
	if err := fault("fsync " + path); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return fmt.Errorf("checkpoint: %s: not a regular file (%v)", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("checkpoint: fsync %s: %w", path, err)
	}
	return nil
}
