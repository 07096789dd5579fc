package engine

import (
	"github.com/levy-ml/levy/job"
	"github.com/levy-ml/levy/losses"
	"github.com/levy-ml/levy/nn"
	"github.com/levy-ml/levy/nn/mlp"
	"github.com/levy-ml/levy/nn/unet"
	"github.com/levy-ml/levy/noise"
)

// MLPConfig is a 2-D job's network.
func MLPConfig(s job.Spec) mlp.Config {
	return mlp.Config{Dim: 2, Hidden: s.Model.Hidden, Blocks: s.Model.Blocks, TimeEmbed: s.Model.TimeEmbed}
}

// UNetConfig is an image job's network.
func UNetConfig(s job.Spec) unet.Config {
	c, size := job.ImageShape(s.Dataset)
	u := s.UNet
	if u == nil {
		u = job.DefaultImage(s.Dataset).UNet
	}
	return unet.Config{ImageSize: size, InChannels: c, ModelChannels: u.ModelChannels,
		ChannelMult: append([]int(nil), u.ChannelMult...), NumResBlocks: u.NumResBlocks,
		AttentionDS: append([]int(nil), u.AttentionDS...), NumHeads: u.NumHeads, Dropout: u.Dropout, NormGroups: u.NormGroups}
}

// AdamW is the job's optimiser (PyTorch's betas and eps).
func AdamW(s job.Spec) nn.AdamW {
	o := nn.DefaultAdamW()
	o.LR, o.WeightDecay = s.LR, s.WeightDecay
	return o
}

// UNetOptim is an image job's optimiser: AdamW with clipping and the
// learning-rate decay.
func UNetOptim(s job.Spec) unet.Optim {
	return unet.Optim{AdamW: AdamW(s), ClipNorm: s.ClipNorm, LRDecay: s.LRDecay, LRDecayEvery: s.LRDecayEvery}
}

// NoiseConfig is the job's training-noise configuration (what the
// caller's losses.Noiser needs to make a Batch).
func NoiseConfig(s job.Spec) losses.Config {
	return losses.Config{Method: s.Method, Alpha: s.Alpha, T: s.T, ClampA: s.ClampA, ClampEps: s.ClampEps}
}

// InitSeed is the seed of a job's initial weights: every rank draws the
// same ones.
func InitSeed(seed uint64) uint64 { return noise.Stream(seed, noise.TagInit).Uint64() }
