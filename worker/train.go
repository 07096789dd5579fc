package worker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/levy-ml/levy/allreduce"
	"github.com/levy-ml/levy/checkpoint"
	"github.com/levy-ml/levy/engine"
	"github.com/levy-ml/levy/internal/wire"
	"github.com/levy-ml/levy/job"
	"github.com/levy-ml/levy/losses"
	"github.com/levy-ml/levy/noise"
)

// Checkpoint file names (package engine's).
const (
	ModelFile = engine.ModelFile
	EMAFile   = engine.EMAFile
	OptimFile = engine.OptimFile
)

// CheckpointDir is where a run keeps its checkpoints.
func CheckpointDir(runDir string) string { return filepath.Join(runDir, "checkpoints") }

// RNGScheme documents how every draw of training derives from the seed.
const RNGScheme = "pcg(splitmix(seed, tag, ...)): init (seed,1); data (seed,2); order (seed,4,epoch); example j of step s (seed,3,s,j)"

// maxSkipped is how many consecutive steps with a non-finite gradient fail
// the job.
const maxSkipped = 10

// control words appended to the all-reduced gradient buffer.
const (
	ctlLoss = iota
	ctlCheckpoint
	ctlStop
	ctlNonFinite
	ctlRegroup
	nCtl
)

// session is one worker's part in one job.
type session struct {
	w      *Worker
	a      wire.Assign
	runDir string // RunsRoot/a.RunDir
	spec   job.Spec
	log    *zap.Logger
	src    source
	nz     *losses.Noiser
	eng    engine.Engine
	lay    engine.Layout
	// buckets are the engine's gradient buckets; the last ends with the
	// nCtl control words.
	buckets [][]float32
	ring    *allreduce.Ring

	ckptReq, stopReq, regroupReq atomic.Bool
	skipped                      int // steps skipped in all

	ckpt ckptWriter // rank 0's checkpoint writes
}

func (w *Worker) runJob(ctx context.Context, a wire.Assign) (err error) {
	outer := ctx // the worker's own context (ctx becomes the session's)
	s := &session{w: w, a: a, runDir: filepath.Join(w.cfg.RunsRoot, a.RunDir),
		log: w.log.With(zap.String("job", a.Job), zap.Uint64("generation", a.Generation), zap.Int("rank", a.Rank))}
	if m := w.cfg.Metrics; m != nil {
		m.Generation.Set(float64(a.Generation))
		m.Rank.Set(float64(a.Rank))
		m.World.Set(float64(a.World))
	}
	step := 0
	w.where.Store(&wire.Heartbeat{Job: a.Job, Generation: a.Generation, Rank: a.Rank})
	defer w.where.Store(nil)
	defer func() {
		if errors.Is(err, errEnded) {
			return // the coordinator has closed the job: nobody waits for a report
		}
		msg := &wire.Done{Sender: w.sender(), Job: a.Job, Generation: a.Generation, Rank: a.Rank, Step: step}
		switch {
		case errors.Is(err, errRegroup):
			msg.Regroup = true
		case err != nil:
			msg.Error = err.Error()
			msg.Retry = retryable(err)
		}
		w.reportDone(outer, msg)
	}()
	if s.spec, err = job.FromJSON(a.Spec); err != nil {
		return err
	}
	if err = s.spec.CheckWorkers(a.World); err != nil {
		return err
	}
	if err = s.setup(); err != nil {
		return err
	}
	defer s.eng.Close()
	defer s.src.Close()
	if a.Resume != "" {
		dir := filepath.Join(s.runDir, a.Resume)
		if step, err = s.restore(dir); err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				// The files could not be read (a mount that went away, NFS
				// trouble), which is not a bad checkpoint: another ring may
				// read them. A checkpoint whose bytes are wrong (size,
				// SHA-256) would only fail again. Bounded by the
				// coordinator's --max-restarts.
				err = fmt.Errorf("%w: %w", errRetryable, err)
			}
			return err
		}
		s.log.Info("resumed", zap.String("checkpoint", dir), zap.Int("step", step))
	}
	tr, err := allreduce.NewNATS(w.cfg.NATS, wire.RingPrefix(a.Job, a.Generation), a.Rank, a.Ring, allreduce.WithLogger(s.log))
	if err != nil {
		return err
	}
	defer tr.Close()
	rc := allreduce.DefaultConfig()
	rc.Rank, rc.Size, rc.Generation, rc.Timeout = a.Rank, a.World, a.Generation, w.cfg.RingTimeout
	if s.ring, err = allreduce.New(rc, tr, s.log); err != nil {
		return err
	}
	// The coordinator can abort this ring (a member died): that cancels
	// the session, including an all-reduce waiting for the dead peer.
	ctx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	start := make(chan struct{})
	var startOnce sync.Once
	ctl, err := w.cfg.NATS.Subscribe(wire.ControlSubject(a.Job), func(m *nats.Msg) {
		var c wire.Command
		if err := wire.Decode(m.Data, &c); err != nil || c.Job != a.Job {
			return
		}
		if w.fenced(c.Term) {
			s.log.Warn("ignoring a command from a deposed leader", zap.String("kind", c.Kind), zap.Uint64("term", c.Term),
				zap.Uint64("newest_term", w.maxTerm.Load()), zap.String("coordinator", c.Coordinator))
			return
		}
		switch c.Kind {
		case wire.CmdStart:
			if c.Generation == a.Generation {
				startOnce.Do(func() { close(start) })
			}
		case wire.CmdAbort:
			if c.Generation == a.Generation {
				abort(errAborted)
			}
		case wire.CmdEnd:
			abort(errEnded)
		case wire.CmdCheckpoint:
			s.ckptReq.Store(true)
		case wire.CmdStop:
			s.stopReq.Store(true)
		case wire.CmdRegroup:
			if c.Generation == a.Generation {
				s.regroupReq.Store(true)
			}
		}
	})
	if err != nil {
		return err
	}
	defer ctl.Unsubscribe()
	// Once the ring's and the control subscriptions are on the server, say
	// so, and wait until every rank has: a chunk sent earlier could reach
	// a peer that does not listen yet, and be lost. Ready is repeated
	// until the start comes (either may be lost).
	if err := w.cfg.NATS.Flush(); err != nil {
		return err
	}
	ready := &wire.Ready{Sender: w.sender(), Job: a.Job, Rank: a.Rank, Generation: a.Generation}
	readySubj := wire.MemberSubject(a.Job, wire.ReportReady, w.cfg.ID)
	w.publish(readySubj, ready)
	again := time.NewTicker(readyEvery)
	defer again.Stop()
	timeout := time.After(w.cfg.StartTimeout)
wait:
	for {
		select {
		case <-start:
			break wait
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-again.C:
			w.publish(readySubj, ready)
		case <-timeout:
			return fmt.Errorf("%w: no start from the coordinator within %v of joining ring generation %d", errRetryable, w.cfg.StartTimeout, a.Generation)
		}
	}
	again.Stop()
	err = s.loop(ctx, &step)
	if err != nil {
		switch context.Cause(ctx) {
		case errAborted:
			err = fmt.Errorf("%w at step %d (%v)", errAborted, step, err)
		case errEnded:
			err = fmt.Errorf("%w at step %d", errEnded, step)
		}
	}
	return err
}

// readyEvery is how often a rank repeats its Ready until the start.
const readyEvery = time.Second

func (w *Worker) sender() wire.Sender { return wire.Sender{Worker: w.cfg.ID, Incarnation: w.inc} }

// errRetryable marks a failure a new ring may not meet (no start came,
// storage trouble).
var errRetryable = errors.New("worker: retryable")

// errEnded: the coordinator ended the job (it finished, stopped or failed
// without this rank).
var errEnded = errors.New("worker: the coordinator ended the job")

// errAborted: the coordinator aborted the ring (a member died).
var errAborted = errors.New("worker: ring aborted by the coordinator")

// errRegroup: the ring checkpointed and ended so that the next generation
// can take in new workers; not a failure.
var errRegroup = errors.New("worker: the ring regroups to take in new workers")

func (s *session) setup() error {
	var err error
	if s.src, err = openSource(s.spec); err != nil {
		return err
	}
	if s.nz, err = losses.NewNoiser(engine.NoiseConfig(s.spec)); err != nil {
		return err
	}
	if s.eng, err = engine.New(engine.Config{Spec: s.spec, Device: s.w.cfg.GPU, Reserve: nCtl}); err != nil {
		return err
	}
	if s.w.cfg.wrapEngine != nil {
		s.eng = s.w.cfg.wrapEngine(s.a.Rank, s.eng)
	}
	s.lay, s.buckets = s.eng.Layout(), s.eng.Buckets()
	return nil
}

// restore loads a checkpoint's weights, EMA and optimiser state and
// returns its step.
func (s *session) restore(dir string) (int, error) {
	c, err := checkpoint.Load(dir)
	if err != nil {
		return 0, err
	}
	spec, err := job.FromJSON(c.Manifest.Job)
	if err != nil {
		return 0, fmt.Errorf("worker: %s: %w", dir, err)
	}
	if string(spec.JSON()) != string(s.spec.JSON()) {
		return 0, fmt.Errorf("worker: %s holds a checkpoint of another job spec", dir)
	}
	st, err := engine.ReadState(s.lay, c)
	if err != nil {
		return 0, err
	}
	if err := s.eng.Restore(st); err != nil {
		return 0, fmt.Errorf("worker: %s: %w", dir, err)
	}
	if n, err := strconv.Atoi(c.Manifest.Extra["skipped"]); err == nil {
		s.skipped = n
	}
	return int(c.Manifest.Step), nil
}

func (s *session) loop(ctx context.Context, stepp *int) (err error) {
	// However the loop ends, the checkpoint being written is durable (and
	// announced), or its error returned, before the rank reports Done.
	defer func() { err = s.endWrites(err) }()
	spec, a := s.spec, s.a
	d := s.src.Dim()
	B := spec.GlobalBatch
	// This rank's shard: b points from position lo of the step's batch.
	lo, b := shard(B, a.World, a.Rank)
	weight := float32(shardWeight(B, a.World, b))
	dataN := s.src.Len()
	perEpoch := spec.StepsPerEpochOf(dataN)
	var aug *rand.Rand
	if spec.IsImage() {
		aug = rand.New(rand.NewPCG(0, 0))
	}
	end := spec.Steps
	if a.StopAt > 0 && a.StopAt < end {
		end = a.StopAt
	}
	x0 := make([]float32, b*d)
	xt := make([]float32, b*d)
	tgt := make([]float32, b*d)
	tau := make([]float32, b)
	pcg := rand.NewPCG(0, 0)
	rng := rand.New(pcg)
	var perm []int
	permEpoch := -1

	var (
		lastReport                  = time.Now()
		lossSum, arSum              float64
		sinceN, sinceStep           = 0, *stepp
		consecutive                 int
		isRank0                     = a.Rank == 0
		ctlC, ctlS, ctlR, nonFinite float32
	)
	for *stepp < end {
		step := *stepp
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.ckpt.poll(); err != nil {
			return err // a checkpoint write failed
		}
		stepStart := time.Now()
		epoch, pos := step/perEpoch, step%perEpoch
		if epoch != permEpoch {
			perm = noise.Stream(spec.Seed, noise.TagShuf, uint64(epoch)).Perm(dataN)
			permEpoch = epoch
		}
		first := pos*B + lo
		for i, idx := range perm[first : first+b] {
			if aug != nil {
				aug = noise.Stream(spec.Seed, noise.TagAug, uint64(step), uint64(lo+i))
			}
			if err := s.src.Example(idx, x0[d*i:d*i+d], aug); err != nil {
				return fmt.Errorf("worker: step %d: %w", step, err)
			}
			noise.Reseed(pcg, spec.Seed, noise.TagTrain, uint64(step), uint64(lo+i))
			s.nz.Prepare(rng, x0[d*i:d*i+d], d, xt[d*i:d*i+d], tau[i:i+1], tgt[d*i:d*i+d])
		}
		ctl, bad, arSec, err := s.exchange(ctx, engine.Step{Index: int64(step), Rank: a.Rank},
			engine.Batch{X: xt, Tau: tau, Target: tgt}, weight)
		if err != nil {
			return fmt.Errorf("worker: step %d: %w", step, err)
		}
		arSum += arSec
		if m := s.w.cfg.Metrics; m != nil && arSec > 0 {
			m.AllReduceSeconds.Observe(arSec)
			n := float64(a.World)
			m.BusBandwidth.Set(2 * (n - 1) / n * float64(4*(s.lay.Size+nCtl)) / arSec)
		}
		ctlC, ctlS, ctlR, nonFinite = ctl[ctlCheckpoint], ctl[ctlStop], ctl[ctlRegroup], ctl[ctlNonFinite]
		if nonFinite > 0 {
			s.eng.ZeroGrad()
			s.skipped++
			consecutive++
			if m := s.w.cfg.Metrics; m != nil {
				m.Skipped.Inc()
			}
			s.log.Warn("skipping a step: non-finite gradient on some rank", zap.Int("step", step), zap.Bool("here", bad > 0))
			if consecutive >= maxSkipped {
				return fmt.Errorf("worker: %d consecutive steps (up to step %d) with a non-finite loss or gradient: lower lr or check the data", consecutive, step)
			}
		} else {
			consecutive = 0
			if err := s.eng.Apply(); err != nil { // the optimiser step and the EMA
				return fmt.Errorf("worker: step %d: %w", step, err)
			}
			lossSum += float64(ctl[ctlLoss])
			sinceN++
		}
		*stepp = step + 1
		done := *stepp
		if m := s.w.cfg.Metrics; m != nil {
			m.Step.Set(float64(done))
			if nonFinite == 0 {
				m.Loss.Set(float64(ctl[ctlLoss]))
			}
			m.StepSeconds.Observe(time.Since(stepStart).Seconds())
		}
		// Every rank sees the same words after the all-reduce, so all
		// leave at the same step.
		stop := ctlS > 0
		regroup := ctlR > 0 && !stop && done < end
		if isRank0 && (done%spec.CkptEvery == 0 || done == end || ctlC > 0 || stop || regroup) {
			if err := s.save(done, done == spec.Steps); err != nil {
				return err
			}
		}
		if isRank0 && (time.Since(lastReport) >= time.Second || done == end || stop || regroup) {
			now := time.Now()
			n := done - sinceStep
			p := &wire.Progress{Sender: s.w.sender(), Job: a.Job, Generation: a.Generation, Step: done, Total: spec.Steps, Skipped: s.skipped,
				StepsPerSec: float64(n) / now.Sub(lastReport).Seconds()}
			if sinceN > 0 {
				p.Loss = lossSum / float64(sinceN)
			}
			if n > 0 {
				p.AllReduceMS = 1e3 * arSum / float64(n)
			}
			if math.IsNaN(p.Loss) || math.IsInf(p.Loss, 0) {
				p.Loss = -1
			}
			s.w.publish(wire.MemberSubject(a.Job, wire.ReportProgress, s.w.cfg.ID), p)
			s.w.where.Store(&wire.Heartbeat{Job: a.Job, Generation: a.Generation, Rank: a.Rank, Step: done})
			lastReport, sinceStep, lossSum, arSum, sinceN = now, done, 0, 0, 0
		}
		if stop {
			s.log.Info("stopped on request", zap.Int("step", done))
			return nil
		}
		if regroup {
			s.log.Info("leaving the ring to regroup", zap.Int("step", done))
			return errRegroup
		}
	}
	return nil
}

// exchange runs the engine's backward pass on this rank's batch and
// averages the gradient over the ring, bucket by bucket, weighing each
// by weight first (an uneven shard; 0: none). Every bucket but the last
// is averaged as soon as the engine has it, while the backward pass
// goes on; the last goes after it, with the control words (the loss,
// whether this rank's gradient was not finite, and the requests), which
// it returns, averaged, with bad (1: this rank's gradient was not
// finite, and it sent zeros) and the seconds spent in the ring. Every
// rank makes the same ring calls whatever its gradient.
func (s *session) exchange(ctx context.Context, step engine.Step, b engine.Batch, weight float32) (ctl []float32, bad float32, arSec float64, err error) {
	last := len(s.buckets) - 1
	var ringErr error
	reduced := 0
	reduce := func(i int) {
		if ringErr != nil {
			return
		}
		buf := s.buckets[i]
		if weight != 0 {
			// An uneven shard: weigh its mean by its share of the batch,
			// so that the ring's average is the global mean.
			r := s.lay.Buckets[i]
			for j, v := range buf[:r.Hi-r.Lo] {
				buf[j] = v * weight
			}
		}
		t0 := time.Now()
		ringErr = s.ring.Mean(ctx, buf)
		arSec += time.Since(t0).Seconds()
		reduced = i + 1
	}
	loss, err := s.eng.Backward(step, b, func(i int) {
		if i < last {
			reduce(i)
		}
	})
	if errors.Is(err, engine.ErrNonFinite) {
		bad, loss = 1, 0
		s.eng.ZeroGrad() // this rank sends zeros; every rank skips the step
	} else if err != nil {
		return nil, 0, arSec, err
	}
	if weight != 0 {
		loss *= float64(weight)
	}
	ctl = s.buckets[last][len(s.buckets[last])-nCtl:]
	ctl[ctlLoss], ctl[ctlNonFinite] = float32(loss), bad
	ctl[ctlCheckpoint], ctl[ctlStop], ctl[ctlRegroup] = 0, 0, 0
	if s.regroupReq.Load() {
		ctl[ctlRegroup] = 1
	}
	if s.ckptReq.Swap(false) {
		ctl[ctlCheckpoint] = 1
	}
	if s.stopReq.Load() {
		ctl[ctlStop] = 1
	}
	for i := reduced; i <= last; i++ {
		reduce(i)
	}
	return ctl, bad, arSec, ringErr
}

// save checkpoints the state after done steps (rank 0 only): it waits for
// the previous checkpoint's write, copies the weights, the EMA and the
// optimiser state (training goes on meanwhile), and writes them in the
// background; the checkpoint is announced once it is durable. An error of
// the previous write is returned here; one of this write, by the loop's
// next step or its end.
func (s *session) save(done int, last bool) error {
	if err := s.ckpt.wait(); err != nil {
		return err
	}
	if err := s.eng.Snapshot(&s.ckpt.state); err != nil {
		return fmt.Errorf("worker: checkpoint at step %d: %w", done, err)
	}
	files := engine.Files(s.spec, s.ckpt.state)
	m := checkpoint.Manifest{Job: s.spec.JSON(), Step: int64(done), Epoch: int64(done / s.spec.StepsPerEpochOf(s.src.Len())),
		RNG:   checkpoint.RNGState{Seed: s.spec.Seed, Scheme: RNGScheme, Next: int64(done)},
		Extra: map[string]string{"world": strconv.Itoa(s.a.World), "skipped": strconv.Itoa(s.skipped)}}
	root, keep, w, log := CheckpointDir(s.runDir), s.spec.Keep, s.w, s.log
	a, runDir := s.a, s.runDir
	s.ckpt.start(func() error {
		t0 := time.Now()
		dir, err := saveCheckpoint(root, m, files, keep)
		if err != nil {
			return fmt.Errorf("worker: checkpoint at step %d: %w", done, err)
		}
		if m := w.cfg.Metrics; m != nil {
			m.Checkpoints.Inc()
		}
		log.Info("checkpoint saved", zap.Int("step", done), zap.String("dir", dir), zap.Duration("took", time.Since(t0)))
		rel, err := filepath.Rel(runDir, dir)
		if err != nil {
			return fmt.Errorf("worker: checkpoint at step %d: %w", done, err)
		}
		w.publish(wire.MemberSubject(a.Job, wire.ReportCkpt, w.cfg.ID), &wire.Checkpoint{Sender: w.sender(), Job: a.Job,
			Generation: a.Generation, Step: done, Dir: rel, RunDir: a.RunDir, Last: last})
		return nil
	})
	return nil
}

// reportDone tells the coordinator that this rank left the job, as a
// request repeated until a coordinator answers, however long that takes
// (a quorum of coordinators may be down for longer than the job), with
// backoff, until ctx is done or a coordinator that is not deposed ends
// the job (CmdEnd): a new leader that finds the job finished on storage
// ends it at once, and answers no report after that.
func (w *Worker) reportDone(ctx context.Context, d *wire.Done) {
	b, err := wire.Encode(d)
	if err != nil {
		w.log.Error("encoding Done", zap.Error(err))
		return
	}
	ended := make(chan struct{})
	var endOnce sync.Once
	end, err := w.cfg.NATS.Subscribe(wire.ControlSubject(d.Job), func(m *nats.Msg) {
		var c wire.Command
		if wire.Decode(m.Data, &c) == nil && c.Job == d.Job && c.Kind == wire.CmdEnd && !w.fenced(c.Term) {
			endOnce.Do(func() { close(ended) })
		}
	})
	if err == nil {
		defer end.Unsubscribe()
	}
	subj := wire.MemberSubject(d.Job, wire.ReportDone, w.cfg.ID)
	wait := doneBackoffMin
	for attempt := 0; ; attempt++ {
		if _, err := w.cfg.NATS.Request(subj, b, time.Second); err == nil {
			return
		}
		if attempt == 10 || attempt%100 == 99 {
			w.log.Warn("no coordinator has acknowledged the end of the job yet; still reporting", zap.String("job", d.Job), zap.Int("attempts", attempt+1))
		}
		select {
		case <-ctx.Done():
			return
		case <-ended:
			w.log.Info("the coordinator ended the job; no more reporting", zap.String("job", d.Job), zap.Int("attempts", attempt+1))
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, doneBackoffMax)
	}
}

// The backoff of reportDone.
const (
	doneBackoffMin = 200 * time.Millisecond
	doneBackoffMax = 5 * time.Second
)

func (w *Worker) publish(subject string, m wire.Message) {
	if f := w.cfg.faults; f != nil && f.Publish != nil && f.Publish(subject, m) {
		return
	}
	b, err := wire.Encode(m)
	if err != nil {
		w.log.Error("encoding a message", zap.String("subject", subject), zap.Error(err))
		return
	}
	if err := w.cfg.NATS.Publish(subject, b); err != nil {
		w.log.Warn("publishing", zap.String("subject", subject), zap.Error(err))
	}
}
