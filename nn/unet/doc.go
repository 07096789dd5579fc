// Package unet is the improved-DDPM U-Net of docs/algorithms.md §8.1 on
// gorgonia: residual blocks with GroupNorm, SiLU and scale-shift time
// conditioning, a sinusoidal embedding of the scaled time, multi-head
// self-attention at chosen resolutions and in the middle block, stride-2
// convolutions down and nearest upsampling with a 3×3 convolution up,
// and zero-initialised output convolutions.
//
// gorgonia's GroupNorm (wrong for groups of ≥ 512 values, logs every
// backward pass), its AveragePool2D gradient and its missing transposed
// convolution are avoided: the blocks are nn.Fn kernels (fns.go) whose
// forward and backward passes are levy's kernels (kernels.go: im2col
// convolution on levy's GEMM, group norm, attention), each checked
// against finite differences in grad_test.go, and nn.Apply makes them
// gorgonia nodes. Weights, AdamW and its state come from package nn.
//
// The package also holds the small Fashion-MNIST classifier whose
// penultimate features score generated images (classifier.go).
package unet
