package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// TestStartAndConnect: a message goes through, the server has the max
// payload asked for, and it is shut down when the test ends.
func TestStartAndConnect(t *testing.T) {
	var ns *server.Server
	t.Run("inner", func(t *testing.T) {
		var url string
		ns, url = Start(t, &server.Options{MaxPayload: MaxPayload})
		if url != ns.ClientURL() {
			t.Errorf("URL %s, server says %s", url, ns.ClientURL())
		}
		nc := Connect(t, url)
		sub, err := nc.SubscribeSync("x")
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.Publish("x", []byte("hi")); err != nil {
			t.Fatal(err)
		}
		if m, err := sub.NextMsg(5 * time.Second); err != nil || string(m.Data) != "hi" {
			t.Fatalf("got %v, %v", m, err)
		}
		if nc.MaxPayload() != MaxPayload {
			t.Errorf("max payload %d", nc.MaxPayload())
		}
	})
	if ns.Running() {
		t.Error("the server still runs after its test ended")
	}
}

// TestRestartKeepsTheURL: a client with reconnects on comes back to the
// restarted server at the same URL, and its subscription works again.
func TestRestartKeepsTheURL(t *testing.T) {
	opts := &server.Options{Username: "levy", Password: "pw"}
	ns, url := Start(t, opts)
	back := make(chan struct{}, 1)
	nc := Connect(t, url, nats.UserInfo("levy", "pw"), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond),
		nats.ReconnectHandler(func(*nats.Conn) { back <- struct{}{} }))
	sub, err := nc.SubscribeSync("x")
	if err != nil {
		t.Fatal(err)
	}
	restarted := Restart(t, ns, opts)
	if ns.Running() {
		t.Error("the old server still runs")
	}
	if restarted.ClientURL() != url {
		t.Fatalf("restarted at %s, was %s", restarted.ClientURL(), url)
	}
	select {
	case <-back:
	case <-time.After(10 * time.Second):
		t.Fatal("the client did not reconnect")
	}
	if err := nc.Publish("x", []byte("again")); err != nil {
		t.Fatal(err)
	}
	if m, err := sub.NextMsg(5 * time.Second); err != nil || string(m.Data) != "again" {
		t.Fatalf("after the restart got %v, %v", m, err)
	}
	if c, err := nats.Connect(url); err == nil {
		c.Close()
		t.Error("the restarted server lost its user")
	}
}
