// Package nn holds what levy's two networks (the 2-D MLP of package mlp
// and the U-Net of package unet) share, so that neither imports the
// other:
//
//   - Param, a named weight tensor aliasing a network's flat weights;
//   - AdamW, PyTorch's optimiser (DefaultAdamW, Validate, Update), and
//     OptimState, its state in checkpoints;
//   - Optimizer, a trainer's state between steps: the gradients
//     accumulated since the last update, checked for NaN and ±Inf
//     (AccumulateGrads, ErrNonFinite), and the AdamW moments;
//   - NewGraph, the one way to start a gorgonia graph (it makes building
//     graphs from several goroutines race-free);
//   - Fn and Apply, the adapter that turns a differentiable kernel pair
//     (forward, backward) into gorgonia nodes with a symbolic derivative.
//
// The networks keep their own kernels, their graph building and their
// training loops. Like the rest of the numeric core, nn knows nothing of
// the distributed layer (internal/deptest checks it).
package nn
