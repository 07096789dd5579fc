package coordinator

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// Partition cuts a node's raft traffic on demand, for tests of a deposed
// leader whose NATS connection and job loop keep running. While cut, the
// node's dials fail, connections it accepts are closed at once, and its
// open connections are closed: to its peers it is a host behind a broken
// link.
type Partition struct {
	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

// Cut severs the node's raft links until Heal.
func (p *Partition) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		_ = c.Close() // cutting is the point; a link closed already is cut
	}
	p.conns = nil
}

// Heal lets the node's raft traffic through again.
func (p *Partition) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

var errPartitioned = errors.New("coordinator: raft link cut (test partition)")

// track records c, or closes it and reports false while cut.
func (p *Partition) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		_ = c.Close() // refusing the link is the point
		return false
	}
	if p.conns == nil {
		p.conns = map[net.Conn]struct{}{}
	}
	p.conns[c] = struct{}{}
	return true
}

// partitionLayer is a plain TCP raft.StreamLayer that a Partition cuts.
type partitionLayer struct {
	ln        net.Listener
	advertise net.Addr
	p         *Partition
}

func newPartitionTransport(bind string, advertise *net.TCPAddr, p *Partition, logger hclog.Logger) (*raft.NetworkTransport, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: &partitionLayer{ln: ln, advertise: advertise, p: p}, MaxPool: 3, Timeout: 5 * time.Second, Logger: logger,
	}), nil
}

func (l *partitionLayer) Accept() (net.Conn, error) {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return nil, err
		}
		if l.p.track(c) {
			return c, nil
		}
	}
}

func (l *partitionLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	l.p.mu.Lock()
	cut := l.p.cut
	l.p.mu.Unlock()
	if cut {
		return nil, errPartitioned
	}
	c, err := net.DialTimeout("tcp", string(addr), timeout)
	if err != nil {
		return nil, err
	}
	if !l.p.track(c) {
		return nil, errPartitioned
	}
	return c, nil
}

func (l *partitionLayer) Close() error   { return l.ln.Close() }
func (l *partitionLayer) Addr() net.Addr { return l.advertise }
