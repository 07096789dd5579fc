package worker

import (
	"fmt"

	"github.com/levy-ml/levy/checkpoint"
	"github.com/levy-ml/levy/engine"
)

// saveCheckpoint is checkpoint.Save; tests slow it down to stand for slow
// storage.
var saveCheckpoint = checkpoint.Save

// ckptWriter writes rank 0's checkpoints off the training path, one at a
// time. The session copies its state into the writer's buffers and starts
// the write in a goroutine that the writer owns; the session goes on
// training meanwhile. A new write first waits for the one in flight (so
// the buffers are free again and the checkpoints land in step order),
// and the session waits for the last one before it leaves the job, so
// that its checkpoint is durable, and announced, before the rank reports
// Done.
//
// Only the session's goroutine calls the methods.
type ckptWriter struct {
	done chan struct{} // closed when the write in flight ends; nil if none
	err  error         // that write's error: set before done is closed

	// state is the copy of the engine's state being written, reused from
	// one checkpoint to the next.
	state engine.State
}

// start runs write in the background. The previous write must have been
// waited for.
func (c *ckptWriter) start(write func() error) {
	if c.done != nil {
		panic("worker: a checkpoint write started while another is in flight")
	}
	done := make(chan struct{})
	c.done, c.err = done, nil
	go func() {
		defer close(done)
		c.err = write()
	}()
}

// wait waits for the write in flight, if any, and returns its error.
func (c *ckptWriter) wait() error {
	if c.done == nil {
		return nil
	}
	<-c.done
	c.done = nil
	return c.err
}

// poll returns the error of a write that has ended, without waiting for
// one still in flight.
func (c *ckptWriter) poll() error {
	if c.done == nil {
		return nil
	}
	select {
	case <-c.done:
		c.done = nil
		return c.err
	default:
		return nil
	}
}

// endWrites is the session's last word on its checkpoints: it waits for
// the write in flight and folds its error into err, the loop's. A failed
// write wins (its checkpoint is not durable, so neither a clean end nor a
// regroup stands).
func (s *session) endWrites(err error) error {
	werr := s.ckpt.wait()
	switch {
	case werr == nil:
		return err
	case err == nil || err == errRegroup:
		return werr
	}
	return fmt.Errorf("%w (the loop had ended on: %v)", werr, err)
}
