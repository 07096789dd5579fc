package allreduce

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// MemNetwork connects the ranks of a ring in memory, with fault injection
// for tests: each link (from, to) is a FIFO that can drop, delay (a
// delayed message holds back the ones behind it, as on a real link) or be
// cut.
type MemNetwork struct {
	size   int
	mu     sync.Mutex
	fault  func(from, to int, msg []byte) (drop bool, delay time.Duration)
	cut    map[[2]int]bool
	links  map[[2]int]*memLink
	inbox  []*memInbox
	wg     sync.WaitGroup
	closed bool
}

// NewMemNetwork returns a network of size ranks.
func NewMemNetwork(size int) *MemNetwork {
	n := &MemNetwork{size: size, cut: map[[2]int]bool{}, links: map[[2]int]*memLink{}}
	for range size {
		n.inbox = append(n.inbox, &memInbox{ready: make(chan struct{}, 1)})
	}
	return n
}

// SetFault installs f, consulted for every message sent from now on.
func (n *MemNetwork) SetFault(f func(from, to int, msg []byte) (drop bool, delay time.Duration)) {
	n.mu.Lock()
	n.fault = f
	n.mu.Unlock()
}

// Cut loses every later message on the link from → to.
func (n *MemNetwork) Cut(from, to int) {
	n.mu.Lock()
	n.cut[[2]int{from, to}] = true
	n.mu.Unlock()
}

// Heal restores the link from → to.
func (n *MemNetwork) Heal(from, to int) {
	n.mu.Lock()
	delete(n.cut, [2]int{from, to})
	n.mu.Unlock()
}

// Close stops the links' goroutines; messages in flight are lost.
func (n *MemNetwork) Close() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	for _, l := range n.links {
		close(l.stop)
	}
	n.mu.Unlock()
	n.wg.Wait()
}

// Transport returns rank's end of the network.
func (n *MemNetwork) Transport(rank int) Transport {
	if rank < 0 || rank >= n.size {
		panic(fmt.Sprintf("allreduce: MemNetwork.Transport(%d) of %d ranks", rank, n.size))
	}
	return &memTransport{n: n, rank: rank}
}

type memItem struct {
	msg []byte
	at  time.Time
}

// memLink delivers one link's messages in order, each not before its time.
type memLink struct {
	mu    sync.Mutex
	queue []memItem
	wake  chan struct{}
	stop  chan struct{}
}

func (n *MemNetwork) link(from, to int) (*memLink, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, errors.New("allreduce: MemNetwork closed")
	}
	k := [2]int{from, to}
	l := n.links[k]
	if l == nil {
		l = &memLink{wake: make(chan struct{}, 1), stop: make(chan struct{})}
		n.links[k] = l
		n.wg.Add(1)
		go n.deliver(l, n.inbox[to])
	}
	return l, nil
}

func (n *MemNetwork) deliver(l *memLink, dst *memInbox) {
	defer n.wg.Done()
	for {
		l.mu.Lock()
		if len(l.queue) == 0 {
			l.mu.Unlock()
			select {
			case <-l.wake:
				continue
			case <-l.stop:
				return
			}
		}
		it := l.queue[0]
		l.queue = l.queue[1:]
		l.mu.Unlock()
		if d := time.Until(it.at); d > 0 {
			tm := time.NewTimer(d)
			select {
			case <-tm.C:
			case <-l.stop:
				tm.Stop()
				return
			}
		}
		dst.put(it.msg)
	}
}

// memInbox is an unbounded queue (a NATS subscription with no pending
// limits).
type memInbox struct {
	mu    sync.Mutex
	q     [][]byte
	ready chan struct{}
}

func (b *memInbox) put(m []byte) {
	b.mu.Lock()
	b.q = append(b.q, m)
	b.mu.Unlock()
	select {
	case b.ready <- struct{}{}:
	default:
	}
}

func (b *memInbox) get(ctx context.Context) ([]byte, error) {
	for {
		b.mu.Lock()
		if len(b.q) > 0 {
			m := b.q[0]
			b.q = b.q[1:]
			b.mu.Unlock()
			return m, nil
		}
		b.mu.Unlock()
		select {
		case <-b.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

type memTransport struct {
	n    *MemNetwork
	rank int
}

func (t *memTransport) Send(to int, msg []byte) error {
	n := t.n
	if to < 0 || to >= n.size {
		return fmt.Errorf("allreduce: send to rank %d of %d", to, n.size)
	}
	n.mu.Lock()
	f, cut := n.fault, n.cut[[2]int{t.rank, to}]
	n.mu.Unlock()
	if cut {
		return nil // lost on the wire, as on a cut link
	}
	var delay time.Duration
	if f != nil {
		var drop bool
		if drop, delay = f(t.rank, to, msg); drop {
			return nil
		}
	}
	l, err := n.link(t.rank, to)
	if err != nil {
		return err
	}
	cp := append([]byte(nil), msg...)
	l.mu.Lock()
	l.queue = append(l.queue, memItem{msg: cp, at: time.Now().Add(delay)})
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return nil
}

func (t *memTransport) Recv(ctx context.Context) ([]byte, error) { return t.n.inbox[t.rank].get(ctx) }

func (t *memTransport) Close() error { return nil }
