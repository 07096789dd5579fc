package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/levy-ml/levy/checkpoint"
)

func runVerify(ctx context.Context, args []string) error {
	fs := newFlags("verify")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage of levyctl verify:\n  levyctl verify PATH...\n"+
			"PATH is a checkpoint directory, a run directory (every checkpoint under PATH/checkpoints)\n"+
			"or a checkpoints directory. One line per checkpoint on stdout; exit 1 if any is bad.\n")
	}
	paths, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return errors.New("give a checkpoint or run directory")
	}
	var dirs []string
	for _, p := range paths {
		d, err := checkpointDirs(p)
		if err != nil {
			return err
		}
		dirs = append(dirs, d...)
	}
	bad := 0
	for _, d := range dirs {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, ok := verifyOne(d)
		fmt.Println(line)
		if !ok {
			bad++
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d checkpoints are bad", bad, len(dirs))
	}
	return nil
}

// checkpointDirs is path itself if it holds a manifest, else the
// checkpoints under path/checkpoints (a run directory) or under path
// (a checkpoints directory).
func checkpointDirs(path string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(path, checkpoint.ManifestFile)); err == nil {
		return []string{path}, nil
	}
	if st, err := os.Stat(path); err != nil {
		return nil, err
	} else if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", path)
	}
	for _, root := range []string{filepath.Join(path, "checkpoints"), path} {
		dirs, err := checkpoint.List(root)
		if err != nil {
			return nil, err
		}
		if len(dirs) > 0 {
			return dirs, nil
		}
	}
	return nil, fmt.Errorf("no checkpoint in %s (no %s there, and no step-* directories in it or in its checkpoints/)", path, checkpoint.ManifestFile)
}

// verifyOne checks the checkpoint in dir with checkpoint.Verify and
// describes it in one line: its step and files (from the manifest, when
// it can be read) and OK or the problem.
func verifyOne(dir string) (line string, ok bool) {
	desc := dir + ": "
	if b, err := os.ReadFile(filepath.Join(dir, checkpoint.ManifestFile)); err == nil {
		if m, err := checkpoint.ParseManifest(b); err == nil {
			names := make([]string, 0, len(m.Files))
			for name := range m.Files {
				names = append(names, name)
			}
			slices.Sort(names)
			desc += fmt.Sprintf("step %d, files %s: ", m.Step, strings.Join(names, " "))
		}
	}
	if _, err := checkpoint.Verify(dir); err != nil {
		return desc + err.Error(), false
	}
	return desc + "OK", true
}
