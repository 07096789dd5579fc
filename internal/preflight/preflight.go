// Package preflight checks that the processes of a job see the same
// storage: the coordinator writes a random token in the run directory and
// each worker proves that it reads it back, and both hash the listing of
// an image job's data directory. A cluster without a shared filesystem
// fails here, with an error that says so, instead of at the first restart.
package preflight

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/levy-ml/levy/checkpoint"
)

// File is the token's file name in a run directory.
const File = ".levy-preflight"

// ErrNotShared is wrapped by every error of a check that failed because
// the storage differs.
var ErrNotShared = errors.New("not shared")

// WriteToken writes a fresh random token into runDir (atomically) and
// returns it.
func WriteToken(runDir string) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(b[:])
	if err := checkpoint.WriteFileAtomic(filepath.Join(runDir, File), []byte(tok+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("preflight: %w", err)
	}
	return tok, nil
}

// ReadToken reads the token of runDir; the error says the run directory
// is not shared.
func ReadToken(runDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(runDir, File))
	if err != nil {
		return "", fmt.Errorf("the run directory is not shared: %w (%w; is the runs root the same storage on every machine?)", err, ErrNotShared)
	}
	return strings.TrimSpace(string(b)), nil
}

// maxEntries bounds the listing DataDigest hashes.
const maxEntries = 4096

// DataDigest hashes the names, kinds and sizes of dir's entries and of
// its subdirectories' entries (two levels, at most maxEntries in all, in
// lexical order): two machines that see the same dataset agree, and a
// missing or different directory disagrees. The files' contents are not
// read.
func DataDigest(dir string) (string, error) {
	h := sha256.New()
	n := 0
	var walk func(rel string, depth int) error
	walk = func(rel string, depth int) error {
		ents, err := os.ReadDir(filepath.Join(dir, rel))
		if err != nil {
			return err
		}
		for _, e := range ents {
			if n >= maxEntries {
				return nil
			}
			n++
			info, err := e.Info()
			if err != nil {
				return err
			}
			name := filepath.ToSlash(filepath.Join(rel, e.Name()))
			size := info.Size()
			if info.IsDir() {
				size = 0
			}
			fmt.Fprintf(h, "%s\x00%v\x00%d\n", name, info.Mode().Type()&fs.ModeDir, size)
			if info.IsDir() && depth < 1 {
				if err := walk(filepath.Join(rel, e.Name()), depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk("", 0); err != nil {
		return "", fmt.Errorf("the data directory %s: %w", dir, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
