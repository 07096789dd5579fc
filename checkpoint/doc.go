// Package checkpoint stores the training checkpoints of levy's
// data-parallel trainer on shared storage, where the resume path and a
// separate sampler process read them. Checkpoints are atomic, checksummed
// and self-describing; a truncated or corrupted one is detected and
// skipped in favour of the previous good one.
//
// # Layout
//
// One directory per checkpoint, named after the optimizer steps completed:
//
//	runs/<job>/checkpoints/            the root passed to Save, List, Latest
//	    step-00000640/
//	        model.safetensors          model weights
//	        ema.safetensors            EMA weights
//	        optim.safetensors          optimizer state (e.g. Adam moments)
//	        manifest.json              written last: the commit marker
//	    step-00000960/
//	        …
//	    .tmp-step-00001280-123456/     a save in progress (or a crashed one)
//
// Which safetensors files a checkpoint holds is the caller's choice; the
// names above are the trainer's convention. Each is plain safetensors (F32
// tensors, little-endian, row-major, header padded with spaces to 8
// bytes) and loads in Python with safetensors.torch.load_file or
// safetensors.numpy.load_file; see testdata/README.md.
//
// # Manifest
//
// manifest.json is a JSON object with exactly these fields (ParseManifest
// rejects unknown ones):
//
//	format      FormatVersion (1); any other value is rejected
//	job         the job spec the run was started with, a JSON object, verbatim
//	step        optimizer steps completed; equals the directory's number
//	epoch       epochs completed
//	rng         {"seed", "scheme", "next_step"}: the run seed, how every
//	            stream derives from (seed, rank, step), e.g.
//	            "pcg(splitmix(seed,tag,step,index))", and the step whose draws
//	            come next, so a resume reproduces the draws
//	files       {"model.safetensors": {"bytes": 1234, "sha256": "<64 hex>"}, …}:
//	            every file of the checkpoint with its size and SHA-256
//	created     when it was saved (RFC 3339, UTC)
//	extra       optional string map, e.g. {"loss": "0.0314"}
//
// # Atomic protocol
//
// Save creates root if need be (MkdirAll: the parent of each directory it
// creates is fsynced), then writes everything into a fresh hidden
// directory root/.tmp-step-N-*: each safetensors file is written, fsynced
// and closed, its size and SHA-256 recorded; then manifest.json is
// written and fsynced last; then
// the temporary directory is fsynced, renamed to root/step-N, and root is
// fsynced. A crash before the rename leaves only a hidden directory, which
// List and Latest ignore and the next Save removes; after the rename the
// checkpoint is complete. If step-N already exists (the same step saved
// again after a resume), it is renamed to root/.old-step-N-* before the new
// one is renamed in, and removed after; if a crash strands it there, the
// next Save renames it back unless a new step-N exists. A Save that fails
// removes its temporary directory and leaves every earlier checkpoint as
// it was. Save assumes one writer per root.
//
// Readers trust a checkpoint only if its manifest parses and validates and
// every listed file has the recorded size and SHA-256 (Load and Verify;
// Load also decodes the tensors). Latest walks the checkpoints from the
// newest and returns the first good one, reporting each skipped one with
// an error wrapping ErrCorrupt that names the offending file.
//
// The same discipline is offered for the files a run keeps beside its
// checkpoints (the sampler's): WriteFileAtomic writes a temporary file,
// fsyncs it, renames it into place and fsyncs the directory (the
// repository's one internal/atomicfile, behind the fault hook);
// WriteDirAtomic does the same for a whole directory of files.
//
// # Retention
//
// After a successful commit, Save keeps the keep newest checkpoints by
// step and the one it just wrote (which is the newest unless an older step
// was saved again), and removes the others: each is first renamed to a
// hidden root/.del-step-N, so a crash mid-removal leaves nothing that
// looks like a checkpoint, then deleted. keep ≤ 0 keeps everything.
// Nothing is removed when the save fails.
package checkpoint
