// Package engine is the one seam between a job and a network on a
// device. The services (package worker: training and sampling; the
// levyctl command) reach the networks only through it; it reaches them
// through their packages (mlp, unet, nn) and the numeric core (losses,
// samplers, noise, metrics, toy). It knows nothing of the distributed
// layer: no all-reduce, no NATS, no coordinator (internal/deptest checks
// both directions).
//
// It holds:
//
//   - Engine, the network of a training job on one device, and New,
//     which picks it: Config.Device −1 is the CPU (NewCPU: NewMLP for
//     2-D jobs, NewUNet for image jobs); a GPU number goes to the GPU
//     probe (gpu.go), which today answers ErrNoGPU;
//   - the job's network, optimiser and noise configurations (MLPConfig,
//     UNetConfig, AdamW, UNetOptim, NoiseConfig, InitSeed) and its data
//     (Points, OpenImages);
//   - an engine's state in checkpoints: Files and ReadState, whose
//     files (ModelFile, EMAFile, OptimFile; optimiser tensors "m.<param>"
//     and "v.<param>" with the step in the metadata) are the ones levy
//     has always written;
//   - Model, a trained network loaded for sampling (Load, FromCheckpoint)
//     from a checkpoint or a levyctl model directory, with Sample, and
//     the scorers of its samples (Model.ScorePoints for 2-D models,
//     Scorers for images, which caches the real images' features).
//
// # Names
//
// The training methods (dlpm, lim, ddpm), the sampler names and the
// table of which samplers fit which method are defined once, in package
// samplers (samplers.Methods, samplers.Names, samplers.Compatible,
// samplers.Fits): it is the lowest package that uses them all, and the
// only one every user can import: losses, and the job spec, which must
// not link gorgonia (so neither losses nor this package). losses, job
// and repro name the methods through those constants.
//
// # Writing an engine
//
// A new engine (the GPU one) is one more file set in this package that
// makes New return it for its devices, by replacing gpuProbe; nothing
// else changes. It implements every method of Engine, and package
// enginetest holds it to this contract:
//
//  1. Parameters are initialised from InitSeed(Config.Spec.Seed) as
//     NewCPU initialises them (every rank, every engine, starts from the
//     same weights), and live on the device with the EMA (initially the
//     weights) and the AdamW state (Config.Spec's optimiser: AdamW, and
//     for image jobs UNetOptim's clipping and learning-rate decay).
//  2. Layout names the parameters, with shapes, in one fixed order, and
//     cuts the flat gradient into buckets of consecutive ranges.
//     Buckets returns one host-visible buffer per bucket (pinned memory
//     on a GPU), owned by the engine and valid until Close; the last has
//     Config.Reserve floats after its gradient that the engine never
//     reads or writes (the worker all-reduces its control words there).
//  3. Backward(step, batch, ready) runs the network and adds the
//     gradient of the batch's mean loss into the buckets; adding (not
//     overwriting) lets micro-batches accumulate. It calls ready(i) once
//     per bucket, in increasing i, when bucket i holds its final sum (so
//     the caller can all-reduce it while the rest of the backward pass
//     runs), the last before it returns. The draws of the network
//     (dropout) come from (Spec.Seed, TagDrop, step.Index, step.Rank).
//     A NaN or infinite loss or gradient returns an error wrapping
//     ErrNonFinite (nn.ErrNonFinite); a non-finite loss is seen before
//     any bucket changes, and a bucket with a non-finite gradient is
//     never added to nor readied.
//  4. Between Backward and Apply the caller may change the buckets'
//     contents in place (weigh them, average them over the ring). Apply
//     takes the optimiser step with them, then updates the EMA exactly
//     as e ← d·e + (1−d)·w in float32 for every parameter w (d =
//     float32(Spec.EMA)), then zeroes the buckets' gradients. ZeroGrad
//     zeroes them without a step (a skipped step).
//  5. Snapshot copies the weights, the EMA and the optimiser state (step
//     count and moments) to the host; Restore sets them, bit for bit, so
//     that the next step is the same as without the round trip.
//     Snapshot and Restore are the only ways parameters leave or enter
//     the device.
//  6. Loss and gradients agree with NewCPU's for the same weights and
//     batch: relative L2 error ≤ 1e-5 for a float32 CPU engine, ≤ 1e-4
//     for a GPU engine (a different summation order in float32 and
//     fused kernels; issue 14's tolerance).
//
// The CPU engines have one bucket (the whole flat gradient, ready once
// at the end of Backward); they keep the gradient of the gorgonia
// trainer in a buffer of their own, so the caller's reduction and
// Apply see the same bits as when the trainer was driven directly.
package engine
