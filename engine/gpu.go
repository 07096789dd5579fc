package engine

import "fmt"

// gpuProbe makes the engine of a Config whose Device is a GPU. This is
// the seam of the GPU engine: its file set (in this package, loading
// its CUDA library at run time, so no build tag) replaces gpuProbe from
// an init function with one that finds the device or says why not.
// Nothing else changes for it.
var gpuProbe = func(cfg Config) (Engine, error) {
	return nil, fmt.Errorf("%w: --gpu %d asked for a GPU, but this levy runs without CUDA (there is no CUDA engine yet); run with --gpu -1 to train on the CPU", ErrNoGPU, cfg.Device)
}
