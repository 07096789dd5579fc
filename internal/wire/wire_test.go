package wire

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

const inc = "0123abcd0123abcd"

var snd = Sender{Worker: "w-3", Incarnation: inc}

func samples() []Message {
	return []Message{
		&Join{Worker: "w-1", Incarnation: inc, Role: RoleWorker, Host: "node7", PID: 42, GPU: -1},
		&Join{Worker: "w-1", Incarnation: inc, Role: RoleWorker, Job: "j", Proof: "feedbeef"},
		&JoinReply{OK: true},
		&JoinReply{Error: "job full"},
		&JoinReply{Preflight: &Preflight{Job: "j", RunDir: "j-2", DataDir: "/data/cifar", DataDigest: "ab"}},
		&Assign{Term: 4, Job: "dlpm-grid9", Spec: json.RawMessage(`{"alpha":1.7}`), Rank: 1, World: 2,
			Ring: []string{"a", "b"}, Incarnation: inc, Generation: 3, RunDir: "dlpm-grid9", Resume: "checkpoints/step-00000100"},
		&Command{Term: 3, Job: "j", Kind: CmdStop},
		&Command{Term: 3, Coordinator: "c1", Job: "j", Kind: CmdStart, Generation: 2},
		&Ready{Sender: snd, Job: "j", Rank: 2, Generation: 2},
		&Heartbeat{Worker: "w-3", Incarnation: inc},
		&Heartbeat{Worker: "w-3", Incarnation: inc, Job: "j", Generation: 2, Rank: 1, Step: 40},
		&Submit{Spec: "steps: 10\n"},
		&Query{Job: "j"},
		&Resume{Job: "j", From: "runs/j/checkpoints/step-00000100"},
		&Reply{OK: true, Job: "j", Jobs: []JobStatus{{ID: "j", Phase: "running", Step: 3, Members: []string{"a"}}}},
		&Reply{Error: "no such job"},
		&Command{Job: "j", Kind: CmdAbort, Generation: 4},
		&Command{Job: "j", Kind: CmdEnd},
		&Progress{Sender: snd, Job: "j", Generation: 1, Step: 10, Total: 100, Loss: 0.5, StepsPerSec: 60, AllReduceMS: 1.5},
		&Checkpoint{Sender: snd, Job: "j", Generation: 1, Step: 500, Dir: "checkpoints/step-00000500", RunDir: "j", Last: true},
		&Checkpoint{Job: "j", Step: 500, Dir: "checkpoints/step-00000500", RunDir: "j"},
		&Done{Sender: snd, Job: "j", Generation: 1, Rank: 3, Step: 2000, Error: "ring broken"},
		&Samples{Sampler: "s0", Job: "j", Step: 500, Dir: "checkpoints/step-00000500", Metrics: map[string]float64{"prd_f1": 0.9}},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, m := range samples() {
		b, err := Encode(m)
		if err != nil {
			t.Fatalf("Encode(%T): %v", m, err)
		}
		got := reflect.New(reflect.TypeOf(m).Elem()).Interface().(Message)
		if err := Decode(b, got); err != nil {
			t.Fatalf("Decode(%s): %v", b, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("round trip of %T: got %+v, want %+v", m, got, m)
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, c := range []struct {
		in   string
		m    Message
		want string
	}{
		{`{"v":1,"job":"j","kind":"stop"}`, &Command{}, "protocol version 1"},
		{`{"v":2,"job":"j","kind":"reboot"}`, &Command{}, `command "reboot"`},
		{`{"v":2,"job":"a.b","kind":"stop"}`, &Command{}, `job ID "a.b"`},
		{`{"v":2,"job":"j","kind":"stop","x":1}`, &Command{}, "unknown field"},
		{`{"v":2,"job":"j","kind":"stop"} {}`, &Command{}, "trailing data"},
		{`{"v":2,"job":"j","kind":"start"}`, &Command{}, "without a generation"},
		{`{"v":2,"job":"j","spec":{},"rank":2,"world":2,"ring":["a","b"],"run_dir":"r"}`, &Assign{}, "rank 2 of world 2"},
		{`{"v":2,"job":"j","spec":{},"rank":0,"world":2,"ring":["a","a"],"run_dir":"r"}`, &Assign{}, "repeated"},
		{`{"v":2,"job":"j","spec":[1],"rank":0,"world":1,"ring":["a"],"incarnation":"0123abcd","generation":1,"run_dir":"r"}`, &Assign{}, "not a JSON object"},
		{`{"v":2,"job":"j","spec":{},"rank":0,"world":1,"ring":["a"],"incarnation":"0123abcd","generation":1,"run_dir":"/etc"}`, &Assign{}, `run_dir "/etc"`},
		{`{"v":2,"job":"j","spec":{},"rank":0,"world":1,"ring":["a"],"incarnation":"0123abcd","generation":1,"run_dir":"j","resume":"../../x"}`, &Assign{}, `resume "../../x"`},
		{`{"v":2,"worker":"w","incarnation":"0123abcd","role":"boss"}`, &Join{}, `role "boss"`},
		{`{"v":2,"worker":"w","role":"worker"}`, &Join{}, `incarnation ""`},
		{`{"v":2,"ok":false}`, &JoinReply{}, "without a reason"},
		{`{"v":2,"worker":"w","incarnation":"0123abcd","job":"j","rank":0,"step":9}`, &Done{}, "generation 0"},
		{`{"v":2,"worker":"w","incarnation":"0123abcd","job":"j","generation":1,"step":99999,"dir":"/etc","run_dir":"j"}`, &Checkpoint{}, `checkpoint dir "/etc"`},
		{`{"v":2,"worker":"w","incarnation":"0123abcd","job":"j","generation":1,"step":3000,"total":10}`, &Progress{}, "step 3000/10"},
		{`[`, &Done{}, "unexpected EOF"},
		{strings.Repeat(" ", MaxMessage+1), &Done{}, "the limit is"},
	} {
		err := Decode([]byte(c.in), c.m)
		if !errors.Is(err, ErrMessage) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Decode(%.60s) = %v, want ErrMessage mentioning %q", c.in, err, c.want)
		}
	}
}

func TestEncodeValidates(t *testing.T) {
	if _, err := Encode(&Command{Job: "j", Kind: "nope"}); err == nil {
		t.Error("Encode accepted an unknown command")
	}
}

func TestSubjectsAreTokens(t *testing.T) {
	if got := RingPrefix("job-1", 7); got != "levy.job.job-1.ar.7" {
		t.Errorf("RingPrefix = %q", got)
	}
	for subj, want := range map[string]string{
		MemberSubject("j", ReportDone, "w1"): "w1", JoinSubject("w2"): "w2", HeartbeatSubject("w3"): "w3",
		ControlSubject("j"): "", AssignSubject("w4"): "", "levy.job.j.ar.1.0.w1": "",
	} {
		if got := SenderOf(subj); got != want {
			t.Errorf("SenderOf(%s) = %q, want %q", subj, got, want)
		}
	}
	if ValidID("a.b") || ValidID("a b") || ValidID("") || ValidID(">") || !ValidID("w_1-A") {
		t.Error("ValidID accepts a subject wildcard or separator, or refuses a plain ID")
	}
}

// FuzzDecode feeds arbitrary bytes to every decoder: none may panic, and a
// message that decodes must encode and decode to the same value.
func FuzzDecode(f *testing.F) {
	for _, m := range samples() {
		b, _ := Encode(m)
		f.Add(b)
	}
	f.Add([]byte(`{"v":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, m := range []Message{&Join{}, &JoinReply{}, &Assign{}, &Command{}, &Progress{}, &Checkpoint{}, &Done{}, &Samples{}, &Ready{}, &Heartbeat{}, &Submit{}, &Query{}, &Reply{}, &Resume{}} {
			if Decode(b, m) != nil {
				continue
			}
			enc, err := Encode(m)
			if err != nil {
				t.Fatalf("%T decoded but does not encode: %v", m, err)
			}
			again := reflect.New(reflect.TypeOf(m).Elem()).Interface().(Message)
			if err := Decode(enc, again); err != nil {
				t.Fatalf("%T: re-decode: %v", m, err)
			}
			if enc2, _ := Encode(again); string(enc2) != string(enc) {
				t.Fatalf("%T: encoding changed: %s vs %s", m, enc2, enc)
			}
		}
	})
}
