package localcluster

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/levy-ml/levy/checkpoint"
	"github.com/levy-ml/levy/coordinator"
	"github.com/levy-ml/levy/job"
	"github.com/levy-ml/levy/safetensors"
	"github.com/levy-ml/levy/worker"
)

// smallJob is the default job cut to steps steps.
func smallJob(name string, steps, every int) job.Spec {
	s := job.Default()
	s.Name, s.Steps, s.CkptEvery, s.Keep = name, steps, every, 10
	s.Sample.N, s.Sample.Steps = 2000, 50
	return s
}

func runLocal(t *testing.T, spec job.Spec, workers int, runs, resume string, stopAt int, sampler bool) *coordinator.Result {
	t.Helper()
	cc := coordinator.DefaultConfig()
	cc.Job, cc.Workers, cc.RunsDir, cc.Resume, cc.StopAt, cc.Progress = spec, workers, runs, resume, stopAt, nil
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := Run(ctx, Config{Coordinator: cc, Sampler: sampler})
	if err != nil {
		t.Fatalf("%d workers: %v", workers, err)
	}
	return res
}

// finalFiles loads the newest checkpoint of a run directory.
func finalFiles(t *testing.T, runDir string) (*checkpoint.Checkpoint, map[string][]safetensors.Tensor) {
	t.Helper()
	c, skipped, err := checkpoint.Latest(worker.CheckpointDir(runDir))
	if err != nil || len(skipped) > 0 {
		t.Fatalf("Latest(%s): %v (skipped %v)", runDir, err, skipped)
	}
	out := map[string][]safetensors.Tensor{}
	for _, f := range c.Files {
		out[f.Name] = f.Tensors
	}
	return c, out
}

// TestEquivalenceOneVsFourWorkers: 50 steps of the same job on 1 and on 4
// workers (same global batch, same data order, same noise) end with the
// same parameters up to the rounding of the different summation orders.
func TestEquivalenceOneVsFourWorkers(t *testing.T) {
	spec := smallJob("equiv", 50, 50)
	r1 := runLocal(t, spec, 1, t.TempDir(), "", 0, false)
	r4 := runLocal(t, spec, 4, t.TempDir(), "", 0, false)
	c1, f1 := finalFiles(t, r1.RunDir)
	c4, f4 := finalFiles(t, r4.RunDir)
	if c1.Manifest.Step != 50 || c4.Manifest.Step != 50 {
		t.Fatalf("final steps %d and %d, want 50", c1.Manifest.Step, c4.Manifest.Step)
	}
	var worst, worstMax float64
	for i, a := range f1[worker.ModelFile] {
		b := f4[worker.ModelFile][i]
		var diff, norm, maxAbs float64
		for j := range a.Data {
			d := float64(a.Data[j]) - float64(b.Data[j])
			diff += d * d
			norm += float64(a.Data[j]) * float64(a.Data[j])
			maxAbs = max(maxAbs, math.Abs(d))
		}
		rel := math.Sqrt(diff / norm)
		worst = max(worst, rel)
		worstMax = max(worstMax, maxAbs)
		if rel > 1e-5 {
			t.Errorf("%s: relative difference %.3g between 1 and 4 workers, want ≤ 1e-5", a.Name, rel)
		}
	}
	t.Logf("1 vs 4 workers after 50 steps: worst per-tensor relative difference %.3g, largest absolute %.3g", worst, worstMax)
	if worst == 0 {
		t.Log("note: bit-identical")
	}
}

// TestResumeIsBitExact: a job stopped at step 25 and resumed ends at step
// 60 with the same bits as the uninterrupted run, also when the newest
// checkpoint has been truncated (the resume then starts from step 20).
func TestResumeIsBitExact(t *testing.T) {
	spec := smallJob("resume", 60, 20)
	full := runLocal(t, spec, 2, t.TempDir(), "", 0, false)
	_, want := finalFiles(t, full.RunDir)

	for _, truncate := range []bool{false, true} {
		runs := t.TempDir()
		part := runLocal(t, spec, 2, runs, "", 25, false)
		if part.Job.Phase != "stopped" || part.Job.LatestStep != 25 {
			t.Fatalf("stop at 25: phase %s, newest checkpoint at %d", part.Job.Phase, part.Job.LatestStep)
		}
		from := 25
		if truncate {
			p := filepath.Join(part.Latest, worker.ModelFile)
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, st.Size()/2); err != nil {
				t.Fatal(err)
			}
			from = 20
		}
		res := runLocal(t, spec, 2, runs, part.RunDir, 0, false)
		if res.FirstStep != from || res.Job.Phase != "done" {
			t.Fatalf("truncate=%v: resumed from %d (want %d), phase %s", truncate, res.FirstStep, from, res.Job.Phase)
		}
		c, got := finalFiles(t, part.RunDir)
		if c.Manifest.Step != 60 {
			t.Fatalf("final step %d", c.Manifest.Step)
		}
		for _, file := range []string{worker.ModelFile, worker.EMAFile, worker.OptimFile} {
			for i, a := range want[file] {
				b := got[file][i]
				for j := range a.Data {
					if math.Float32bits(a.Data[j]) != math.Float32bits(b.Data[j]) {
						t.Fatalf("truncate=%v: %s %s[%d]: %v uninterrupted, %v resumed", truncate, file, a.Name, j, a.Data[j], b.Data[j])
					}
				}
			}
		}
	}
}

// TestFreshRunRefusesExistingCheckpoints: starting a job again in the same
// run directory is refused (and nothing there is touched).
func TestFreshRunRefusesExistingCheckpoints(t *testing.T) {
	runs := t.TempDir()
	spec := smallJob("again", 10, 10)
	runLocal(t, spec, 1, runs, "", 0, false)
	cc := coordinator.DefaultConfig()
	cc.Job, cc.RunsDir, cc.Progress = spec, runs, nil
	_, err := Run(context.Background(), Config{Coordinator: cc})
	if !errors.Is(err, coordinator.ErrRunExists) || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("second fresh run: %v", err)
	}
	if dirs, _ := checkpoint.List(worker.CheckpointDir(filepath.Join(runs, "again"))); len(dirs) != 1 {
		t.Fatalf("checkpoints after the refused run: %v", dirs)
	}
}

// TestSamplerWritesOutputs: a short job with the sampler leaves the
// checkpoints, samples.png, samples.safetensors and metrics.json.
func TestSamplerWritesOutputs(t *testing.T) {
	spec := smallJob("sampled", 40, 20)
	res := runLocal(t, spec, 2, t.TempDir(), "", 0, true)
	if _, ok := res.Metrics["prd_f1"]; !ok {
		t.Fatalf("no F1 in the result's metrics: %v", res.Metrics)
	}
	for _, f := range []string{worker.PlotFile, worker.MetricsFile, worker.SamplesFile, "job.json"} {
		if st, err := os.Stat(filepath.Join(res.RunDir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	ts, _, err := safetensors.ReadFile(filepath.Join(res.RunDir, worker.SamplesFile))
	if err != nil || len(ts) != 1 || len(ts[0].Data) != 2*spec.Sample.N {
		t.Fatalf("samples: %v", err)
	}
}

// TestLocalWithCredentials: with a user and password the embedded server
// refuses anonymous clients, and the cluster's own parts still train.
func TestLocalWithCredentials(t *testing.T) {
	ns, err := StartServer("levy", "pw")
	if err != nil {
		t.Fatal(err)
	}
	if nc, err := nats.Connect(ns.ClientURL()); err == nil {
		nc.Close()
		t.Error("an anonymous client connected to a server with credentials")
	}
	ns.Shutdown()

	cc := coordinator.DefaultConfig()
	cc.Job, cc.Workers, cc.RunsDir, cc.Progress = smallJob("auth", 10, 10), 2, t.TempDir(), nil
	res, err := Run(context.Background(), Config{Coordinator: cc, User: "levy", Password: "pw", Sampler: true})
	if err != nil || res.Job.Phase != "done" || res.Metrics == nil {
		t.Fatalf("with credentials (every part its own role): %v", err)
	}
}

// TestLocalRolesRefuseTheOperator: with credentials, the embedded server
// gives the user's credentials the operator role only (docs/security.md):
// they may use the API, but not speak as a worker, send gradient chunks or
// command a ring.
func TestLocalRolesRefuseTheOperator(t *testing.T) {
	ns, creds, err := startRoleServer("levy", "pw", 2, false)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	w := creds["w1"]
	watch, err := nats.Connect(ns.ClientURL(), nats.UserInfo(creds["coordinator"].Username(), creds["coordinator"].Password))
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	got := make(chan string, 8)
	for _, subj := range []string{"levy.job.j.done.*", "levy.coord.join.*"} {
		if _, err := watch.Subscribe(subj, func(m *nats.Msg) { got <- m.Subject }); err != nil {
			t.Fatal(err)
		}
	}
	watch.Flush()
	violations := make(chan error, 8)
	op, err := nats.Connect(ns.ClientURL(), nats.UserInfo("levy", "pw"),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { violations <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	for _, subj := range []string{"levy.job.j.done.w1", "levy.job.j.ar.1.0.w1", "levy.job.j.ctl", "levy.coord.join.w1"} {
		op.Publish(subj, []byte("{}"))
	}
	op.Flush()
	time.Sleep(200 * time.Millisecond)
	if len(violations) != 4 {
		t.Errorf("%d permission violations for the operator's 4 forbidden publishes, want 4", len(violations))
	}
	select {
	case s := <-got:
		t.Errorf("the operator's message on %s went through", s)
	default:
	}
	// The worker's own user may join as itself.
	wc, err := nats.Connect(ns.ClientURL(), nats.UserInfo(w.Username(), w.Password))
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	wc.Publish("levy.coord.join.w1", []byte("{}"))
	wc.Flush()
	select {
	case s := <-got:
		if s != "levy.coord.join.w1" {
			t.Errorf("got %s", s)
		}
	case <-time.After(2 * time.Second):
		t.Error("worker w1's own join did not go through")
	}
}

// TestMetrics: the coordinator's and the workers' Prometheus series say
// what happened: 20 steps, 20 all-reduces per worker, a positive bus
// bandwidth, two workers, generation 1.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	cc := coordinator.DefaultConfig()
	cc.Job, cc.Workers, cc.RunsDir, cc.Progress = smallJob("metrics", 20, 10), 2, t.TempDir(), nil
	if _, err := Run(context.Background(), Config{Coordinator: cc, Registry: reg}); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "/" + l.GetValue()
			}
			switch {
			case m.Gauge != nil:
				got[key] = m.GetGauge().GetValue()
			case m.Counter != nil:
				got[key] = m.GetCounter().GetValue()
			case m.Histogram != nil:
				got[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	for key, want := range map[string]float64{
		"levy_worker_step/w0": 20, "levy_worker_step/w1": 20,
		"levy_worker_allreduce_seconds/w0": 20, "levy_worker_step_seconds/w1": 20,
		"levy_worker_world_size/w0": 2, "levy_worker_generation/w1": 1,
		"levy_coordinator_workers": 2, "levy_coordinator_generation": 1, "levy_coordinator_checkpoint_step": 20,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
	if got["levy_worker_allreduce_busbw_bytes_per_second/w0"] <= 0 || got["levy_worker_checkpoints_total/w0"]+got["levy_worker_checkpoints_total/w1"] != 2 {
		t.Errorf("busbw %v, checkpoints %v+%v", got["levy_worker_allreduce_busbw_bytes_per_second/w0"],
			got["levy_worker_checkpoints_total/w0"], got["levy_worker_checkpoints_total/w1"])
	}
}
