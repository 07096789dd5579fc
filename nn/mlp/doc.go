// Package mlp is the 2-D denoiser of docs/algorithms.md §6.3 on gorgonia, with its
// AdamW trainer and a fast forward pass for sampling. What it shares with
// the U-Net (Param, AdamW and its state, the gradient checks, the
// kernel-to-gorgonia adapter) lives in package nn.
//
// # Network
//
// For x [B,Dim] and τ [B,1] (float32):
//
//	temb = SiLU(Lin(T,T)(SiLU(Lin(1,T)(τ))))
//	h    = SiLU(LN(Lin(Dim,H)(x)))
//	Blocks times:  a = SiLU(LN(Lin(H,H)(h))) + SiLU(Lin(T,H)(temb))
//	               h = SiLU(LN(Lin(H,H)(a)) + h)
//	out  = Lin(H,Dim)(h)
//
// LN is LayerNorm with a learnt gain and bias, ε = 1e−5 and the biased
// variance (PyTorch's). DefaultConfig (Dim 2, H 64, 5 blocks, T 32) has
// 55 010 parameters; Model.Params documents their order and names.
//
// # Engine
//
// The training graph is a gorgonia ExprGraph differentiated by
// gorgonia.Grad and run by a tape machine. Its nodes are this package's
// own kernels (ops.go): Linear, LayerNorm(+SiLU), SiLU, Add and
// Add+SiLU, made gorgonia Ops with a symbolic derivative by nn.Apply.
// They run on float32 (and on float64, for the gradient checks) and
// reuse their output buffers between steps. On amd64 with AVX2 and FMA, the GEMM tiles and the
// SiLU run in assembly; elsewhere gonum's sgemm and a scalar exp do.
// They are written by hand because no maintained pure-Go library is fast
// enough here: gonum's sgemm reaches ≈13 GFLOP/s on these 1024×64×64
// products and the standard library has only a float64 exp; the
// assembly halved the step time (bench/README.md has the measurements).
// CPU features come from golang.org/x/sys/cpu.
// Rows are shared among GOMAXPROCS goroutines in fixed chunks, so a
// result does not depend on the number of cores.
//
// gorgonia's NewAdamW does not update the weights (v0.9.18), so the
// Trainer applies PyTorch's AdamW (nn.AdamW, through nn.Optimizer) on the
// flat weights and gradients; Grads exposes the gradients between
// Gradients and Apply for a data-parallel all-reduce.
//
// Model.Denoise runs the same kernels without a graph, in row chunks
// that stay in cache, and evaluates the time branch once when all τ are
// equal.
package mlp
