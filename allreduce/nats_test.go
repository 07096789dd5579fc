package allreduce

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// forgedChunk returns a well-formed chunk that rank 1 of a 3-rank ring
// expects first from its left peer, rank 0 (step 0, chunk 0), claiming to
// come from rank from, but full of garbage: if rank 1 takes it, the sum
// is wrong (and the real chunk, arriving next, breaks the ring).
func forgedChunk(gen uint64, n, size int, from uint32) []byte {
	r := &Ring{cfg: Config{Rank: 1, Size: size}}
	lo, hi := r.segment(r.recvSeg(0), n)
	count := min(hi-lo, DefaultChunkBytes/4)
	msg := make([]byte, headerSize+4*count)
	h := header{Generation: gen, Seq: 1, Total: uint64(n), Step: 0, Chunk: 0, From: from, Count: uint32(count)}
	h.put(msg)
	vals := make([]float32, count)
	for i := range vals {
		vals[i] = 1e6
	}
	putFloats(msg[headerSize:], vals)
	return msg
}

// TestNATSDropsForgedChunks: a third connection publishes chunks on rank
// 1's ring subjects before the ring starts, each exactly what rank 1
// expects first but for the sender. Rank 1 drops them all, counts them,
// logs once, and every rank's all-reduce is exact.
//
// Before ring subjects named their sender, a chunk published on rank 1's
// only subject (prefix.1) was taken: rank 1 added the garbage, then failed
// on the real chunk ("expected step 1 chunk 0 from rank 0, got step 0
// chunk 0") and the other ranks timed out.
func TestNATSDropsForgedChunks(t *testing.T) {
	ns := startNATS(t)
	const size, n = 3, 10_000
	prefix := "forge"
	ts := natsRing(t, ns, size, prefix)
	rank1 := ts[1].(*NATS)
	core, logs := observer.New(zapcore.WarnLevel)
	rank1.log = zap.New(core)

	forged := []struct {
		name, sender string
		from         uint32
	}{
		{"sender not the left peer", "w2", 0},
		{"sender not in the ring", "mallory", 0},
		{"header source not the sender", "w0", 2},
		{"header source out of the ring", "w0", 7},
		{"own ID", "w1", 0},
	}
	mallory, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer mallory.Close()
	for _, f := range forged {
		if err := mallory.Publish(prefix+".1."+f.sender, forgedChunk(0, n, size, f.from)); err != nil {
			t.Fatal(err)
		}
	}
	// Nor does rank 1 hear what is sent to rank 0's or the old subject.
	for _, subj := range []string{prefix + ".1", prefix + ".0.w2", prefix + ".1.w0.x"} {
		if err := mallory.Publish(subj, forgedChunk(0, n, size, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := mallory.Flush(); err != nil {
		t.Fatal(err)
	}
	waitPending(t, rank1, len(forged))

	in := inputs(size, n, 3)
	out := clone(in)
	cfg := DefaultConfig()
	cfg.Timeout = 5 * time.Second
	failed := false
	for r, err := range runRing(t, ts, out, cfg) {
		if err != nil {
			t.Errorf("rank %d: %v", r, err)
			failed = true
		}
	}
	if !failed {
		check(t, in, out)
	}
	if got := rank1.Dropped(); got != int64(len(forged)) {
		t.Errorf("rank 1 dropped %d chunks, want %d", got, len(forged))
	}
	if got := ts[0].(*NATS).Dropped(); got != 1 {
		t.Errorf("rank 0 dropped %d chunks, want 1 (w2's subject, rank 0 in the header)", got)
	}
	if got := logs.Len(); got != 1 {
		t.Errorf("%d log lines for %d drops within a second, want 1", got, len(forged))
	}
}

// TestNATSSubjectsNameTheSender: rank r sends to prefix.<to>.<its ID>.
func TestNATSSubjectsNameTheSender(t *testing.T) {
	ns := startNATS(t)
	ts := natsRing(t, ns, 3, "names")
	spy, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer spy.Close()
	sub, err := spy.SubscribeSync("names.>")
	if err != nil {
		t.Fatal(err)
	}
	spy.Flush()
	if err := ts[1].Send(2, []byte("x")); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "names.2.w1" || !bytes.Equal(m.Data, []byte("x")) {
		t.Errorf("rank 1 → rank 2 went to %s, want names.2.w1", m.Subject)
	}
}

func TestNewNATSRefusesBadRings(t *testing.T) {
	ns := startNATS(t)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, c := range []struct {
		rank int
		ring []string
		want string
	}{
		{0, nil, "rank 0 of a ring of 0"},
		{2, []string{"a", "b"}, "rank 2"},
		{0, []string{"a", "a"}, "twice"},
		{0, []string{"a", "b.c"}, "subject token"},
		{0, []string{"a", "*"}, "subject token"},
		{0, []string{"a", ""}, "subject token"},
	} {
		if _, err := NewNATS(nc, "p", c.rank, c.ring); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewNATS(rank %d, %q) = %v, want an error with %q", c.rank, c.ring, err, c.want)
		}
	}
	if _, err := NewNATS(nc, "p", 0, []string{"a"}, WithLogger(nil)); err == nil {
		t.Error("WithLogger(nil) accepted")
	}
}

// waitPending waits until tr's subscription holds want messages.
func waitPending(t *testing.T, tr *NATS, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, _, err := tr.sub.Pending()
		if err != nil {
			t.Fatal(err)
		}
		if n >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages pending at the forged rank, want %d", n, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
