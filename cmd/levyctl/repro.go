package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/levy-ml/levy/internal/atomicfile"
	"github.com/levy-ml/levy/toy2d/paper"
)

func runRepro(ctx context.Context, args []string) error {
	def := repro.DefaultConfig(2)
	fs := newFlags("repro")
	table := fs.Int("table", 2, "1 (MSLE on α-stable data) or 2 (PRD F1 on the grid)")
	alphas := fs.String("alpha", "1.5,1.6,1.7,1.8,1.9,2.0", "comma-separated diffusion α values (table columns)")
	methods := fs.String("methods", "dlpm,dlim,lim,ddpm", "comma-separated rows: dlpm, dlim, lim, ddpm (ddpm only at α = 2)")
	runs := fs.Int("runs", def.Runs, "independent seeds per cell")
	epochs := fs.Int("epochs", def.Epochs, "training epochs (released: 20)")
	steps := fs.Int("steps", 0, "training steps (overrides --epochs when > 0)")
	T := fs.Int("T", def.T, "schedule length and DLPM/LIM/DDPM sampler steps")
	dlimSteps := fs.Int("dlim-steps", def.DLIMSteps, "DLIM sampler steps")
	n := fs.Int("n", def.N, "generated and real points per run")
	gridStd := fs.Float64("grid-std", def.GridStd, "grid component std (0.1 released, 0.05 printed)")
	par := fs.Int("parallel", def.Parallel, "runs trained at once")
	seed := fs.Uint64("seed", 0, "base seed")
	asJSON := fs.Bool("json", false, "print one JSON object per cell instead of the table")
	asMD := fs.Bool("markdown", false, "print a Markdown table (levy, the paper, the official code) instead of the text table")
	from := fs.String("from", "", "render the cells saved in FILE.jsonl by --save instead of running (with the same --table; --epochs for files that do not record it)")
	save := fs.String("save", "", "also write PREFIX.jsonl (the cells) and PREFIX.md (the Markdown table)")
	if err := parse(fs, args); err != nil {
		return err
	}
	c := def
	c.Table, c.Runs, c.Epochs, c.Steps, c.T, c.DLIMSteps, c.N, c.GridStd, c.Parallel, c.Seed =
		*table, *runs, *epochs, *steps, *T, *dlimSteps, *n, *gridStd, *par, *seed
	if *table != 1 && *table != 2 {
		return flagError("table", *table, "want 1 or 2")
	}
	c.Alphas = nil
	for _, s := range strings.Split(*alphas, ",") {
		a, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return flagError("alpha", *alphas, fmt.Sprintf("%q is not a number", s))
		}
		if !(a > 1 && a <= 2) {
			return flagError("alpha", *alphas, fmt.Sprintf("%v is outside (1, 2]", a))
		}
		c.Alphas = append(c.Alphas, a)
	}
	c.Methods = nil
	for _, m := range strings.Split(*methods, ",") {
		m = strings.TrimSpace(m)
		switch m {
		case repro.DLPM, repro.DLIM, repro.LIM, repro.DDPM:
			c.Methods = append(c.Methods, m)
		default:
			return flagError("methods", *methods, fmt.Sprintf("unknown method %q (want dlpm, dlim, lim or ddpm)", m))
		}
	}
	if err := c.Validate(); err != nil {
		return err
	}
	start := time.Now()
	var cells []repro.Cell
	var err error
	if *from != "" {
		cells, err = loadCells(*from, &c)
	} else {
		cells, err = repro.Run(ctx, c, func(format string, a ...any) {
			fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Since(start).Round(time.Second)}, a...)...)
		})
	}
	if err != nil {
		return err
	}
	if *save != "" {
		if err := saveCells(*save, c, cells); err != nil {
			return err
		}
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		for _, cell := range cells {
			if err := enc.Encode(cell); err != nil {
				return err
			}
		}
		return nil
	}
	if *asMD {
		repro.WriteMarkdown(os.Stdout, c, cells)
	} else {
		repro.WriteTable(os.Stdout, c, cells)
	}
	if *from == "" {
		fmt.Fprintf(os.Stderr, "wall time: %s\n", time.Since(start).Round(time.Second))
	}
	return nil
}

func saveCells(prefix string, c repro.Config, cells []repro.Cell) error {
	err := atomicfile.Write(prefix+".jsonl", 0o644, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, cell := range cells {
			if err := enc.Encode(cell); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return atomicfile.Write(prefix+".md", 0o644, func(w io.Writer) error {
		repro.WriteMarkdown(w, c, cells)
		return nil
	})
}

// loadCells reads cells saved by --save and narrows c's α and methods to
// those present.
func loadCells(path string, c *repro.Config) ([]repro.Cell, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, flagError("from", path, err.Error())
	}
	var cells []repro.Cell
	var alphas []float64
	var methods []string
	dec := json.NewDecoder(strings.NewReader(string(b)))
	for dec.More() {
		var cell repro.Cell
		if err := dec.Decode(&cell); err != nil {
			return nil, flagError("from", path, "not a --save .jsonl file: "+err.Error())
		}
		if cell.Table != c.Table {
			return nil, flagError("from", path, fmt.Sprintf("holds table %d, not --table %d", cell.Table, c.Table))
		}
		if !slices.Contains(alphas, cell.Alpha) {
			alphas = append(alphas, cell.Alpha)
		}
		if !slices.Contains(methods, cell.Method) {
			methods = append(methods, cell.Method)
		}
		cells = append(cells, cell)
	}
	slices.Sort(alphas)
	c.Alphas, c.Methods = alphas, methods
	if len(cells) > 0 {
		c.Runs = cells[0].Runs
		if cells[0].Epochs > 0 || cells[0].TrainSteps > 0 { // files written before these fields keep the flags
			c.Epochs, c.Steps = cells[0].Epochs, cells[0].TrainSteps
		}
	}
	return cells, nil
}
