// Package enginetest is the conformance suite of package engine: Run
// holds an Engine to the contract of engine's package doc ("Writing an
// engine"). Every engine runs it in its tests, the CPU engines in CI and
// the GPU engine on a GPU machine:
//
//   - Layout: the parameters tile the flat gradient, the buckets tile it
//     too, and Buckets has their lengths plus the caller's reserve;
//   - Train: Backward and Apply train the job to a finite loss whose
//     mean over the last ten steps is below Suite.Decrease times the
//     mean over the first ten (the 2-D job: 100 steps of batch 256);
//   - Protocol: ready is called once per bucket in order before Backward
//     returns, and no call touches the caller's reserve;
//   - Checkpoint: Snapshot → checkpoint files on disk → ReadState →
//     Restore into a new engine gives back the parameters, the EMA, the
//     moments and the step bit for bit, and the next step is the same;
//   - NonFinite: a NaN in the batch returns an error wrapping
//     engine.ErrNonFinite, calls no ready, and leaves the buckets and the
//     parameters as they were;
//   - Reference: from the same state and batch, the loss and the
//     gradient agree with engine.NewCPU's within Suite.Tolerance
//     (relative error; relative L2 norm for the gradient).
package enginetest
