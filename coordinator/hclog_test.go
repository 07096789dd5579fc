package coordinator

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/levy-ml/levy/internal/natstest"
)

// observed returns a zap logger that records entries at level and above.
func observed(level zapcore.Level) (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(level)
	return zap.New(core, zap.AddCaller()), logs
}

func TestHclogZap(t *testing.T) {
	zl, logs := observed(zap.DebugLevel)
	l := newHclog(zl, hclog.Info).Named("raft")
	l.Warn("failed to contact", "server-id", raft.ServerID("c2"), "time", 3*time.Second,
		"error", errors.New("boom"), "count", 7, "odd")
	l.Debug("not at info")
	l.Trace("nor this")
	all := logs.TakeAll()
	if len(all) != 1 {
		t.Fatalf("%d entries: %v", len(all), all)
	}
	e := all[0]
	if e.Level != zap.WarnLevel || e.Message != "failed to contact" || e.LoggerName != "raft" {
		t.Fatalf("entry %+v", e.Entry)
	}
	if f := e.Caller.File; filepath.Base(f) != "hclog_test.go" {
		t.Errorf("caller %s, want this file", f)
	}
	m := e.ContextMap()
	want := map[string]any{"server-id": "c2", "time": 3 * time.Second, "error": "boom", "count": int64(7), hclog.MissingKey: "odd"}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("field %s = %#v, want %#v (all: %v)", k, m[k], v, m)
		}
	}

	// Levels: hclog's own and zap's both filter.
	if l.IsDebug() || !l.IsInfo() || !l.IsError() || l.GetLevel() != hclog.Info {
		t.Errorf("at info: debug %v info %v", l.IsDebug(), l.IsInfo())
	}
	l.SetLevel(hclog.Trace)
	if !l.IsTrace() {
		t.Error("trace after SetLevel(Trace)")
	}
	l.Trace("traced", "k", "v")
	if e := logs.TakeAll(); len(e) != 1 || e[0].Level != zap.DebugLevel || e[0].ContextMap()["k"] != "v" {
		t.Errorf("a trace entry: %v", e)
	}
	quiet, _ := observed(zap.WarnLevel)
	if q := newHclog(quiet, hclog.Trace); q.IsInfo() || !q.IsWarn() {
		t.Error("zap's level does not bound hclog's")
	}
	l.SetLevel(hclog.Off)
	l.Error("off")
	if n := logs.Len(); n != 0 || l.IsError() {
		t.Errorf("%d entries with the level off", n)
	}
	l.SetLevel(hclog.Info)

	// With, Named and ResetNamed.
	w := l.With("node", "c1").Named("net")
	if w.Name() != "raft.net" || len(w.ImpliedArgs()) != 2 || w.ImpliedArgs()[1] != "c1" {
		t.Fatalf("name %q, implied %v", w.Name(), w.ImpliedArgs())
	}
	w.Info("dialing", "addr", raft.ServerAddress("h:1"), "n", hclog.Hex(255), "f", hclog.Fmt("%d-%s", 3, "x"))
	r := w.ResetNamed("snap")
	r.Log(hclog.Error, "reset", "q", hclog.Quote("a b"))
	all = logs.TakeAll()
	if len(all) != 2 {
		t.Fatalf("%d entries", len(all))
	}
	if e, m := all[0], all[0].ContextMap(); e.LoggerName != "raft.net" || m["node"] != "c1" || m["addr"] != "h:1" || m["n"] != "0xff" || m["f"] != "3-x" {
		t.Errorf("With/Named entry %s %v", e.LoggerName, m)
	}
	if e, m := all[1], all[1].ContextMap(); e.LoggerName != "snap" || e.Level != zap.ErrorLevel || m["node"] != "c1" || m["q"] != `"a b"` {
		t.Errorf("ResetNamed entry %s %v", e.LoggerName, m)
	}
	// The level is shared with derived loggers, as hclog's is.
	w.SetLevel(hclog.Error)
	if l.IsWarn() {
		t.Error("SetLevel on a derived logger did not reach its parent")
	}
	l.SetLevel(hclog.Debug)

	// The standard library logger infers levels from the prefix.
	l.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}).Print("[WARN] raft: a warning")
	l.StandardLogger(nil).Print("plain")
	all = logs.TakeAll()
	if len(all) != 2 || all[0].Level != zap.WarnLevel || all[0].Message != "raft: a warning" || all[1].Level != zap.InfoLevel || all[1].Message != "plain" {
		t.Errorf("standard logger entries %v", all)
	}
}

// TestRaftLogsThroughZap: raft's own warnings arrive as structured zap
// entries. A node whose only peer is down times out waiting for a
// leader and says so with fields.
func TestRaftLogsThroughZap(t *testing.T) {
	zl, logs := observed(zap.InfoLevel)
	addrs := natstest.FreeAddrs(t, 2)
	peers := []Peer{{ID: "c1", Addr: addrs[0]}, {ID: "c2", Addr: addrs[1]}}
	nd, err := NewNode(NodeConfig{ID: "c1", Bind: addrs[0], Peers: peers, DataDir: t.TempDir(), Fast: true, Log: zl})
	if err != nil {
		t.Fatal(err)
	}
	defer nd.Shutdown()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range logs.FilterMessageSnippet("heartbeat timeout reached").All() {
			m := e.ContextMap()
			if e.Level != zap.WarnLevel || e.LoggerName != "raft" || m["coordinator"] != "c1" {
				t.Fatalf("entry %+v %v", e.Entry, m)
			}
			if _, ok := m["last-leader-id"]; !ok {
				t.Fatalf("no last-leader-id field: %v", m)
			}
			if !strings.Contains(e.Caller.File, "hashicorp/raft") {
				t.Errorf("caller %s, want raft's code", e.Caller.File)
			}
			if strings.Contains(e.Message, "[WARN]") {
				t.Fatalf("text-formatted entry %q", e.Message)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no heartbeat timeout warning; entries: %v", logs.All())
}
