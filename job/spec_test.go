package job

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/levy-ml/levy/internal/wire"
	"github.com/levy-ml/levy/losses"
	"github.com/levy-ml/levy/nn"
	"github.com/levy-ml/levy/nn/mlp"
	"github.com/levy-ml/levy/samplers"
)

func TestDefaultIsValid(t *testing.T) {
	s := Default()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckWorkers(2); err != nil {
		t.Fatal(err)
	}
	if got := s.StepsPerEpoch(); got != 31 {
		t.Errorf("StepsPerEpoch = %d, want 31 (32000/1024, last partial batch dropped)", got)
	}
}

func TestParseYAMLAndJSONAgree(t *testing.T) {
	y := "name: lim-run\nmethod: lim\nalpha: 1.5\nsteps: 300\nglobal_batch: 512\nsample:\n  steps: 50\n"
	j := `{"name": "lim-run", "method": "lim", "alpha": 1.5, "steps": 300, "global_batch": 512, "sample": {"steps": 50}}`
	a, err := Parse([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse([]byte(j))
	if err != nil {
		t.Fatal(err)
	}
	if string(a.JSON()) != string(b.JSON()) {
		t.Fatalf("YAML and JSON differ:\n%s\n%s", a.JSON(), b.JSON())
	}
	if a.Sample.Sampler != "lim-sde" || a.Sample.N != Default().Sample.N || a.LR != Default().LR {
		t.Errorf("defaults not applied: %+v", a)
	}
	back, err := FromJSON(a.JSON())
	if err != nil || string(back.JSON()) != string(a.JSON()) {
		t.Fatalf("FromJSON round trip: %v", err)
	}
}

func TestParseRefusesBadSpecs(t *testing.T) {
	for _, c := range []struct{ spec, want string }{
		{"", "empty"},
		{"alpha: 2.5", `"alpha" = 2.5`},
		{"alpha: 0", `"alpha" = 0`},
		{"method: gan", `"method" = "gan"`},
		{"alhpa: 1.5", `unknown field "alhpa"`},
		{"steps: -3", `"steps" = -3`},
		{"steps: many", "steps"},
		{"global_batch: 0", `"global_batch" = 0`},
		{"global_batch: 64000", `want ≤ data_n`},
		{"lr: .nan", `"lr"`},
		{"ema: 1", `"ema" = 1`},
		{"dataset: cifar11", `"dataset" = "cifar11"`},
		{"name: ../../etc", `"name"`},
		{"name: a/b", `"name"`},
		{"checkpoint_every: 0", `"checkpoint_every" = 0`},
		{"keep: 0", `"keep" = 0`},
		{"sample: {sampler: lim-ode}", `"sample.sampler" = "lim-ode"`},
		{"model: {hidden: 0}", `"model.hidden" = 0`},
		{"{", "did not find"},
		{"[1, 2]", "cannot unmarshal"},
	} {
		_, err := Parse([]byte(c.spec))
		if err == nil {
			t.Errorf("Parse(%q) accepted", c.spec)
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want ErrInvalid mentioning %q", c.spec, err, c.want)
		}
	}
}

func TestMethodPicksItsSampler(t *testing.T) {
	s, err := Parse([]byte("method: ddpm\nalpha: 1.3"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Sample.Sampler != "ddpm" || s.Alpha != 2 {
		t.Errorf("ddpm job: sampler %q alpha %v, want ddpm and 2", s.Sample.Sampler, s.Alpha)
	}
}

// TestCheckWorkers: any ring of 1 … global_batch workers splits the batch
// (in shards of unequal size when it does not divide); more workers than
// points, or none, are refused.
func TestCheckWorkers(t *testing.T) {
	s := Default()
	s.GlobalBatch = 1000
	for _, n := range []int{1, 3, 7, 8, 999, 1000} {
		if err := s.CheckWorkers(n); err != nil {
			t.Errorf("1000 over %d workers: %v", n, err)
		}
	}
	if err := s.CheckWorkers(1001); err == nil || !strings.Contains(err.Error(), "global_batch") || !strings.Contains(err.Error(), "1001 workers") {
		t.Errorf("1000 over 1001 workers: %v, want an error naming global_batch and the 1001 workers", err)
	}
	if err := s.CheckWorkers(0); err == nil {
		t.Error("0 workers accepted")
	}
}

func TestReadFileNamesTheFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(p, []byte("alpha: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "alpha") {
		t.Errorf("ReadFile: %v", err)
	}
	if _, err := ReadFile(p + ".missing"); err == nil {
		t.Error("missing file accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("method: lim\nalpha: 1.5\n"))
	f.Add([]byte(Default().JSON()))
	f.Add([]byte("sample: {n: 10}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			return
		}
		back, err := FromJSON(s.JSON())
		if err != nil {
			t.Fatalf("a valid spec does not survive JSON: %v", err)
		}
		if string(back.JSON()) != string(s.JSON()) {
			t.Fatalf("JSON round trip changed the spec")
		}
	})
}

func TestDefaultsMatchTheCore(t *testing.T) {
	d := Default()
	m, a := mlp.DefaultConfig(), nn.DefaultAdamW()
	if d.Model.Hidden != m.Hidden || d.Model.Blocks != m.Blocks || d.Model.TimeEmbed != m.TimeEmbed {
		t.Errorf("job model %+v, mlp default %+v", d.Model, m)
	}
	if d.LR != a.LR || d.WeightDecay != a.WeightDecay {
		t.Errorf("job lr %v wd %v, mlp default %+v", d.LR, d.WeightDecay, a)
	}
	if DLPM != losses.DLPM || LIM != losses.LIM || DDPM != losses.DDPM {
		t.Error("method names differ from package losses")
	}
}

// TestExampleJobsParse: every job spec in examples/ is valid, the YAML
// default spells out exactly the defaults, and the Fashion-MNIST method
// comparison (fashion-mnist-*.yaml) shares one budget, which
// fashion-mnist.yaml doubles in steps.
func TestExampleJobsParse(t *testing.T) {
	files, _ := filepath.Glob("../examples/*")
	if len(files) < 6 {
		t.Fatalf("examples holds %d files, want the 6 job specs", len(files))
	}
	for _, f := range files {
		s, err := ReadFile(f)
		if err != nil {
			t.Error(err)
			continue
		}
		base := filepath.Base(f)
		if base == "dlpm-grid9.yaml" && string(s.JSON()) != string(Default().JSON()) {
			t.Errorf("%s differs from Default():\n%s\n%s", f, s.JSON(), Default().JSON())
		}
		if !strings.HasPrefix(base, "fashion-mnist") {
			continue
		}
		steps := 1500
		if base == "fashion-mnist.yaml" {
			steps = 3000
		}
		if s.Steps != steps || s.GlobalBatch != 32 || s.UNet.ModelChannels != 16 || s.LR != 1e-3 || s.Sample.N != 256 || s.Sample.Features == "" {
			t.Errorf("%s: %d steps of %d, %d channels, lr %g, %d samples, features %q", f, s.Steps, s.GlobalBatch, s.UNet.ModelChannels, s.LR, s.Sample.N, s.Sample.Features)
		}
	}
}

// TestWorkerBounds: min_workers / max_workers clamp the coordinator's
// --workers, bound shrinking and growing, and bad bounds are refused by
// name.
func TestWorkerBounds(t *testing.T) {
	s, err := Parse([]byte("min_workers: 2\nmax_workers: 6\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ def, target, lo, hi int }{{4, 4, 2, 6}, {8, 6, 2, 6}, {1, 2, 2, 6}} {
		if tg, lo, hi := s.Workers(c.def); tg != c.target || lo != c.lo || hi != c.hi {
			t.Errorf("--workers %d: got %d [%d, %d], want %d [%d, %d]", c.def, tg, lo, hi, c.target, c.lo, c.hi)
		}
	}
	if tg, lo, hi := Default().Workers(3); tg != 3 || lo != 1 || hi != 3 {
		t.Errorf("no bounds, --workers 3: got %d [%d, %d], want 3 [1, 3]", tg, lo, hi)
	}
	for src, field := range map[string]string{
		"min_workers: 5\nmax_workers: 4\n": `"min_workers" = 5`,
		"max_workers: -1\n":                `"max_workers" = -1`,
		"min_workers: 9999\n":              `"min_workers" = 9999`,
	} {
		if _, err := Parse([]byte(src)); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), field) {
			t.Errorf("%q: %v, want an error naming %s", src, err, field)
		}
	}
	// Unset bounds leave the canonical JSON (and so old checkpoints'
	// specs) unchanged.
	if strings.Contains(string(Default().JSON()), "workers") {
		t.Errorf("the default spec's JSON mentions workers: %s", Default().JSON())
	}
}

// TestYAMLErrorQuotesItsLine: a syntax error is reported on the line
// that holds it, and that line is quoted (the YAML library numbers the
// parser's errors from 0, its scanner's from 1).
func TestYAMLErrorQuotesItsLine(t *testing.T) {
	for _, c := range []struct{ spec, want string }{
		{"name: x\nalpha: 1.5\nsteps: [1\nseed: 1\n", `line 3 ("steps: [1")`},         // parser: flow sequence
		{"name: x\nalpha: 1.5\nsample: {n: 3\nseed: 1\n", `line 3 ("sample: {n: 3")`}, // parser: flow mapping
		{"name: x\nalpha: 1.5\n- steps\nseed: 1\n", `line 3 ("- steps")`},             // parser: block mapping
		{"name: x\n\n\nalpha: 1.5\n  steps: 3\n", `line 5 ("steps: 3")`},              // scanner
		{"name: x\nsteps: many\n", `line 2 ("steps: many")`},                          // decoder
		{"{a: 1 b: 2}\n", `line 1 ("{a: 1 b: 2}")`},                                   // parser, first line
		{"[1, 2\n", `line 1 ("[1, 2")`},                                               // parser, at the end
		{"alpha: 1.5\nsteps: [1\n\n\n", `line 2 ("steps: [1")`},                       // parser, at the end
	} {
		_, err := Parse([]byte(c.spec))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want it to name %s", c.spec, err, c.want)
		}
	}
	p := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(p, []byte("name: x\nalpha: 1.5\nsteps: [1\nseed: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(p); err == nil || !strings.Contains(err.Error(), p+`: job: invalid spec: line 3 ("steps: [1")`) {
		t.Errorf("ReadFile: %v", err)
	}
}

// TestNameIsANATSToken: the spec accepts exactly the names the wire
// accepts as a job ID (the name is a NATS subject token), and its
// message says which characters those are.
func TestNameIsANATSToken(t *testing.T) {
	long := strings.Repeat("x", 64)
	for _, name := range []string{"a.b", "run.1", "-x", "_x", "a_b-c", "A9", long, long + "y", "a b", "a/b", "a*", "a>", "é"} {
		s := Default()
		s.Name = name
		err := s.Validate()
		if (err == nil) != wire.ValidID(name) {
			t.Errorf("name %q: Validate %v, wire.ValidID %v", name, err, wire.ValidID(name))
		}
		if err != nil && !strings.Contains(err.Error(), "letters, digits, '_' and '-'") {
			t.Errorf("name %q: %v, want the message to say letters, digits, '_' and '-'", name, err)
		}
	}
	if _, err := Parse([]byte("name: a.b\n")); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `"name" = "a.b"`) {
		t.Errorf("name: a.b: %v", err)
	}
}

// TestSampleStepsMinimum: sample.steps is checked against the bound of
// the chosen sampler (samplers.Config.Validate), so that a spec that
// passes is one the sampler takes.
func TestSampleStepsMinimum(t *testing.T) {
	for _, name := range samplers.Names {
		min := MinSampleSteps(name)
		for _, steps := range []int{min - 1, min} {
			err := samplers.Config{Method: name, Alpha: 1.7, Steps: steps}.Validate()
			if (err == nil) != (steps >= min) {
				t.Errorf("%s: MinSampleSteps %d, but samplers.Config{Steps: %d}.Validate() = %v", name, min, steps, err)
			}
		}
	}
	for src, want := range map[string]string{
		"sample: {sampler: dlpm, steps: 1}\n":                 `"sample.steps" = 1: want 2 … 100000 for the dlpm sampler`,
		"method: ddpm\nsample: {sampler: ddim, steps: 1}\n":   `"sample.steps" = 1: want 2 … 100000 for the ddim sampler`,
		"method: lim\nsample: {sampler: lim-ode, steps: 0}\n": `"sample.steps" = 0: want 1 … 100000 for the lim-ode sampler`,
		"method: lim\nsample: {sampler: lim-sde, steps: 1}\n": "",
		"sample: {sampler: dlim, steps: 2}\n":                 "",
	} {
		_, err := Parse([]byte(src))
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: %v, want %q", src, err, want)
		}
	}
}

// TestWorkersStayWithinTheBatch: a ring never grows past one point per
// worker, whatever max_workers says.
func TestWorkersStayWithinTheBatch(t *testing.T) {
	s := Default()
	s.GlobalBatch, s.MaxWorkers = 6, 16
	if tg, lo, hi := s.Workers(4); tg != 4 || lo != 1 || hi != 6 {
		t.Errorf("batch 6, max_workers 16, --workers 4: got %d [%d, %d], want 4 [1, 6]", tg, lo, hi)
	}
}
