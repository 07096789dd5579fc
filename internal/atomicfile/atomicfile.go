// Package atomicfile replaces files whole. A reader sees the old file or
// the new one, never part of either, and after a crash the file is the
// old one or the new one: the new content goes to a temporary file in the
// same directory, which is fsynced, closed, renamed over the target, and
// then the directory is fsynced so that the rename itself is durable.
// This follows tailscale's atomicfile.WriteFile and hashicorp/raft's
// file snapshots (a .tmp name, fsync, rename).
//
// The package imports only the standard library, so that every layer of
// levy (the numeric core included) can use it.
//
// Errors name the step and the path; callers add their package's prefix.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
)

// WriteFile replaces path with a file holding data, with permissions
// perm (exactly perm: the umask does not apply). See Replacer.WriteFile.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Replacer{}.WriteFile(path, data, perm)
}

// Write replaces path with a file holding what fill writes, with
// permissions perm. See Replacer.Write.
func Write(path string, perm os.FileMode, fill func(io.Writer) error) error {
	return Replacer{}.Write(path, perm, fill)
}

// SyncDir fsyncs the directory dir. See Replacer.SyncDir.
func SyncDir(dir string) error {
	return Replacer{}.SyncDir(dir)
}

// A Replacer replaces files; its zero value is ready to use, and is what
// the package-level functions use.
type Replacer struct {
	// Hook, if not nil, runs before each file-system step with the step
	// and its path: "create PATH", "write PATH", "fsync PATH" (PATH the
	// target), "rename TMP" (the temporary file) and "fsync-dir DIR". An
	// error from it fails that step as if the file system had. Tests use
	// it to inject faults and to record the order of the steps.
	Hook func(step string) error
}

// step runs the hook, if any, before the step name on path.
func (r Replacer) step(name, path string) error {
	if r.Hook == nil {
		return nil
	}
	return r.Hook(name + " " + path)
}

// WriteFile replaces path with a file holding data; see Write.
func (r Replacer) WriteFile(path string, data []byte, perm os.FileMode) error {
	return r.Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write replaces path with a file holding what fill writes to w (through
// a buffer), with permissions perm. It creates a hidden temporary file
// .<name>.tmp-* beside path, lets fill write it, sets perm, fsyncs and
// closes it, renames it to path and fsyncs the directory.
//
// On an error up to and including the rename (fill's error among them),
// path is as it was and the temporary file is removed. An error fsyncing
// the directory leaves the new file in place, its durability in doubt.
// A crash may leave a temporary file behind; its name starts with a dot.
func (r Replacer) Write(path string, perm os.FileMode, fill func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	if err := r.step("create", path); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating a temporary file for %s: %w", path, err)
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(tmp)
		}
	}()
	werr := r.step("write", path)
	if werr == nil {
		bw := bufio.NewWriter(f)
		werr = fill(bw)
		if werr == nil {
			werr = bw.Flush()
		}
	}
	if werr == nil {
		werr = f.Chmod(perm) // CreateTemp made it 0600
	}
	if werr == nil {
		werr = r.step("fsync", path)
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("writing %s: %w", path, werr)
	}
	if err := r.step("rename", tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err // an *os.LinkError names both paths
	}
	renamed = true
	return r.SyncDir(dir)
}

// SyncDir fsyncs the directory dir, so that the entries created or
// renamed in it survive a crash. Platforms and file systems that cannot
// fsync a directory (Windows; EINVAL or ErrUnsupported) are let be.
func (r Replacer) SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	if err := r.step("fsync-dir", dir); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}
