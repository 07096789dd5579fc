package cli

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/levy-ml/levy/internal/natstest"
)

// waitLog waits for a log entry whose message is msg.
func waitLog(t *testing.T, logs *observer.ObservedLogs, msg string) observer.LoggedEntry {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if es := logs.FilterMessage(msg).All(); len(es) > 0 {
			return es[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %q in the log; it has %d entries", msg, logs.Len())
	return observer.LoggedEntry{}
}

// TestConnectLogsAsyncErrors: the errors NATS reports asynchronously (a
// slow consumer dropping messages, a permissions violation) are logged
// with the subject, not lost.
func TestConnectLogsAsyncErrors(t *testing.T) {
	_, url := natstest.Start(t, &server.Options{Users: []*server.User{{Username: "levy", Password: "pw",
		Permissions: &server.Permissions{Publish: &server.SubjectPermission{Allow: []string{"ok.>"}}}}}})
	core, logs := observer.New(zapcore.InfoLevel)
	nc, err := Connect(url, "test", NATSAuth{User: "levy", Password: "pw"}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	block := make(chan struct{})
	defer close(block)
	sub, err := nc.Subscribe("ok.slow", func(*nats.Msg) { <-block })
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.SetPendingLimits(2, -1); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		nc.Publish("ok.slow", []byte("x"))
	}
	nc.Flush()
	e := waitLog(t, logs, "NATS slow consumer: messages dropped")
	if got := e.ContextMap()["subject"]; got != "ok.slow" {
		t.Errorf("slow consumer logged with subject %v", got)
	}

	nc.Publish("denied.x", nil)
	nc.Flush()
	e = waitLog(t, logs, "NATS permissions violation")
	if got := e.ContextMap()["subject"]; got != "denied.x" {
		t.Errorf("permissions violation logged with subject %v", got)
	}
}
