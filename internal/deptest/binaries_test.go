package deptest

import "testing"

// TestBinariesLinkOnlyWhatTheyNeed: a worker or sampling host needs no
// consensus library, and no binary links the cgo CUDA bindings
// (gorgonia.org/cu needs CUDA ≤ 12 headers at build time and breaks the
// static FROM-scratch images; levy's GPU engine loads CUDA at run time).
func TestBinariesLinkOnlyWhatTheyNeed(t *testing.T) {
	cu := map[string]string{"gorgonia.org/cu": "no cgo CUDA bindings in any binary"}
	for _, c := range []string{"coordinator", "worker", "sampler", "levyctl"} {
		t.Run(c, func(t *testing.T) { Check(t, mod+"/cmd/"+c, cu) })
	}
	noRaft := map[string]string{
		"github.com/hashicorp/raft": "workers and samplers take no part in consensus",
		"go.etcd.io/bbolt":          "workers and samplers keep no raft log",
		"github.com/boltdb/bolt":    "workers and samplers keep no raft log",
		mod + "/coordinator":        "workers and samplers talk to the coordinator through NATS only",
	}
	for _, c := range []string{"worker", "sampler"} {
		t.Run(c+"-no-raft", func(t *testing.T) { Check(t, mod+"/cmd/"+c, noRaft) })
	}
}
