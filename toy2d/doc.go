// Package toy2d runs the 2-D experiments of the DLPM paper in one process:
// train the MLP of docs/algorithms.md §6.3 on a 2-D dataset with DLPM, LIM or DDPM,
// save and load it, sample with any sampler, and score the samples.
//
// Randomness: the dataset comes from Stream(seed, TagData), the data
// order of epoch e from Stream(seed, TagShuf, e), the training noise of
// step s from Stream(seed, TagTrain, s) and the weights from
// Stream(seed, TagInit); so a run is fully determined by its seed.
package toy2d
