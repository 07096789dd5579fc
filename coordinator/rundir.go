package coordinator

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// maxRunDirs bounds the suffixes FreshRunDir tries.
const maxRunDirs = 10000

// FreshRunDir returns a run directory for a fresh run of the job name:
// the first of runsDir/name, runsDir/name-2, runsDir/name-3 … that it
// can claim. It claims one by creating its checkpoints directory with
// os.Mkdir, which exactly one caller can do, so that runs started at
// once get different directories. A directory whose run saved a
// checkpoint, or is running, already has a checkpoints directory and is
// passed over; one left by a run that stopped before it saved anything
// is used again.
func FreshRunDir(runsDir, name string) (string, error) {
	for i := 1; i <= maxRunDirs; i++ {
		dir := filepath.Join(runsDir, name)
		if i > 1 {
			dir = fmt.Sprintf("%s-%d", dir, i)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("coordinator: %w", err)
		}
		err := os.Mkdir(filepath.Join(dir, "checkpoints"), 0o755)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("coordinator: %w", err)
		}
	}
	return "", fmt.Errorf("coordinator: %s/%s … %s-%d all hold runs", runsDir, name, name, maxRunDirs)
}
