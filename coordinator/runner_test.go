package coordinator

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/levy-ml/levy/checkpoint"
	"github.com/levy-ml/levy/internal/natstest"
)

// testConn connects to a NATS server of the test's own.
func testConn(t *testing.T) *nats.Conn {
	_, url := natstest.Start(t, nil)
	return natstest.Connect(t, url)
}

func TestNewRefusesBadInput(t *testing.T) {
	nc := testConn(t)
	runs := t.TempDir()
	// A resume directory with only a corrupt checkpoint.
	bad := filepath.Join(runs, "bad")
	if err := os.MkdirAll(filepath.Join(bad, "checkpoints", "step-00000010"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(bad, "checkpoints", "step-00000010", "manifest.json"), []byte("{garbage"), 0o644)

	for _, c := range []struct {
		edit func(*Config)
		want string
		is   error
	}{
		{func(c *Config) { c.Workers = 0 }, "--workers 0", nil},
		{func(c *Config) { c.Workers = 2000 }, "fewer points than the 2000 workers", nil},
		{func(c *Config) { c.Job.Alpha = 2.5 }, `"alpha" = 2.5`, nil},
		{func(c *Config) { c.StopAt = -1 }, "--stop-at -1", nil},
		{func(c *Config) { c.Resume = filepath.Join(runs, "missing") }, "--resume", checkpoint.ErrNoCheckpoint},
		{func(c *Config) { c.Resume = bad }, "--resume", checkpoint.ErrNoCheckpoint},
		{func(c *Config) { c.NATS = nil }, "NATS", nil},
	} {
		cfg := DefaultConfig()
		cfg.NATS, cfg.RunsDir, cfg.Workers, cfg.Progress = nc, runs, 2, nil
		c.edit(&cfg)
		_, err := NewJobRunner(cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) || (c.is != nil && !errors.Is(err, c.is)) {
			t.Errorf("want an error with %q, got %v", c.want, err)
		}
	}
}
