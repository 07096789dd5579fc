package allreduce

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"testing/quick"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/levy-ml/levy/internal/natstest"
)

// inputs returns size buffers of n values whose sums depend on the order
// of addition (values of very different magnitudes).
func inputs(size, n int, seed uint64) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := make([][]float32, size)
	for r := range out {
		out[r] = make([]float32, n)
		for i := range out[r] {
			out[r][i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(8)-4)))
		}
	}
	return out
}

// runRing all-reduces bufs (one per rank) over the transports.
func runRing(t testing.TB, ts []Transport, bufs [][]float32, cfg Config) []error {
	errs := make([]error, len(ts))
	var wg sync.WaitGroup
	for r := range ts {
		c := cfg
		c.Rank, c.Size = r, len(ts)
		ring, err := New(c, ts[r], nil)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[r] = ring.AllReduce(context.Background(), bufs[r])
		}()
	}
	wg.Wait()
	return errs
}

// check compares every rank's result with the float64 sum and with rank
// 0's bits.
func check(t *testing.T, in, out [][]float32) {
	t.Helper()
	n := len(in[0])
	for i := range n {
		var want, mag float64
		for r := range in {
			want += float64(in[r][i])
			mag += math.Abs(float64(in[r][i]))
		}
		tol := 1e-6*mag + 1e-30
		if got := float64(out[0][i]); math.Abs(got-want) > tol {
			t.Fatalf("value %d: got %g, want %g (±%g)", i, got, want, tol)
		}
		for r := 1; r < len(out); r++ {
			if math.Float32bits(out[r][i]) != math.Float32bits(out[0][i]) {
				t.Fatalf("value %d: rank %d has %v, rank 0 %v: ranks disagree", i, r, out[r][i], out[0][i])
			}
		}
	}
}

func clone(in [][]float32) [][]float32 {
	out := make([][]float32, len(in))
	for i := range in {
		out[i] = append([]float32(nil), in[i]...)
	}
	return out
}

func memRing(size int) (*MemNetwork, []Transport) {
	net := NewMemNetwork(size)
	ts := make([]Transport, size)
	for r := range ts {
		ts[r] = net.Transport(r)
	}
	return net, ts
}

func TestAllReduceMatchesNaiveSum(t *testing.T) {
	for _, size := range []int{1, 2, 3, 4, 5, 8} {
		for _, n := range []int{0, 1, size - 1, 7, 1000, 100_003} {
			for _, cb := range []int{8, 4096, DefaultChunkBytes} {
				if n == 100_003 && cb == 8 {
					continue // 50 000 one-value messages per step: slow, and covered by n = 1000
				}
				t.Run(fmt.Sprintf("N=%d/n=%d/chunk=%d", size, n, cb), func(t *testing.T) {
					net, ts := memRing(size)
					defer net.Close()
					in := inputs(size, n, uint64(n*31+size))
					out := clone(in)
					cfg := DefaultConfig()
					cfg.ChunkBytes = cb
					for r, err := range runRing(t, ts, out, cfg) {
						if err != nil {
							t.Fatalf("rank %d: %v", r, err)
						}
					}
					check(t, in, out)
				})
			}
		}
	}
}

func TestRepeatedCallsAndMean(t *testing.T) {
	const size = 3
	net, ts := memRing(size)
	defer net.Close()
	rings := make([]*Ring, size)
	for r := range rings {
		c := DefaultConfig()
		c.Rank, c.Size, c.ChunkBytes = r, size, 64
		rings[r], _ = New(c, ts[r], nil)
	}
	for call := range 5 {
		in := inputs(size, 301, uint64(call))
		out := clone(in)
		var wg sync.WaitGroup
		errs := make([]error, size)
		for r := range rings {
			wg.Add(1)
			go func() { defer wg.Done(); errs[r] = rings[r].Mean(context.Background(), out[r]) }()
		}
		wg.Wait()
		for r, err := range errs {
			if err != nil {
				t.Fatalf("call %d rank %d: %v", call, r, err)
			}
		}
		for r := range in { // Mean = sum/size: compare sums
			for i := range out[r] {
				out[r][i] *= size
			}
		}
		check(t, in, out)
	}
	if s := rings[0].Stats(); s.Calls != 5 || s.BytesSent == 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestQuickAgainstNaiveSum: random sizes, lengths and chunk sizes.
func TestQuickAgainstNaiveSum(t *testing.T) {
	f := func(sizeB, nB uint8, chunkB uint8, seed uint32) bool {
		size := 1 + int(sizeB)%6
		n := int(nB) * 7
		cb := 4 * (1 + int(chunkB)%40)
		net, ts := memRing(size)
		defer net.Close()
		in := inputs(size, n, uint64(seed))
		out := clone(in)
		cfg := DefaultConfig()
		cfg.ChunkBytes = cb
		for _, err := range runRing(t, ts, out, cfg) {
			if err != nil {
				return false
			}
		}
		for i := range n {
			var want float64
			for r := range in {
				want += float64(in[r][i])
			}
			for r := range out {
				if math.Float32bits(out[r][i]) != math.Float32bits(out[0][i]) || math.Abs(float64(out[r][i])-want) > 1e-3*math.Abs(want)+1e-6 {
					return false
				}
			}
		}
		return true
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 60, Rand: nil}); err != nil {
		t.Error(err)
	}
}

// startNATS runs an in-process NATS server (natstest) with levy's max
// payload.
func startNATS(t testing.TB) *server.Server {
	ns, _ := natstest.Start(t, &server.Options{MaxPayload: natstest.MaxPayload})
	return ns
}

// natsRing connects size ranks, worker IDs w0, w1, …, over ns.
func natsRing(t testing.TB, ns *server.Server, size int, prefix string) []Transport {
	ts := make([]Transport, size)
	ids := ringIDs(size)
	for r := range ts {
		nc := natstest.Connect(t, ns.ClientURL())
		tr, err := NewNATS(nc, prefix, r, ids)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		ts[r] = tr
	}
	return ts
}

// ringIDs returns the worker IDs w0 … w(size−1).
func ringIDs(size int) []string {
	ids := make([]string, size)
	for r := range ids {
		ids[r] = fmt.Sprintf("w%d", r)
	}
	return ids
}

func TestAllReduceOverNATS(t *testing.T) {
	ns := startNATS(t)
	for _, size := range []int{2, 3, 4} {
		for _, n := range []int{100_000, 3 << 20 / 4} {
			t.Run(fmt.Sprintf("N=%d/n=%d", size, n), func(t *testing.T) {
				ts := natsRing(t, ns, size, fmt.Sprintf("test.%d.%d", size, n))
				in := inputs(size, n, 5)
				out := clone(in)
				for r, err := range runRing(t, ts, out, DefaultConfig()) {
					if err != nil {
						t.Fatalf("rank %d: %v", r, err)
					}
				}
				check(t, in, out)
			})
		}
	}
}

func TestNATSRefusesOversizedChunks(t *testing.T) {
	ns, _ := natstest.Start(t, nil) // nats-server's default 1 MiB max_payload
	ts := natsRing(t, ns, 2, "big")
	cfg := DefaultConfig()
	cfg.ChunkBytes, cfg.Timeout = 2<<20, time.Second // above the default 1 MiB max_payload
	bufs := inputs(2, 1<<20, 1)
	for _, err := range runRing(t, ts, bufs, cfg) {
		if !errors.Is(err, ErrRingBroken) {
			t.Fatalf("oversized chunk: %v", err)
		}
	}
}

// faultCase runs a 4-rank all-reduce with a fault and checks that every
// rank fails with ErrRingBroken within the deadline or, if the fault is
// harmless, succeeds with the right sum.
func faultCase(t *testing.T, harmless bool, setup func(*MemNetwork)) {
	before := runtime.NumGoroutine()
	const size, n = 4, 40_000
	timeout := 300 * time.Millisecond
	net, ts := memRing(size)
	setup(net)
	in := inputs(size, n, 9)
	out := clone(in)
	cfg := DefaultConfig()
	cfg.ChunkBytes, cfg.Timeout = 4096, timeout
	rings := make([]*Ring, size)
	errs := make([]error, size)
	var wg sync.WaitGroup
	start := time.Now()
	for r := range rings {
		c := cfg
		c.Rank, c.Size = r, size
		rings[r], _ = New(c, ts[r], nil)
		wg.Add(1)
		go func() { defer wg.Done(); errs[r] = rings[r].AllReduce(context.Background(), out[r]) }()
	}
	wg.Wait()
	took := time.Since(start)
	if harmless {
		for r, err := range errs {
			if err != nil {
				t.Fatalf("rank %d: %v", r, err)
			}
		}
		check(t, in, out)
	} else {
		// Every rank fails with ErrRingBroken, or finished before the
		// fault could touch it and then holds the right sum.
		broken := 0
		for r, err := range errs {
			switch {
			case errors.Is(err, ErrRingBroken):
				broken++
			case err == nil:
				check(t, in, [][]float32{out[r]})
			default:
				t.Fatalf("rank %d returned %v, want ErrRingBroken", r, err)
			}
		}
		if broken == 0 {
			t.Fatal("no rank noticed the fault")
		}
		t.Logf("%d of %d ranks failed within %v (deadline %v): %v", broken, size, took.Round(time.Millisecond), timeout, errs[2])
		if took > 4*timeout+time.Second {
			t.Errorf("failing took %v, deadline %v", took, timeout)
		}
		// A broken ring refuses later calls at once.
		t0 := time.Now()
		if err := rings[2].AllReduce(context.Background(), out[2]); !errors.Is(err, ErrRingBroken) || time.Since(t0) > 50*time.Millisecond {
			t.Errorf("call on a broken ring: %v after %v", err, time.Since(t0))
		}
	}
	net.Close()
	for i := 0; runtime.NumGoroutine() > before && i < 100; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Errorf("%d goroutines after the test, %d before", g, before)
	}
}

// nth returns a fault that applies act to the k-th message on the link
// 1 → 2.
func nth(k int, drop bool, delay time.Duration) func(*MemNetwork) {
	return func(net *MemNetwork) {
		var mu sync.Mutex
		count := 0
		net.SetFault(func(from, to int, _ []byte) (bool, time.Duration) {
			if from != 1 || to != 2 {
				return false, 0
			}
			mu.Lock()
			defer mu.Unlock()
			count++
			if count == k {
				return drop, delay
			}
			return false, 0
		})
	}
}

func TestFaultDroppedChunk(t *testing.T) { faultCase(t, false, nth(7, true, 0)) }

func TestFaultDroppedLastChunk(t *testing.T) {
	// The last message on the link: no later chunk reveals the gap, so
	// only the deadline can.
	const size, n, chunk = 4, 40_000, 1024 // values
	per := 2 * (size - 1) * (((n / size) + chunk - 1) / chunk)
	faultCase(t, false, nth(per, true, 0))
}

func TestFaultDelayedChunk(t *testing.T) { faultCase(t, false, nth(3, false, 2*time.Second)) }

func TestFaultShortDelayIsHarmless(t *testing.T) {
	faultCase(t, true, nth(3, false, 50*time.Millisecond))
}

func TestFaultCutLink(t *testing.T) { faultCase(t, false, func(net *MemNetwork) { net.Cut(2, 3) }) }

func TestStaleMessagesAreIgnored(t *testing.T) {
	// Messages of another generation or an earlier call arrive first and
	// must be dropped, not added.
	const size = 2
	net, ts := memRing(size)
	defer net.Close()
	stale := make([]byte, headerSize+4)
	(&header{Generation: 99, Seq: 1, Total: 1, Count: 1, From: 1}).put(stale)
	ts[1].Send(0, stale)
	(&header{Generation: 0, Seq: 0, Total: 1, Count: 1, From: 1}).put(stale)
	ts[1].Send(0, stale)
	in := inputs(size, 10, 3)
	out := clone(in)
	for _, err := range runRing(t, ts, out, DefaultConfig()) {
		if err != nil {
			t.Fatal(err)
		}
	}
	check(t, in, out)
}

func TestLengthMismatchIsAnError(t *testing.T) {
	net, ts := memRing(2)
	defer net.Close()
	cfg := DefaultConfig()
	cfg.Timeout = 500 * time.Millisecond
	bufs := [][]float32{make([]float32, 10), make([]float32, 12)}
	for _, err := range runRing(t, ts, bufs, cfg) {
		if !errors.Is(err, ErrRingBroken) {
			t.Fatalf("mismatched lengths: %v", err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{Size: 0}, {Size: 2, Rank: 2}, {Size: 2, ChunkBytes: 6, Timeout: time.Second}, {Size: 1, ChunkBytes: 4}} {
		if c.Validate() == nil {
			t.Errorf("Validate(%+v) = nil", c)
		}
	}
}

func FuzzDecodeHeader(f *testing.F) {
	good := make([]byte, headerSize+8)
	(&header{Generation: 3, Seq: 9, Total: 100, Step: 2, Chunk: 1, From: 1, Count: 2}).put(good)
	f.Add(good)
	f.Add(good[:headerSize])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, p, err := decodeHeader(b)
		if err != nil {
			return
		}
		again := make([]byte, headerSize+len(p))
		h.put(again)
		copy(again[headerSize:], p)
		h2, p2, err := decodeHeader(again)
		if err != nil || h2 != h || string(p2) != string(p) {
			t.Fatalf("round trip: %v %+v %+v", err, h, h2)
		}
	})
}
