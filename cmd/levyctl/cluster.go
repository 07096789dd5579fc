package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/levy-ml/levy/internal/cli"
	"github.com/levy-ml/levy/internal/wire"
)

// clusterFlags are the flags of the commands that talk to a cluster.
type clusterFlags struct {
	url     string
	timeout time.Duration
	auth    cli.NATSAuth
	node    string // --coordinator: ask this coordinator rather than whoever leads
}

func (c *clusterFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&c.url, "nats", envOr("LEVY_NATS_URL", "nats://127.0.0.1:4222"), "NATS server URL of the cluster (env LEVY_NATS_URL)")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Second, "how long to wait for the leader's answer")
	fs.StringVar(&c.node, "coordinator", "", "ask this coordinator (its --id) rather than the leader; a follower answers with the leader's id")
	c.auth.AddFlags(fs)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// parseMixed parses flags that may come before or after the positional
// arguments, and returns the positional ones.
func parseMixed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// ask sends one API request to the leader and tells apart the three ways
// it can fail: nobody leads (no responders), the leader is silent
// (timeout), or the leader refuses (with its reason).
func ask(c clusterFlags, verb string, req wire.Message) (*wire.Reply, error) {
	subject := map[string]string{"submit": wire.SubmitSubject, "status": wire.StatusSubject,
		"cancel": wire.CancelSubject, "resume": wire.ResumeSubject}[verb]
	if c.node != "" {
		if !wire.ValidID(c.node) {
			return nil, fmt.Errorf("--coordinator %q: not a coordinator id", c.node)
		}
		subject = wire.NodeSubject(c.node, verb)
	}
	nc, err := cli.Connect(c.url, "levyctl", c.auth, zap.NewNop())
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	b, err := wire.Encode(req)
	if err != nil {
		return nil, err
	}
	msg, err := nc.Request(subject, b, c.timeout)
	switch {
	case errors.Is(err, nats.ErrNoResponders) && c.node != "":
		return nil, fmt.Errorf("coordinator %s does not answer at %s (no responders on %s): is it running?", c.node, cli.Redact(c.url), subject)
	case errors.Is(err, nats.ErrNoResponders):
		return nil, fmt.Errorf("no coordinator leads the cluster at %s right now (no responders on %s): are the coordinators running, or is an election under way?", cli.Redact(c.url), subject)
	case errors.Is(err, nats.ErrTimeout):
		return nil, fmt.Errorf("the leading coordinator did not answer within %v (--timeout)", c.timeout)
	case err != nil:
		return nil, err
	}
	var r wire.Reply
	if err := wire.Decode(msg.Data, &r); err != nil {
		return nil, err
	}
	if !r.OK && r.Leader != "" {
		return &r, fmt.Errorf("refused by coordinator %s: %s; ask the leader (--coordinator %s) or leave out --coordinator", c.node, r.Error, r.Leader)
	}
	if !r.OK {
		return &r, fmt.Errorf("refused by the coordinator: %s", r.Error)
	}
	return &r, nil
}

func runSubmit(ctx context.Context, args []string) error {
	fs := newFlags("submit")
	var c clusterFlags
	c.add(fs)
	pos, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("usage: levyctl submit JOB.yaml [--nats URL]")
	}
	spec, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	r, err := ask(c, "submit", &wire.Submit{Spec: string(spec)})
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	fmt.Println(r.Job)
	return nil
}

func runStatus(ctx context.Context, args []string) error {
	fs := newFlags("status")
	var c clusterFlags
	c.add(fs)
	pos, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return errors.New("usage: levyctl status [JOB] [--nats URL]")
	}
	q := &wire.Query{}
	if len(pos) == 1 {
		q.Job = pos[0]
	}
	r, err := ask(c, "status", q)
	if err != nil {
		return err
	}
	if len(r.Jobs) == 0 {
		fmt.Println("no jobs")
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTATE\tSTEP\tLOSS\tSTEPS/S\tETA\tWORKERS\tGEN\tRESTARTS\tCHECKPOINT")
	// WORKERS: ring size [min-max] members (+ workers waiting to join).
	for _, j := range r.Jobs {
		eta := "-"
		if j.ETASeconds > 0 {
			eta = (time.Duration(j.ETASeconds) * time.Second).String()
		}
		ckpt := "-"
		if j.Checkpoint != "" {
			ckpt = fmt.Sprintf("step %d", j.CheckpointStep)
		}
		workers := fmt.Sprintf("%d [%d-%d] %s", j.Workers, j.MinWorkers, j.MaxWorkers, strings.Join(j.Members, ","))
		if len(j.Pending) > 0 {
			workers += " +" + strings.Join(j.Pending, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%.4f\t%.1f\t%s\t%s\t%d\t%d\t%s\n", j.ID, j.Phase, j.Step, j.Total, j.Loss,
			j.StepsPerSec, eta, workers, j.Generation, j.Restarts, ckpt)
	}
	tw.Flush()
	for _, j := range r.Jobs {
		if j.Error != "" {
			fmt.Printf("%s: %s\n", j.ID, j.Error)
		}
	}
	return nil
}

func runCancel(ctx context.Context, args []string) error {
	fs := newFlags("cancel")
	var c clusterFlags
	c.add(fs)
	pos, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("usage: levyctl cancel JOB [--nats URL]")
	}
	if _, err := ask(c, "cancel", &wire.Query{Job: pos[0]}); err != nil {
		return err
	}
	fmt.Printf("%s: stopping (the workers checkpoint first)\n", pos[0])
	return nil
}

func runResume(ctx context.Context, args []string) error {
	fs := newFlags("resume")
	var c clusterFlags
	c.add(fs)
	from := fs.String("from", "", "checkpoint directory to resume from (default: the job's newest good checkpoint)")
	pos, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("usage: levyctl resume JOB [--from CHECKPOINT] [--nats URL]")
	}
	if _, err := ask(c, "resume", &wire.Resume{Job: pos[0], From: *from}); err != nil {
		return err
	}
	fmt.Printf("%s: queued to resume\n", pos[0])
	return nil
}

// runLogs follows a job's events (progress, checkpoints, samples, ranks
// leaving) as they happen, until interrupted or --for has passed.
func runLogs(ctx context.Context, args []string) error {
	fs := newFlags("logs")
	var c clusterFlags
	c.add(fs)
	dur := fs.Duration("for", 0, "stop after this long (default: until Ctrl-C)")
	pos, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || !wire.ValidID(pos[0]) {
		return errors.New("usage: levyctl logs JOB [--for D] [--nats URL]")
	}
	nc, err := cli.Connect(c.url, "levyctl-logs", c.auth, zap.NewNop())
	if err != nil {
		return err
	}
	defer nc.Close()
	id := pos[0]
	lines := make(chan string, 256)
	subjects := map[string]string{"ckpt": wire.CheckpointsSubject(id)} // adopted by the coordinator
	for _, what := range []string{wire.ReportProgress, wire.ReportSamples, wire.ReportDone} {
		subjects[what] = wire.MemberSubject(id, what, "*")
	}
	for what, subj := range subjects {
		if _, err := nc.Subscribe(subj, func(m *nats.Msg) {
			lines <- describe(what, m.Data)
		}); err != nil {
			return err
		}
	}
	if err := nc.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "following job %s (Ctrl-C to stop)\n", id)
	var stop <-chan time.Time
	if *dur > 0 {
		stop = time.After(*dur)
	}
	for {
		select {
		case l := <-lines:
			fmt.Println(time.Now().Format("15:04:05"), l)
		case <-ctx.Done():
			return nil
		case <-stop:
			return nil
		}
	}
}

func describe(what string, b []byte) string {
	switch what {
	case "progress":
		var p wire.Progress
		if wire.Decode(b, &p) == nil {
			return fmt.Sprintf("step %d/%d  loss %.4f  %.1f steps/s  all-reduce %.2f ms", p.Step, p.Total, p.Loss, p.StepsPerSec, p.AllReduceMS)
		}
	case "ckpt":
		var c wire.Checkpoint
		if wire.Decode(b, &c) == nil {
			return fmt.Sprintf("checkpoint step %d → %s", c.Step, c.Dir)
		}
	case "samples":
		var s wire.Samples
		if wire.Decode(b, &s) == nil {
			if s.Error != "" {
				return fmt.Sprintf("samples of step %d: error: %s", s.Step, s.Error)
			}
			return fmt.Sprintf("samples of step %d: %v", s.Step, s.Metrics)
		}
	case "done":
		var d wire.Done
		if wire.Decode(b, &d) == nil {
			if d.Error != "" {
				return fmt.Sprintf("rank %d left at step %d: %s", d.Rank, d.Step, d.Error)
			}
			return fmt.Sprintf("rank %d finished at step %d", d.Rank, d.Step)
		}
	}
	return what + ": (undecodable message)"
}
