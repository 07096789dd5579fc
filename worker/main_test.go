package worker

import (
	"os"
	"testing"

	"github.com/levy-ml/levy/job"
)

// TestMain builds one training graph before any test runs. gorgonia's
// Grad adds its package-level constant onef32 to every graph and hashes
// it lazily (Node.Hashcode writes the cached hash on first use), so the
// first two trainers of a process that differentiate at the same time
// race on it. Worker tests run several ranks in one process; in
// production each rank is a process of its own.
func TestMain(m *testing.M) {
	e, err := NewEngine(-1, job.Default(), 1)
	if err != nil {
		panic(err)
	}
	d := 2
	if _, err := e.Gradients(make([]float32, d), []float32{1}, make([]float32, d)); err != nil {
		panic(err)
	}
	e.Close()
	os.Exit(m.Run())
}
