// Package natstest runs a real NATS server inside a test, on a random
// loopback port, the way nats-server's own test.RunRandClientPortServer
// does: no Docker, no binary, and the server is shut down when the test
// ends. It is the one helper every levy test uses for that; the server
// itself is built by natsembed, which `coordinator --local` uses too.
//
//	ns, url := natstest.Start(t, &server.Options{MaxPayload: natstest.MaxPayload})
//	nc := natstest.Connect(t, url)
//
// Options are nats-server's own (users, permissions, TLS, nkeys, or the
// result of server.ProcessConfigFile for natsauth's rendered roles); see
// natsembed.Start for the defaults. Restart stops a server and starts it
// again on the same port, for tests of clients that outlive their server.
package natstest

import (
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/levy-ml/levy/internal/natsembed"
)

// MaxPayload is levy's max_payload (natsembed.MaxPayload, 8 MiB), for
// tests that carry all-reduce chunks; without it a server keeps
// nats-server's 1 MiB.
const MaxPayload = natsembed.MaxPayload

// Start starts an in-process server configured by opts (nil: defaults,
// see natsembed.Start) and shuts it down when tb ends. It returns the
// server and its client URL.
func Start(tb testing.TB, opts *server.Options) (*server.Server, string) {
	tb.Helper()
	ns, err := natsembed.Start(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(ns.Shutdown)
	return ns, ns.ClientURL()
}

// Restart shuts ns down, waits until it has stopped, and starts a server
// configured by opts on the port ns listened on, so that clients
// reconnect to the same URL. The new server is shut down when tb ends.
func Restart(tb testing.TB, ns *server.Server, opts *server.Options) *server.Server {
	tb.Helper()
	addr, ok := ns.Addr().(*net.TCPAddr)
	if !ok {
		tb.Fatalf("natstest: the server to restart listens on %v, not a TCP port", ns.Addr())
	}
	ns.Shutdown()
	ns.WaitForShutdown()
	o := &server.Options{}
	if opts != nil {
		o = opts.Clone()
	}
	o.Host, o.Port = addr.IP.String(), addr.Port
	// The port was ours a moment ago; give the kernel a moment to free it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		restarted, err := natsembed.Start(o)
		if err == nil {
			tb.Cleanup(restarted.Shutdown)
			return restarted
		}
		if time.Now().After(deadline) {
			tb.Fatalf("natstest: restarting the server on %v: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Connect connects to url with opts and closes the connection when tb
// ends. It fails tb with tb.Fatal, so call it from the test's goroutine.
func Connect(tb testing.TB, url string, opts ...nats.Option) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		tb.Fatalf("natstest: connecting to %s: %v", url, err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// FreeAddrs returns n distinct free loopback addresses (for the raft
// peers a test runs beside its NATS server). Every listener stays open
// until all n ports are taken: closing each at once let the kernel hand
// the same port out twice, and raft then refused to bootstrap ("found
// duplicate address in configuration", CI 2026-12-03).
func FreeAddrs(tb testing.TB, n int) []string {
	tb.Helper()
	var out []string
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close() // only frees the port
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out
}
