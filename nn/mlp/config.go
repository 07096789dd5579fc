package mlp

import "fmt"

// Config sizes the network.
type Config struct {
	Dim       int `json:"dim"`        // data dimension (input and output width)
	Hidden    int `json:"hidden"`     // width of the blocks
	Blocks    int `json:"blocks"`     // blocks after the in-block, the last one being the output block
	TimeEmbed int `json:"time_embed"` // width of the learnt time embedding
}

// DefaultConfig returns the 2-D network of docs/algorithms.md §6.3: 55 010 parameters.
func DefaultConfig() Config { return Config{Dim: 2, Hidden: 64, Blocks: 5, TimeEmbed: 32} }

// Validate reports the first field that is out of range, by name and value.
func (c Config) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"Dim", c.Dim}, {"Hidden", c.Hidden}, {"Blocks", c.Blocks}, {"TimeEmbed", c.TimeEmbed}} {
		if f.v <= 0 {
			return fmt.Errorf("mlp: Config.%s = %d, want > 0", f.name, f.v)
		}
		if f.v > 1<<16 {
			return fmt.Errorf("mlp: Config.%s = %d, want ≤ %d", f.name, f.v, 1<<16)
		}
	}
	return nil
}

// NumParams is the number of scalar parameters of the network.
func (c Config) NumParams() int {
	d, h, b, t := c.Dim, c.Hidden, c.Blocks, c.TimeEmbed
	lin := func(in, out int) int { return in*out + out }
	timeEmb := lin(1, t) + lin(t, t)
	in := lin(d, h) + 2*h
	block := lin(h, h) + 2*h + lin(t, h) + lin(h, h) + 2*h
	return timeEmb + in + b*block + lin(h, d)
}
