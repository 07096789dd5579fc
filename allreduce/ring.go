package allreduce

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// ErrRingBroken is wrapped by every error of a failed all-reduce: a peer
// that did not answer within the deadline, a lost or out-of-order chunk,
// a failed send, or a ring already broken by an earlier failure.
var ErrRingBroken = errors.New("allreduce: ring broken")

// Transport moves opaque messages between the ranks of one ring. Send may
// return before delivery and must not retain msg. Recv returns the next
// message addressed to this rank; messages from one sender arrive in the
// order they were sent, or not at all.
type Transport interface {
	Send(to int, msg []byte) error
	Recv(ctx context.Context) ([]byte, error)
	Close() error
}

// DefaultChunkBytes is the default payload per message: 512 KiB, half of
// NATS's default max_payload.
const DefaultChunkBytes = 512 << 10

// Config describes one rank of a ring.
type Config struct {
	Rank, Size int
	// Generation identifies the ring (membership epoch); messages of other
	// generations are discarded.
	Generation uint64
	// ChunkBytes is the payload per message, a positive multiple of 4.
	ChunkBytes int
	// Timeout is the deadline for each expected chunk.
	Timeout time.Duration
}

// DefaultConfig returns 512 KiB chunks and a 10 s deadline; Rank, Size
// and Generation must still be set.
func DefaultConfig() Config {
	return Config{Size: 1, ChunkBytes: DefaultChunkBytes, Timeout: 10 * time.Second}
}

// Validate reports the first bad field.
func (c Config) Validate() error {
	switch {
	case c.Size < 1 || c.Size > 1<<16:
		return fmt.Errorf("allreduce: Config.Size = %d: want 1 … 65536", c.Size)
	case c.Rank < 0 || c.Rank >= c.Size:
		return fmt.Errorf("allreduce: Config.Rank = %d: want 0 … %d", c.Rank, c.Size-1)
	case c.ChunkBytes <= 0 || c.ChunkBytes%4 != 0 || c.ChunkBytes > 1<<30:
		return fmt.Errorf("allreduce: Config.ChunkBytes = %d: want a positive multiple of 4, at most 1 GiB", c.ChunkBytes)
	case c.Timeout <= 0:
		return fmt.Errorf("allreduce: Config.Timeout = %v: want > 0", c.Timeout)
	}
	return nil
}

// Stats are a ring's cumulative counters.
type Stats struct {
	Calls, BytesSent, BytesRecv int64
	Last                        time.Duration // duration of the last call
}

// Ring is one rank's end of a ring all-reduce. It is not safe for
// concurrent use.
type Ring struct {
	cfg    Config
	t      Transport
	log    *zap.Logger
	seq    uint64
	broken error
	out    []byte    // send buffer, header + one chunk
	tmp    []float32 // decoding scratch for unaligned payloads
	stats  Stats
}

// New returns rank cfg.Rank's end of the ring over t. A nil log is a no-op.
func New(cfg Config, t Transport, log *zap.Logger) (*Ring, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if t == nil {
		return nil, errors.New("allreduce: nil Transport")
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Ring{cfg: cfg, t: t, log: log, out: make([]byte, headerSize+cfg.ChunkBytes),
		tmp: make([]float32, cfg.ChunkBytes/4)}, nil
}

// Stats returns the counters.
func (r *Ring) Stats() Stats { return r.stats }

// Mean replaces buf, on every rank, with the elementwise mean over ranks.
func (r *Ring) Mean(ctx context.Context, buf []float32) error {
	if err := r.AllReduce(ctx, buf); err != nil {
		return err
	}
	if r.cfg.Size > 1 {
		inv := 1 / float32(r.cfg.Size)
		for i := range buf {
			buf[i] *= inv
		}
	}
	return nil
}

// segment returns the bounds of segment s of a buffer of n values.
func (r *Ring) segment(s, n int) (lo, hi int) {
	N := r.cfg.Size
	base, rem := n/N, n%N
	lo = s*base + min(s, rem)
	hi = lo + base
	if s < rem {
		hi++
	}
	return lo, hi
}

func mod(a, n int) int { return ((a % n) + n) % n }

// segments sent and received at step k.
func (r *Ring) sendSeg(k int) int {
	N, me := r.cfg.Size, r.cfg.Rank
	if k < N-1 {
		return mod(me-k, N)
	}
	return mod(me+1-(k-(N-1)), N)
}

func (r *Ring) recvSeg(k int) int { return r.sendSeg(k + 1) }

// AllReduce replaces buf, on every rank, with the elementwise sum over the
// ranks; all ranks must pass buffers of the same length. On success every
// rank holds the same bits. On failure it returns an error wrapping
// ErrRingBroken within about Timeout, and buf holds partial sums.
func (r *Ring) AllReduce(ctx context.Context, buf []float32) (err error) {
	if r.broken != nil {
		return fmt.Errorf("%w: rank %d: unusable after an earlier failure (%v)", ErrRingBroken, r.cfg.Rank, r.broken)
	}
	start := time.Now()
	defer func() {
		r.stats.Last = time.Since(start)
		r.stats.Calls++
		if err != nil {
			r.broken = err
			r.log.Warn("all-reduce failed", zap.Error(err))
		}
	}()
	N := r.cfg.Size
	r.seq++
	if N == 1 {
		return nil
	}
	chunk := r.cfg.ChunkBytes / 4
	n := len(buf)
	nChunks := func(seg int) int {
		lo, hi := r.segment(seg, n)
		return (hi - lo + chunk - 1) / chunk
	}
	right := (r.cfg.Rank + 1) % N
	left := mod(r.cfg.Rank-1, N)
	steps := 2 * (N - 1)

	send := func(k, seg, c int) error {
		lo, hi := r.segment(seg, n)
		a := lo + c*chunk
		b := min(hi, a+chunk)
		h := header{Generation: r.cfg.Generation, Seq: r.seq, Total: uint64(n), Step: uint32(k),
			Chunk: uint32(c), From: uint32(r.cfg.Rank), Count: uint32(b - a)}
		msg := r.out[:headerSize+4*(b-a)]
		h.put(msg)
		putFloats(msg[headerSize:], buf[a:b])
		if err := r.t.Send(right, msg); err != nil {
			return fmt.Errorf("%w: rank %d: sending step %d chunk %d to rank %d: %v", ErrRingBroken, r.cfg.Rank, k, c, right, err)
		}
		r.stats.BytesSent += int64(len(msg))
		return nil
	}

	seg0 := r.sendSeg(0)
	for c := range nChunks(seg0) {
		if err := send(0, seg0, c); err != nil {
			return err
		}
	}
	for k := range steps {
		seg := r.recvSeg(k)
		lo, hi := r.segment(seg, n)
		for c := range nChunks(seg) {
			a := lo + c*chunk
			b := min(hi, a+chunk)
			vals, err := r.expect(ctx, k, c, b-a, n, left)
			if err != nil {
				return err
			}
			dst := buf[a:b]
			if k < N-1 {
				for i, v := range vals {
					dst[i] += v
				}
			} else {
				copy(dst, vals)
			}
			if k+1 < steps {
				if err := send(k+1, seg, c); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// expect receives the next chunk, which must be chunk c of step k with
// count values of a buffer of total, from rank left.
func (r *Ring) expect(ctx context.Context, k, c, count, total, left int) ([]float32, error) {
	for {
		rctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
		msg, err := r.t.Recv(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%w: rank %d: waiting for step %d chunk %d from rank %d: %v", ErrRingBroken, r.cfg.Rank, k, c, left, ctx.Err())
			}
			return nil, fmt.Errorf("%w: rank %d: no step %d chunk %d from rank %d within %v: %v", ErrRingBroken, r.cfg.Rank, k, c, left, r.cfg.Timeout, err)
		}
		h, p, err := decodeHeader(msg)
		if err != nil {
			return nil, fmt.Errorf("%w: rank %d: %v", ErrRingBroken, r.cfg.Rank, err)
		}
		if h.Generation != r.cfg.Generation || h.Seq < r.seq {
			continue // stale: another ring generation or an earlier, failed call
		}
		switch {
		case h.Seq > r.seq:
			return nil, fmt.Errorf("%w: rank %d: rank %d is at call %d, this rank at %d (lost messages)", ErrRingBroken, r.cfg.Rank, h.From, h.Seq, r.seq)
		case int(h.From) != left:
			return nil, fmt.Errorf("%w: rank %d: chunk from rank %d, expected rank %d", ErrRingBroken, r.cfg.Rank, h.From, left)
		case h.Total != uint64(total):
			return nil, fmt.Errorf("%w: rank %d: rank %d reduces %d values, this rank %d", ErrRingBroken, r.cfg.Rank, h.From, h.Total, total)
		case int(h.Step) != k || int(h.Chunk) != c:
			return nil, fmt.Errorf("%w: rank %d: expected step %d chunk %d from rank %d, got step %d chunk %d (a chunk was lost)", ErrRingBroken, r.cfg.Rank, k, c, left, h.Step, h.Chunk)
		case int(h.Count) != count:
			return nil, fmt.Errorf("%w: rank %d: step %d chunk %d has %d values, want %d", ErrRingBroken, r.cfg.Rank, k, c, h.Count, count)
		}
		r.stats.BytesRecv += int64(len(msg))
		return floatsOf(p, r.tmp), nil
	}
}
