package localcluster

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/levy-ml/levy/worker"
)

// lockedBuffer is a bytes.Buffer for one writer goroutine and readers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestWorkerWithoutTheRunDirectoryIsRefused: a worker whose runs root is
// not the coordinator's storage (a machine without the shared mount) is
// refused before it takes a rank, with an error that says the run
// directory is not shared, and the job runs with the workers that see it.
// Before the preflight, such a worker took rank 0 and wrote checkpoints
// on its own disk; the job failed only at the first restart.
func TestWorkerWithoutTheRunDirectoryIsRefused(t *testing.T) {
	c := newCluster(t, smallJob("shared", 40, 20))
	cc := c.coordConfig(2)
	var out lockedBuffer
	cc.Progress = &out
	cc.RejoinWindow = 500 * time.Millisecond
	elsewhere := t.TempDir()
	c.worker("w0", nil)
	c.worker("w1", nil)
	_, lone := c.worker("w2", nil, func(wc *worker.Config) { wc.RunsRoot = elsewhere })
	// w2 joins first, waits to be refused, then the others come.
	res, err := c.run(cc)
	if err != nil {
		t.Fatal(err)
	}
	j := res.Job
	if j.Phase != "done" || len(j.Members) != 2 {
		t.Fatalf("job %s with members %v", j.Phase, j.Members)
	}
	for _, m := range j.Members {
		if m == "w2" {
			t.Fatalf("w2, which does not see the run directory, is a member: %v", j.Members)
		}
	}
	if !strings.Contains(out.String(), "worker w2") || !strings.Contains(out.String(), "the run directory is not shared") {
		t.Errorf("the coordinator's output does not say that w2 does not share the run directory:\n%s", out.String())
	}
	ents, _ := os.ReadDir(elsewhere)
	if len(ents) != 0 {
		t.Errorf("the refused worker wrote into its own runs root: %v", ents)
	}
	select {
	case err := <-lone:
		t.Errorf("the refused worker left: %v (it should wait for storage or the next job)", err)
	default:
	}
	if _, err := os.Stat(filepath.Join(res.RunDir, ".levy-preflight")); err != nil {
		t.Errorf("no preflight token: %v", err)
	}
}
