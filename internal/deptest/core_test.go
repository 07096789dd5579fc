package deptest

import "testing"

const mod = "github.com/levy-ml/levy"

// The numeric core never touches the distributed layer (DEVELOPERS.md).
var distributed = map[string]string{
	"github.com/nats-io":        "the numeric core must not know about the message bus",
	"github.com/hashicorp/raft": "the numeric core must not know about consensus",
	"go.uber.org/zap":           "the numeric core never logs",
	mod + "/allreduce":          "distributed layer",
	mod + "/worker":             "distributed layer",
	mod + "/coordinator":        "distributed layer",
	mod + "/checkpoint":         "distributed layer (storage)",
	mod + "/internal/wire":      "distributed layer (wire messages)",
	mod + "/local":              "distributed layer (in-process cluster)",
	mod + "/job":                "distributed layer (job specs)",
	"gorgonia.org/cu":           "GPU code lives behind the cuda build tag",
}

func TestCoreImports(t *testing.T) {
	for _, p := range []string{"noise", "schedule", "losses", "samplers", "nn", "mlp", "data2d", "metrics", "unet", "imagedata", "internal/kern"} {
		t.Run(p, func(t *testing.T) { Check(t, mod+"/"+p, distributed) })
	}
}

// TestNetworksAreIndependent: the MLP and the U-Net share their common
// parts through nn, never through each other.
func TestNetworksAreIndependent(t *testing.T) {
	Check(t, mod+"/mlp", map[string]string{mod + "/unet": "the networks share code through nn only"})
	Check(t, mod+"/unet", map[string]string{mod + "/mlp": "the networks share code through nn only"})
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
		mod + "/mlp":       "the coordinator never runs the network",
		mod + "/losses":    "the coordinator never runs the network",
		mod + "/worker":    "the coordinator talks to workers through NATS only",
		mod + "/allreduce": "the coordinator takes no part in gradient exchange",
	}
	for _, p := range []string{"coordinator", "job", "internal/wire", "checkpoint"} {
		t.Run(p, func(t *testing.T) { Check(t, mod+"/"+p, bad) })
	}
}
