package obs

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/levy-ml/levy/internal/natstest"
)

// count returns the value of the counter name in reg (0 if absent).
func count(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// waitCount waits until the counter name in reg reaches want.
func waitCount(t *testing.T, reg *prometheus.Registry, name string, want float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := count(t, reg, name)
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v", name, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConnOptionsCountsSlowConsumers: a subscriber that blocks, with a
// pending limit of two messages, drops the rest; the drop is counted.
func TestConnOptionsCountsSlowConsumers(t *testing.T) {
	_, url := natstest.Start(t, nil)
	reg := prometheus.NewRegistry()
	nc, err := nats.Connect(url, ConnOptions(zaptest.NewLogger(t), reg)...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	block := make(chan struct{})
	sub, err := nc.Subscribe("slow", func(*nats.Msg) { <-block })
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.SetPendingLimits(2, -1); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		nc.Publish("slow", []byte("x"))
	}
	nc.Flush()
	waitCount(t, reg, SlowConsumerMetric, 1)
	close(block)
	if n, _ := sub.Dropped(); n == 0 {
		t.Error("the subscription dropped nothing")
	}
	if got := count(t, reg, PermissionViolationMetric); got != 0 {
		t.Errorf("%s = %v, want 0", PermissionViolationMetric, got)
	}
}

// TestConnOptionsCountsPermissionViolations: two connections on one
// registry share the counter (a second ConnOptions finds it registered),
// and each refused publish or subscription counts.
func TestConnOptionsCountsPermissionViolations(t *testing.T) {
	_, url := natstest.Start(t, &server.Options{Users: []*server.User{{Username: "u", Password: "p",
		Permissions: &server.Permissions{Publish: &server.SubjectPermission{Allow: []string{"ok"}},
			Subscribe: &server.SubjectPermission{Allow: []string{"ok"}}}}}})
	reg := prometheus.NewRegistry()
	for i := range 2 {
		nc, err := nats.Connect(url, append(ConnOptions(zaptest.NewLogger(t), reg), nats.UserInfo("u", "p"))...)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.Publish("ok", nil)
		nc.Publish("not.ok", nil)
		nc.SubscribeSync("not.ok")
		nc.Flush()
		waitCount(t, reg, PermissionViolationMetric, float64(2*(i+1)))
	}
	if got := count(t, reg, PermissionViolationMetric); got != 4 {
		t.Errorf("%s = %v after four refusals", PermissionViolationMetric, got)
	}
	// Nor does a nil registry or logger break anything.
	nc, err := nats.Connect(url, append(ConnOptions(nil, nil), nats.UserInfo("u", "p"))...)
	if err != nil {
		t.Fatal(err)
	}
	nc.Publish("not.ok", nil)
	nc.Flush()
	nc.Close()
}
