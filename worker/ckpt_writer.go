package worker

import (
	"fmt"

	"github.com/levy-ml/levy/checkpoint"
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

	// Copies of the parameters, the EMA and the optimiser state, reused
	// from one checkpoint to the next.
	params, ema, optim []float32
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

// copyTensors copies ts into *buf (grown as needed) and returns tensors
// of the same names and shapes over the copy.
func copyTensors(buf *[]float32, ts []Tensor) []Tensor {
	n := 0
	for _, t := range ts {
		n += len(t.Data)
	}
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	flat := (*buf)[:n]
	out := make([]Tensor, len(ts))
	lo := 0
	for i, t := range ts {
		copy(flat[lo:], t.Data)
		out[i] = Tensor{Name: t.Name, Shape: t.Shape, Data: flat[lo : lo+len(t.Data) : lo+len(t.Data)]}
		lo += len(t.Data)
	}
	return out
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
