package worker

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/levy-ml/levy/internal/natstest"
	"github.com/levy-ml/levy/internal/wire"
	"github.com/levy-ml/levy/job"
)

// TestUnreadableCheckpointIsRetryable: a rank that cannot read the
// checkpoint it must resume from (its files are not there: the shared
// mount went away) reports a retryable failure, so that the coordinator
// forms a new ring (up to --max-restarts) instead of failing the job for
// good, and the error names the path.
func TestUnreadableCheckpointIsRetryable(t *testing.T) {
	_, url := natstest.Start(t, nil)
	nc := natstest.Connect(t, url)
	wc := DefaultConfig()
	wc.ID, wc.NATS, wc.RunsRoot = "w0", nc, t.TempDir()
	w, err := New(wc)
	if err != nil {
		t.Fatal(err)
	}
	dones := make(chan wire.Done, 1)
	if _, err := nc.Subscribe(wire.MemberSubject("gone", wire.ReportDone, "w0"), func(m *nats.Msg) {
		var d wire.Done
		if wire.Decode(m.Data, &d) == nil {
			dones <- d
		}
		m.Respond([]byte("ok"))
	}); err != nil {
		t.Fatal(err)
	}
	spec := job.Default()
	spec.Name = "gone"
	a := wire.Assign{Job: "gone", Spec: json.RawMessage(spec.JSON()), Rank: 0, World: 1, Ring: []string{"w0"},
		Incarnation: w.inc, Generation: 2, RunDir: "gone", Resume: "checkpoints/step-00000100", Term: 1}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = w.runJob(ctx, a)
	if err == nil || !retryable(err) {
		t.Fatalf("runJob = %v, want a retryable error", err)
	}
	d := <-dones
	want := filepath.Join(wc.RunsRoot, "gone", "checkpoints", "step-00000100")
	if !d.Retry || !strings.Contains(d.Error, want) {
		t.Fatalf("done %+v: want Retry and the error naming %s", d, want)
	}
}
