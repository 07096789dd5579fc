package coordinator

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/levy-ml/levy/checkpoint"
	"github.com/levy-ml/levy/internal/wire"
	"github.com/levy-ml/levy/job"
)

// onReport dispatches a member's or a sampler's report. A report counts
// only if its subject's sender token names the worker the message names
// (NATS subject permissions make the token the authenticated user, see
// docs/security.md) and that worker process is a member of the named
// generation in the named rank; anything else is dropped.
func (l *loop) onReport(m *nats.Msg) error {
	sender := wire.SenderOf(m.Subject)
	what := strings.TrimSuffix(strings.TrimPrefix(m.Subject, "levy.job."+l.s.jobID+"."), "."+sender)
	drop := func(err error) {
		l.log.Warn("dropping a report", zap.String("subject", m.Subject), zap.Error(err))
	}
	bySender := func(who string) bool {
		if who != sender {
			drop(fmt.Errorf("the message names %q, the subject %q", who, sender))
			return false
		}
		return true
	}
	switch what {
	case wire.ReportReady:
		var r wire.Ready
		if err := wire.Decode(m.Data, &r); err != nil {
			drop(err)
		} else if bySender(r.Worker) && r.Job == l.s.jobID {
			l.onReady(r)
		}
	case wire.ReportProgress:
		var p wire.Progress
		if err := wire.Decode(m.Data, &p); err != nil {
			drop(err)
		} else if bySender(p.Worker) && p.Job == l.s.jobID {
			l.onProgress(p)
		}
	case wire.ReportCkpt:
		var c wire.Checkpoint
		if err := wire.Decode(m.Data, &c); err != nil {
			drop(err)
		} else if bySender(c.Worker) && c.Job == l.s.jobID {
			l.onCheckpoint(c)
		}
	case wire.ReportDone:
		var d wire.Done
		if err := wire.Decode(m.Data, &d); err != nil {
			drop(err)
		} else if bySender(d.Worker) && d.Job == l.s.jobID {
			return l.onDone(m, d)
		}
	case wire.ReportSamples:
		var r wire.Samples
		if err := wire.Decode(m.Data, &r); err != nil {
			drop(err)
		} else if bySender(r.Sampler) && r.Job == l.s.jobID {
			return l.onSamples(r)
		}
	}
	return nil
}

// onProgress takes rank 0's report.
func (l *loop) onProgress(p wire.Progress) {
	if !l.member(p.Sender, p.Generation, 0) {
		l.log.Warn("dropping progress from outside rank 0 of the ring", zap.String("worker", p.Worker), zap.Uint64("of_generation", p.Generation))
		return
	}
	if p.Total != l.s.spec.Steps {
		l.log.Warn("dropping progress of another length", zap.Int("total", p.Total))
		return
	}
	l.last, l.haveProgress = p, true
	_ = l.apply(Op{Kind: opProgress, Job: l.s.jobID, Step: p.Step, Loss: p.Loss, Rate: p.StepsPerSec}) // best effort (apply logs a refusal): the next report carries it again
	if m := l.s.cfg.Metrics; m != nil {
		m.Step.Set(float64(p.Step))
		m.Loss.Set(p.Loss)
		m.StepsPerSec.Set(p.StepsPerSec)
		m.AllReduceMS.Set(p.AllReduceMS)
	}
}

// onCheckpoint adopts rank 0's checkpoint once it verifies, inside the
// run's checkpoints directory, for this job's spec.
func (l *loop) onCheckpoint(c wire.Checkpoint) {
	if !l.member(c.Sender, c.Generation, 0) {
		l.log.Warn("dropping a checkpoint announcement from outside rank 0 of the ring", zap.String("worker", c.Worker), zap.Uint64("of_generation", c.Generation))
		return
	}
	dir, err := l.checkpointDir(c.RunDir, c.Dir, c.Step)
	if err != nil {
		l.warn(fmt.Sprintf("refusing the checkpoint announced by %s: %v", c.Worker, err))
		return
	}
	if l.apply(Op{Kind: opCheckpoint, Job: l.s.jobID, Step: c.Step, Dir: c.Dir}) != nil {
		return
	}
	if m := l.s.cfg.Metrics; m != nil {
		m.Checkpoint.Set(float64(c.Step))
	}
	l.event(fmt.Sprintf("checkpoint: step %d → %s", c.Step, dir), zap.Int("step", c.Step))
	if c.Last {
		l.finalCkpt = c.Step
	}
	// publish logs a failure; a sampler then misses this checkpoint (and
	// WaitSamples gives up after SamplesTimeout).
	_ = l.publish(wire.CheckpointsSubject(l.s.jobID), &wire.Checkpoint{Job: l.s.jobID, Generation: c.Generation, Step: c.Step,
		Dir: c.Dir, RunDir: l.s.relRun, Last: c.Last})
}

// checkpointDir checks an announced checkpoint: in this run, under its
// checkpoints directory, verified (every file's size and SHA-256), of
// this job's spec and of the announced step. It returns the directory.
func (l *loop) checkpointDir(runDir, rel string, step int) (string, error) {
	if runDir != l.s.relRun {
		return "", fmt.Errorf("run directory %q, this job's is %q", runDir, l.s.relRun)
	}
	if wire.CheckRel("dir", rel) != nil || !strings.HasPrefix(filepath.ToSlash(rel), "checkpoints/") {
		return "", fmt.Errorf("directory %q is not under checkpoints/", rel)
	}
	dir := filepath.Join(l.s.runDir, rel)
	c, err := checkpoint.Load(dir)
	if err != nil {
		return "", err
	}
	if int(c.Manifest.Step) != step {
		return "", fmt.Errorf("%s holds step %d, not %d", dir, c.Manifest.Step, step)
	}
	if !l.sameSpec(c) {
		return "", fmt.Errorf("%s holds a checkpoint of another job spec", dir)
	}
	return dir, nil
}

func (l *loop) sameSpec(c *checkpoint.Checkpoint) bool {
	spec, err := job.FromJSON(c.Manifest.Job)
	return err == nil && string(spec.JSON()) == string(l.s.spec.JSON())
}

// onDone takes a rank's report that it left the job.
func (l *loop) onDone(m *nats.Msg, d wire.Done) error {
	j := &l.j
	ack := func() {
		if m.Reply != "" {
			_ = m.Respond([]byte("ok")) // the rank can stop re-sending (if this is lost, it sends again)
		}
	}
	if d.Generation < j.Generation || (d.Generation == j.Generation && j.Phase != phaseRunning) {
		// A late report of an older ring, or of one that has ended or is
		// re-forming: the rank may stop sending it, and nothing changes.
		ack()
		return nil
	}
	if !l.member(d.Sender, d.Generation, d.Rank) {
		l.log.Warn("dropping a done report from outside the ring", zap.String("worker", d.Worker),
			zap.Uint64("of_generation", d.Generation), zap.Int("rank", d.Rank))
		return nil
	}
	switch {
	case d.Regroup:
		// Every rank left at the same step; rank 0 saved the checkpoint
		// of that step (durable before its Done).
		if d.Rank == 0 {
			if err := l.regroup(d.Step, l.ringSize(len(j.Members)+len(j.Pending))); err != nil {
				return err
			}
			l.windowOver = false
			l.regroupAt = time.After(l.s.cfg.RejoinWindow)
		} else if j.Phase == phaseRunning && m.Reply != "" {
			// Hold the answer until rank 0's report has re-formed the
			// ring: the rank joins again once answered, and must find the
			// next generation collecting workers.
			l.held = append(l.held, m)
			return nil
		}
	case d.Error != "":
		l.fail(d.Rank, d.Step, d.Error, d.Retry)
	default:
		if l.apply(Op{Kind: opRankDone, Job: l.s.jobID, Rank: d.Rank, Step: d.Step}) != nil {
			return nil // not recorded: no ack, the rank sends it again
		}
	}
	ack()
	return nil
}

// onSamples takes a sampler's report.
func (l *loop) onSamples(r wire.Samples) error {
	if r.Error != "" {
		l.warn(fmt.Sprintf("sampler %s on step %d: %s", r.Sampler, r.Step, r.Error))
		if r.Step == l.finalCkpt {
			return fmt.Errorf("coordinator: the sampler failed on the final checkpoint: %s", r.Error)
		}
		return nil
	}
	l.s.printf("samples of step %d: %s\n", r.Step, formatMetrics(r.Metrics))
	if r.Step == l.finalCkpt || (l.finalCkpt < 0 && r.Step == l.s.spec.Steps) {
		l.metrics = r.Metrics
	}
	return nil
}
