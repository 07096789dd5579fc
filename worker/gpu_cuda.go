//go:build cuda

package worker

import (
	"fmt"

	"github.com/levy-ml/levy/job"
)

// newGPUEngine is where the CUDA engine plugs in. gorgonia.org/cu does not
// compile against CUDA 13 (the GPU machines' toolkit; see
// ../shared/DEPENDENCIES.md §2), so this build refuses GPU requests with
// a clear error instead of pretending.
func newGPUEngine(gpu int, _ job.Spec, _ uint64) (Engine, error) {
	return nil, fmt.Errorf("%w: --gpu %d: the CUDA engine is not implemented in this version of levy; run with --gpu -1", ErrNoGPU, gpu)
}
