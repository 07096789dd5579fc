package allreduce

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
)

// NATS is a Transport over core NATS: rank r listens on prefix.r and
// sends to prefix.<peer>. Messages from one connection to a subject
// arrive in order; the ring detects the losses core NATS allows.
type NATS struct {
	nc     *nats.Conn
	prefix string
	rank   int
	size   int
	sub    *nats.Subscription
	subj   []string
}

// NewNATS subscribes rank's inbox on nc. Close unsubscribes; it does not
// close nc.
func NewNATS(nc *nats.Conn, prefix string, rank, size int) (*NATS, error) {
	if nc == nil {
		return nil, errors.New("allreduce: NewNATS: nil connection")
	}
	if rank < 0 || rank >= size {
		return nil, fmt.Errorf("allreduce: NewNATS: rank %d of %d", rank, size)
	}
	t := &NATS{nc: nc, prefix: prefix, rank: rank, size: size}
	for i := range size {
		t.subj = append(t.subj, prefix+"."+strconv.Itoa(i))
	}
	sub, err := nc.SubscribeSync(t.subj[rank])
	if err != nil {
		return nil, fmt.Errorf("allreduce: subscribing to %s: %w", t.subj[rank], err)
	}
	// A gradient exchange can park many MiB in the inbox while this rank
	// is still computing: never drop them as a slow consumer.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		sub.Unsubscribe()
		return nil, err
	}
	t.sub = sub
	return t, nil
}

// Send publishes msg to rank to's inbox.
func (t *NATS) Send(to int, msg []byte) error {
	if to < 0 || to >= t.size {
		return fmt.Errorf("allreduce: send to rank %d of %d", to, t.size)
	}
	if max := t.nc.MaxPayload(); int64(len(msg)) > max {
		return fmt.Errorf("allreduce: a %d-byte chunk exceeds the NATS server's max_payload of %d bytes: lower ChunkBytes", len(msg), max)
	}
	return t.nc.Publish(t.subj[to], msg)
}

// Recv returns the next message in this rank's inbox.
func (t *NATS) Recv(ctx context.Context) ([]byte, error) {
	m, err := t.sub.NextMsgWithContext(ctx)
	if err != nil {
		return nil, err
	}
	return m.Data, nil
}

// Close unsubscribes.
func (t *NATS) Close() error { return t.sub.Unsubscribe() }
