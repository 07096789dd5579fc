package allreduce

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// NATS is a Transport over core NATS. The ring's members are named by
// their worker IDs: rank r listens on prefix.r.* and a chunk for rank r
// from worker w goes to prefix.r.w, so the last token of a chunk's subject
// names its sender. With the worker role's subject permissions
// (internal/natsauth) a worker may publish only subjects ending in its own
// ID, and the token is authenticated by the server.
//
// Recv drops, without failing the ring, every chunk whose sender token is
// not this rank's left peer or does not match the source rank in the
// chunk's header: a stranger cannot feed a rank values, nor break its ring
// by sending it one. Dropped counts them.
//
// Messages from one connection to a subject arrive in order; the ring
// detects the losses core NATS allows.
type NATS struct {
	nc    *nats.Conn
	inbox string   // prefix.rank.
	ring  []string // worker IDs in rank order
	left  int      // the only rank this rank receives from
	subj  []string // subj[to]: prefix.to.ring[rank]
	sub   *nats.Subscription
	log   *zap.Logger
	now   func() time.Time

	dropped atomic.Int64
	lastLog time.Time // of a drop; Recv's goroutine only
}

// ErrInvalidOption is wrapped by the errors of bad NATSOptions.
var ErrInvalidOption = errors.New("allreduce: invalid option")

// NATSOption configures NewNATS.
type NATSOption func(*NATS) error

// WithLogger logs dropped chunks to log (at most one line a second). The
// default is no logging.
func WithLogger(log *zap.Logger) NATSOption {
	return func(t *NATS) error {
		if log == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		t.log = log
		return nil
	}
}

// NewNATS subscribes rank's inbox on nc for the ring of worker IDs ring
// (in rank order, so the ring's size is len(ring)). IDs must be distinct,
// non-empty NATS subject tokens. Close unsubscribes; it does not close nc.
func NewNATS(nc *nats.Conn, prefix string, rank int, ring []string, opts ...NATSOption) (*NATS, error) {
	if nc == nil {
		return nil, errors.New("allreduce: NewNATS: nil connection")
	}
	size := len(ring)
	if rank < 0 || rank >= size {
		return nil, fmt.Errorf("allreduce: NewNATS: rank %d of a ring of %d", rank, size)
	}
	seen := make(map[string]bool, size)
	for r, id := range ring {
		if !validToken(id) {
			return nil, fmt.Errorf("allreduce: NewNATS: ring[%d] = %q: want a NATS subject token (no '.', '*', '>' or white space)", r, id)
		}
		if seen[id] {
			return nil, fmt.Errorf("allreduce: NewNATS: worker %q twice in the ring", id)
		}
		seen[id] = true
	}
	t := &NATS{nc: nc, inbox: prefix + "." + strconv.Itoa(rank) + ".", ring: ring,
		left: mod(rank-1, size), log: zap.NewNop(), now: time.Now}
	for _, o := range opts {
		if err := o(t); err != nil {
			return nil, err
		}
	}
	for to := range size {
		t.subj = append(t.subj, prefix+"."+strconv.Itoa(to)+"."+ring[rank])
	}
	sub, err := nc.SubscribeSync(t.inbox + "*")
	if err != nil {
		return nil, fmt.Errorf("allreduce: subscribing to %s*: %w", t.inbox, err)
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

// validToken reports whether s can be one token of a NATS subject.
func validToken(s string) bool {
	return s != "" && !strings.ContainsAny(s, ".*> \t\r\n")
}

// Send publishes msg to rank to's inbox.
func (t *NATS) Send(to int, msg []byte) error {
	if to < 0 || to >= len(t.subj) {
		return fmt.Errorf("allreduce: send to rank %d of %d", to, len(t.subj))
	}
	if max := t.nc.MaxPayload(); int64(len(msg)) > max {
		return fmt.Errorf("allreduce: a %d-byte chunk exceeds the NATS server's max_payload of %d bytes: lower ChunkBytes", len(msg), max)
	}
	return t.nc.Publish(t.subj[to], msg)
}

// Recv returns the next chunk from this rank's left peer, dropping
// forged ones.
func (t *NATS) Recv(ctx context.Context) ([]byte, error) {
	for {
		m, err := t.sub.NextMsgWithContext(ctx)
		if err != nil {
			return nil, err
		}
		if why := t.forged(m); why != "" {
			t.drop(m.Subject, why)
			continue
		}
		return m.Data, nil
	}
}

// forged says why m cannot come from this rank's left peer ("" if it can).
// A chunk too short for a header is passed on: it comes from the peer, and
// the ring fails on it.
func (t *NATS) forged(m *nats.Msg) string {
	sender, ok := strings.CutPrefix(m.Subject, t.inbox)
	if !ok || sender != t.ring[t.left] {
		return fmt.Sprintf("sender %q is not the left peer %q (rank %d)", sender, t.ring[t.left], t.left)
	}
	if len(m.Data) >= headerSize {
		from := binary.LittleEndian.Uint32(m.Data[40:])
		if from != uint32(t.left) {
			return fmt.Sprintf("the header names rank %d, the subject its left peer %q (rank %d)", from, sender, t.left)
		}
	}
	return ""
}

func (t *NATS) drop(subject, why string) {
	n := t.dropped.Add(1)
	if now := t.now(); now.Sub(t.lastLog) >= time.Second {
		t.lastLog = now
		t.log.Warn("dropped a forged all-reduce chunk", zap.String("subject", subject), zap.String("why", why), zap.Int64("dropped", n))
	}
}

// Dropped returns the number of chunks Recv dropped as forged. It is safe
// to call from any goroutine.
func (t *NATS) Dropped() int64 { return t.dropped.Load() }

// Close unsubscribes.
func (t *NATS) Close() error { return t.sub.Unsubscribe() }
