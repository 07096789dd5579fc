package deptest

import "testing"

const mod = "github.com/levy-ml/levy"

// The numeric core never touches the distributed layer (DEVELOPERS.md).
var distributed = map[string]string{
	"github.com/nats-io":           "the numeric core must not know about the message bus",
	"github.com/hashicorp/raft":    "the numeric core must not know about consensus",
	"go.uber.org/zap":              "the numeric core never logs",
	mod + "/allreduce":             "distributed layer",
	mod + "/worker":                "distributed layer",
	mod + "/coordinator":           "distributed layer",
	mod + "/checkpoint":            "distributed layer (storage)",
	mod + "/internal/wire":         "distributed layer (wire messages)",
	mod + "/internal/localcluster": "distributed layer (in-process cluster)",
	mod + "/job":                   "distributed layer (job specs)",
	"gorgonia.org/cu":              "GPU code lives behind the cuda build tag",
}

func TestCoreImports(t *testing.T) {
	for _, p := range []string{"noise", "schedule", "losses", "samplers", "nn", "nn/mlp", "toy2d/data", "metrics", "nn/unet", "imagedata", "internal/kern"} {
		t.Run(p, func(t *testing.T) { Check(t, mod+"/"+p, distributed) })
	}
}

// TestNetworksAreIndependent: the MLP and the U-Net share their common
// parts through nn, never through each other.
func TestNetworksAreIndependent(t *testing.T) {
	Check(t, mod+"/nn/mlp", map[string]string{mod + "/nn/unet": "the networks share code through nn only"})
	Check(t, mod+"/nn/unet", map[string]string{mod + "/nn/mlp": "the networks share code through nn only"})
}

// TestCheckCatchesABannedImport proves the checker can fail: the losses
// package does import gorgonia.
func TestCheckCatchesABannedImport(t *testing.T) {
	ft := &testing.T{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Check(ft, mod+"/losses", map[string]string{"gorgonia.org/gorgonia": "probe"})
	}()
	<-done
	if !ft.Failed() {
		t.Error("Check did not flag losses → gorgonia.org/gorgonia")
	}
}

// TestCoordinatorIsPureGo: the coordinator package (and the job spec and
// wire messages it uses) never links gorgonia or the model, so a head
// node's coordinator needs no numeric stack.
func TestCoordinatorIsPureGo(t *testing.T) {
	bad := map[string]string{
		"gorgonia.org":     "the coordinator never runs the network",
		mod + "/nn/mlp":    "the coordinator never runs the network",
		mod + "/losses":    "the coordinator never runs the network",
		mod + "/worker":    "the coordinator talks to workers through NATS only",
		mod + "/engine":    "the coordinator never runs the network",
		mod + "/allreduce": "the coordinator takes no part in gradient exchange",
	}
	for _, p := range []string{"coordinator", "job", "internal/wire", "checkpoint"} {
		t.Run(p, func(t *testing.T) { Check(t, mod+"/"+p, bad) })
	}
}

// The layers around the engine: cmd → services (worker, coordinator) →
// engine → networks (mlp, unet, nn) → numeric core.

// TestEngineIsBelowTheServices: the engine knows the job spec and the
// checkpoint files, nothing else of the distributed layer.
func TestEngineIsBelowTheServices(t *testing.T) {
	bad := map[string]string{
		"github.com/nats-io":           "the engine must not know about the message bus",
		"github.com/hashicorp/raft":    "the engine must not know about consensus",
		"go.uber.org/zap":              "the engine never logs; its callers do",
		mod + "/allreduce":             "the caller all-reduces the engine's buckets",
		mod + "/worker":                "the services are above the engine",
		mod + "/coordinator":           "the services are above the engine",
		mod + "/internal/localcluster": "the services are above the engine",
	}
	for _, p := range []string{"engine", "engine/enginetest"} {
		t.Run(p, func(t *testing.T) { Check(t, mod+"/"+p, bad) })
	}
}

// TestNetworksAreBelowTheEngine: the networks and the numeric core never
// reach up into the engine.
func TestNetworksAreBelowTheEngine(t *testing.T) {
	bad := map[string]string{mod + "/engine": "the engine is above the networks and the numeric core"}
	for _, p := range []string{"noise", "schedule", "losses", "samplers", "nn", "nn/mlp", "nn/unet", "toy2d/data", "metrics", "imagedata", "toy2d", "quality"} {
		t.Run(p, func(t *testing.T) { Check(t, mod+"/"+p, bad) })
	}
}

// TestServicesReachTheNetworksThroughTheEngine: the worker (training and
// sampling) and its binaries name no network package: a new engine (the
// GPU one) changes nothing in them. The worker may name the 2-D data and
// plots (toy2d/data, toy2d/plot), not toy2d itself. (levyctl still names
// toy2d for its in-process 2-D training, and unet for the feature
// classifier.)
func TestServicesReachTheNetworksThroughTheEngine(t *testing.T) {
	bad := map[string]string{
		mod + "/nn/mlp":  "networks are reached through package engine",
		mod + "/nn/unet": "networks are reached through package engine",
		mod + "/nn":      "networks are reached through package engine",
		mod + "/toy2d$":  "the 2-D models are loaded, sampled and scored through package engine",
		"gorgonia.org":   "networks are reached through package engine",
	}
	for _, p := range []string{"worker", "cmd/sampler", "cmd/worker"} {
		t.Run(p, func(t *testing.T) { CheckDirect(t, mod+"/"+p, bad) })
	}
}

// TestMatches: a key bans itself and what lies under it; a key ending in
// "$" bans only itself.
func TestMatches(t *testing.T) {
	for _, c := range []struct {
		dep, key string
		want     bool
	}{
		{mod + "/toy2d", mod + "/toy2d", true},
		{mod + "/toy2d/data", mod + "/toy2d", true},
		{mod + "/toy2dx", mod + "/toy2d", false},
		{mod + "/toy2d", mod + "/toy2d$", true},
		{mod + "/toy2d/data", mod + "/toy2d$", false},
	} {
		if got := matches(c.dep, c.key); got != c.want {
			t.Errorf("matches(%q, %q) = %v, want %v", c.dep, c.key, got, c.want)
		}
	}
}
