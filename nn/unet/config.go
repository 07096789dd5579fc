package unet

import (
	"fmt"
	"slices"
)

// Config sizes the U-Net (improved-DDPM's UNetModel with
// use_scale_shift_norm, docs/algorithms.md §8.1).
type Config struct {
	ImageSize     int   `json:"image_size"`     // H = W, divisible by 2^(len(ChannelMult)−1)
	InChannels    int   `json:"in_channels"`    // 1 (MNIST-like) or 3
	ModelChannels int   `json:"model_channels"` // channels at full resolution
	ChannelMult   []int `json:"channel_mult"`   // per resolution level
	NumResBlocks  int   `json:"num_res_blocks"` // per level
	// AttentionDS lists the downsampling factors (1, 2, 4, …) whose
	// levels get self-attention after each residual block; the middle
	// block always has one.
	AttentionDS []int   `json:"attention_ds"`
	NumHeads    int     `json:"num_heads"`
	Dropout     float64 `json:"dropout"`
	// NormGroups is GroupNorm's group count (32 in improved-DDPM); a layer
	// with fewer channels uses one group per channel.
	NormGroups int `json:"norm_groups"`
}

// DefaultConfig is the CPU-sized Fashion-MNIST network: docs/algorithms.md §8.1's
// MNIST U-Net (32 channels, (1,2,2,2), 2 blocks, attention at 16² and
// 8², 4 heads) cut to what two cores train in an hour: multipliers
// (1,2,2), one residual block per level, attention at 8² and in the
// middle.
func DefaultConfig() Config {
	return Config{ImageSize: 32, InChannels: 1, ModelChannels: 32, ChannelMult: []int{1, 2, 2}, NumResBlocks: 1,
		AttentionDS: []int{4}, NumHeads: 4, NormGroups: 32}
}

// PaperMNIST is docs/algorithms.md §8.1's MNIST network as released.
func PaperMNIST() Config {
	return Config{ImageSize: 32, InChannels: 1, ModelChannels: 32, ChannelMult: []int{1, 2, 2, 2}, NumResBlocks: 2,
		AttentionDS: []int{2, 4}, NumHeads: 4, NormGroups: 32}
}

// TimeEmbed is the width of the time embedding: 4 × ModelChannels.
func (c Config) TimeEmbed() int { return 4 * c.ModelChannels }

func (c Config) groups(ch int) int { return min(c.NormGroups, ch) }

// Validate reports the first bad field.
func (c Config) Validate() error {
	bad := func(field string, v any, why string) error {
		return fmt.Errorf("unet: Config.%s = %v: %s", field, v, why)
	}
	switch {
	case c.InChannels < 1 || c.InChannels > 16:
		return bad("InChannels", c.InChannels, "want 1 … 16")
	case c.ModelChannels < 1 || c.ModelChannels > 1024:
		return bad("ModelChannels", c.ModelChannels, "want 1 … 1024")
	case len(c.ChannelMult) == 0 || len(c.ChannelMult) > 8:
		return bad("ChannelMult", c.ChannelMult, "want 1 … 8 levels")
	case c.NumResBlocks < 1 || c.NumResBlocks > 8:
		return bad("NumResBlocks", c.NumResBlocks, "want 1 … 8")
	case c.NumHeads < 1:
		return bad("NumHeads", c.NumHeads, "want ≥ 1")
	case !(c.Dropout >= 0 && c.Dropout < 1):
		return bad("Dropout", c.Dropout, "want [0, 1)")
	case c.NormGroups < 1:
		return bad("NormGroups", c.NormGroups, "want ≥ 1")
	}
	down := 1 << (len(c.ChannelMult) - 1)
	if c.ImageSize < down || c.ImageSize%down != 0 || c.ImageSize > 1024 {
		return bad("ImageSize", c.ImageSize, fmt.Sprintf("want a multiple of %d (2^(levels−1)), ≤ 1024", down))
	}
	for _, m := range c.ChannelMult {
		if m < 1 || m > 64 {
			return bad("ChannelMult", c.ChannelMult, "want multipliers 1 … 64")
		}
		ch := m * c.ModelChannels
		if ch%c.groups(ch) != 0 {
			return bad("NormGroups", c.NormGroups, fmt.Sprintf("%d channels do not split into %d groups", ch, c.groups(ch)))
		}
		if ch%c.NumHeads != 0 {
			return bad("NumHeads", c.NumHeads, fmt.Sprintf("%d channels do not split into %d heads", ch, c.NumHeads))
		}
	}
	if c.ModelChannels%c.groups(c.ModelChannels) != 0 {
		return bad("NormGroups", c.NormGroups, "does not divide ModelChannels")
	}
	for _, ds := range c.AttentionDS {
		if ds < 1 || ds > down || ds&(ds-1) != 0 {
			return bad("AttentionDS", c.AttentionDS, fmt.Sprintf("want powers of two in 1 … %d", down))
		}
	}
	return nil
}

func (c Config) attnAt(ds int) bool { return slices.Contains(c.AttentionDS, ds) }
