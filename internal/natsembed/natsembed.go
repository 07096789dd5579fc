// Package natsembed starts a NATS server inside the process, on loopback,
// for `coordinator --local` (package local) and, through natstest, for
// the tests. It is the one place that builds a nats-server: options in,
// a server that accepts clients out, or an error that says why not.
//
// It holds no *testing.T, so production code may import it; natstest
// wraps it for tests (cleanup on the test's end, restarts on one port).
package natsembed

import (
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// MaxPayload is the max_payload levy's servers use: 8 MiB, the largest
// nats-server accepts without a warning. The all-reduce chunks stay
// below it; nats-server's own default is 1 MiB.
const MaxPayload = 8 << 20

// ReadyTimeout bounds how long Start waits for the server to accept
// clients.
const ReadyTimeout = 10 * time.Second

// Start starts a server configured by opts (nil: all defaults) and
// returns it once it accepts clients. opts is copied, not changed. An
// empty Host is 127.0.0.1, and Port 0 is a random free port (rather
// than nats-server's 4222: the URL is ns.ClientURL()); logging and signal
// handling are always off. Everything else is nats-server's: no
// JetStream, no clustering, a max_payload of 1 MiB unless opts.MaxPayload
// says otherwise (levy's clusters want MaxPayload), and the users, TLS
// and permissions opts give.
func Start(opts *server.Options) (*server.Server, error) {
	o := &server.Options{}
	if opts != nil {
		o = opts.Clone()
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Port == 0 {
		o.Port = server.RANDOM_PORT
	}
	o.NoLog, o.NoSigs = true, true
	ns, err := server.NewServer(o)
	if err != nil {
		return nil, fmt.Errorf("natsembed: configuring the NATS server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(ReadyTimeout) {
		ns.Shutdown()
		return nil, fmt.Errorf("natsembed: the NATS server on %s:%d did not accept connections within %v", o.Host, o.Port, ReadyTimeout)
	}
	return ns, nil
}
