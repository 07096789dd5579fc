package coordinator

import (
	"context"
	"sync"
)

// leadership follows raft's leadership notifications (raft.LeaderCh) so
// that any number of readers can wait for a change, instead of polling
// IsLeader. One goroutine (watch) owns the updates.
type leadership struct {
	mu      sync.Mutex
	leading bool
	term    uint64
	changed chan struct{} // closed at the next change, then replaced
	stop    chan struct{}
	done    chan struct{}
}

func newLeadership() *leadership {
	return &leadership{changed: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
}

// watch consumes notes (true: this node leads, false: it no longer does)
// until close(stop); termOf reads the current raft term.
func (l *leadership) watch(notes <-chan bool, termOf func() uint64) {
	defer close(l.done)
	for {
		select {
		case <-l.stop:
			l.set(false, 0)
			return
		case v := <-notes:
			var t uint64
			if v {
				t = termOf()
			}
			l.set(v, t)
		}
	}
}

func (l *leadership) set(leading bool, term uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.leading, l.term = leading, term
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *leadership) close() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
}

// current reports whether this node leads, in which term, and a channel
// closed at the next change.
func (l *leadership) current() (leading bool, term uint64, changed <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leading, l.term, l.changed
}

// Leading reports whether this node leads, in which raft term, and a
// channel that is closed when that changes.
func (n *Node) Leading() (leading bool, term uint64, changed <-chan struct{}) {
	return n.lead.current()
}

// WaitLeading blocks until this node leads (or ctx is done) and returns
// the term and a channel closed when the leadership changes.
func (n *Node) WaitLeading(ctx context.Context) (term uint64, changed <-chan struct{}, err error) {
	for {
		leading, term, changed := n.lead.current()
		if leading {
			return term, changed, nil
		}
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case <-changed:
		}
	}
}
