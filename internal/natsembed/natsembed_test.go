package natsembed

import (
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// TestStartDefaults: with no options the server listens on a random
// loopback port, has no JetStream, and takes anonymous clients.
func TestStartDefaults(t *testing.T) {
	ns, err := Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	if url := ns.ClientURL(); !strings.HasPrefix(url, "nats://127.0.0.1:") || strings.HasSuffix(url, ":4222") {
		t.Errorf("URL %s, want a random port on 127.0.0.1", url)
	}
	if ns.JetStreamEnabled() {
		t.Error("JetStream is on")
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
}

// TestStartKeepsOptions: the caller's options are applied (a user, the
// max payload) and not changed.
func TestStartKeepsOptions(t *testing.T) {
	opts := &server.Options{Username: "levy", Password: "pw", MaxPayload: MaxPayload}
	ns, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	if opts.Host != "" || opts.Port != 0 || opts.NoLog {
		t.Errorf("Start changed the caller's options: %+v", opts)
	}
	if nc, err := nats.Connect(ns.ClientURL()); err == nil {
		nc.Close()
		t.Error("an anonymous client connected to a server with a user")
	}
	nc, err := nats.Connect(ns.ClientURL(), nats.UserInfo("levy", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if got := nc.MaxPayload(); got != MaxPayload {
		t.Errorf("max payload %d, want %d", got, MaxPayload)
	}
}

// TestStartReportsABadConfiguration: options nats-server refuses are an
// error naming the package, not a panic or a hang.
func TestStartReportsABadConfiguration(t *testing.T) {
	ns, err := Start(&server.Options{MaxPayload: 128 << 20}) // above max_pending
	if err == nil {
		ns.Shutdown()
	}
	if err == nil || !strings.Contains(err.Error(), "natsembed: configuring the NATS server") {
		t.Errorf("err %v", err)
	}
}
