package main

import (
	"bufio"
	"context"
	"os"
	"strconv"

	"github.com/levy-ml/levy/noise"
)

func runNoise(ctx context.Context, args []string) error {
	fs := newFlags("noise")
	alpha := fs.Float64("alpha", 1.7, "tail index, in (0, 2]")
	n := fs.Int("n", 1000, "number of draws")
	dim := fs.Int("dim", 2, "dimension of each draw")
	nonIso := fs.Bool("non-isotropic", false, "one mixing variable per coordinate instead of per draw")
	seed := fs.Uint64("seed", 0, "random seed")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := noise.CheckAlpha(*alpha); err != nil {
		return flagError("alpha", *alpha, "outside (0, 2]")
	}
	if *n <= 0 {
		return flagError("n", *n, "must be > 0")
	}
	if *dim <= 0 {
		return flagError("dim", *dim, "must be > 0")
	}
	g := noise.Generator{Alpha: *alpha, NonIsotropic: *nonIso}
	rng := noise.Stream(*seed, noise.TagSample)
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	const chunk = 4096
	buf := make([]float32, chunk**dim)
	for done := 0; done < *n; done += chunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		m := min(chunk, *n-done)
		g.Fill(rng, buf[:m**dim], *dim, nil)
		for i := range m {
			for j := range *dim {
				if j > 0 {
					w.WriteByte(',')
				}
				w.WriteString(strconv.FormatFloat(float64(buf[i**dim+j]), 'g', -1, 32))
			}
			w.WriteByte('\n')
		}
	}
	return nil
}
