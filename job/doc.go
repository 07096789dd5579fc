// Package job describes a training job of levy's data-parallel trainer:
// the method and its α, the dataset, the model size, the schedule length,
// the global batch and optimiser, the number of steps, checkpointing and
// the sampling that follows each checkpoint.
//
// A Spec is read from YAML or JSON (YAML being a superset of JSON, one
// strict decoder reads both; unknown fields are refused), completed with
// defaults and validated before anything starts. Every validation error
// names the field, its value and the reason:
//
//	job: field "alpha" = 2.5: want a tail index in (0, 2]
//
// Default is the one-command job: DLPM with α = 1.7 on the 9-Gaussian
// grid, the released 2-D network and optimiser.
package job
