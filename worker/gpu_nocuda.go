//go:build !cuda

package worker

import (
	"fmt"

	"github.com/levy-ml/levy/job"
)

func newGPUEngine(gpu int, _ job.Spec, _ uint64) (Engine, error) {
	return nil, fmt.Errorf("%w: --gpu %d asked for a GPU, but this binary was built without CUDA (build with -tags cuda on a machine with the CUDA toolkit), or run with --gpu -1 to train on the CPU", ErrNoGPU, gpu)
}
