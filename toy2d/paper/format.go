package repro

import (
	"fmt"
	"io"
	"strings"
)

// WriteTable prints cells as a table shaped like the paper's: one block
// of rows per method (levy, the paper, p vs DLPM), one column per α.
func WriteTable(w io.Writer, c Config, cells []Cell) {
	metric := "MSLE at ξ = 0.95 (↓), isotropic α-stable data (α_data = 1.7, scale 0.05)"
	if c.Table == 2 {
		metric = fmt.Sprintf("F1 of PRD precision/recall (↑), 9-Gaussian grid (std %g)", c.GridStd)
	}
	train := fmt.Sprintf("%d epochs", c.Epochs)
	if c.Steps > 0 {
		train = fmt.Sprintf("%d steps", c.Steps)
	}
	fmt.Fprintf(w, "Table %d — %s; %d runs per cell, %s, T = %d, DLIM %d steps, %d points\n\n",
		c.Table, metric, c.Runs, train, c.T, c.DLIMSteps, c.N)
	byKey := map[string]Cell{}
	for _, cell := range cells {
		byKey[fmt.Sprintf("%s/%.2f", cell.Method, cell.Alpha)] = cell
	}
	const colW = 17
	head := fmt.Sprintf("%-12s", "method")
	for _, a := range c.Alphas {
		head += fmt.Sprintf(" | %-*s", colW, fmt.Sprintf("α = %.1f", a))
	}
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, strings.Repeat("-", len([]rune(head))))
	failed := failedRuns(c, cells)
	for _, m := range c.Methods {
		rows := []string{fmt.Sprintf("%-12s", strings.ToUpper(m)), fmt.Sprintf("%-12s", "  paper"), fmt.Sprintf("%-12s", "  p vs DLPM")}
		if len(failed) > 0 {
			rows = append(rows, fmt.Sprintf("%-12s", "  runs"))
		}
		any := false
		for _, a := range c.Alphas {
			cell, ok := byKey[fmt.Sprintf("%s/%.2f", m, a)]
			vals := []string{"–", "–", "", ""}
			if ok {
				any = true
				vals[0] = meanStd(cell)
				vals[3] = runCount(cell)
				if cell.Paper != nil {
					vals[1] = fmt.Sprintf("%.3f ± %.3f", cell.Paper.Mean, cell.Paper.Std)
				}
				if cell.PValue != nil {
					vals[2] = fmt.Sprintf("%.1e", *cell.PValue)
				}
			}
			for i := range rows {
				rows[i] += fmt.Sprintf(" | %-*s", colW, vals[i])
			}
		}
		if !any {
			continue
		}
		for _, r := range rows {
			fmt.Fprintln(w, strings.TrimRight(r, " "))
		}
	}
	if len(failed) > 0 {
		fmt.Fprintln(w, "\nFailed runs (left out of mean, std and p):")
		for _, f := range failed {
			fmt.Fprintln(w, "  "+f)
		}
	}
}

// meanStd formats a cell's mean ± std over its successful runs.
func meanStd(cell Cell) string {
	switch len(cell.Values) {
	case 0:
		return "–"
	case 1:
		return fmt.Sprintf("%.3f", cell.Mean)
	}
	return fmt.Sprintf("%.3f ± %.3f", cell.Mean, cell.Std)
}

// runCount gives the successful runs of a cell and, if any, the failed.
func runCount(cell Cell) string {
	s := fmt.Sprintf("n = %d", len(cell.Values))
	if len(cell.Failed) > 0 {
		s += fmt.Sprintf(" (%d failed)", len(cell.Failed))
	}
	return s
}

// failedRuns lists every failed run of cells, in table order, as
// "METHOD α = A run R: reason".
func failedRuns(c Config, cells []Cell) []string {
	var out []string
	for _, m := range c.Methods {
		for _, a := range c.Alphas {
			for _, cell := range cells {
				if cell.Method != m || fmt.Sprintf("%.2f", cell.Alpha) != fmt.Sprintf("%.2f", a) {
					continue
				}
				for _, f := range cell.Failed {
					out = append(out, fmt.Sprintf("%s α = %.1f run %d: %s", strings.ToUpper(m), a, f.Run, f.Reason))
				}
			}
		}
	}
	return out
}

// WriteMarkdown prints cells as a Markdown table: per method a row of
// levy's mean ± std (p vs DLPM), the paper's value and, where known, the
// official code's figure on this machine kind.
func WriteMarkdown(w io.Writer, c Config, cells []Cell) {
	byKey := map[string]Cell{}
	for _, cell := range cells {
		byKey[fmt.Sprintf("%s/%.2f", cell.Method, cell.Alpha)] = cell
	}
	fmt.Fprint(w, "| method | source |")
	for _, a := range c.Alphas {
		fmt.Fprintf(w, " α = %.1f |", a)
	}
	fmt.Fprint(w, "\n|---|---|")
	for range c.Alphas {
		fmt.Fprint(w, "---|")
	}
	fmt.Fprintln(w)
	for _, m := range c.Methods {
		var have bool
		for _, a := range c.Alphas {
			_, ok := byKey[fmt.Sprintf("%s/%.2f", m, a)]
			have = have || ok
		}
		if !have {
			continue
		}
		rows := []struct {
			src string
			get func(a float64) string
		}{
			{"levy", func(a float64) string {
				cell, ok := byKey[fmt.Sprintf("%s/%.2f", m, a)]
				if !ok {
					return "–"
				}
				s := meanStd(cell)
				if cell.PValue != nil {
					s += fmt.Sprintf(" (p %.1e)", *cell.PValue)
				}
				if len(cell.Failed) > 0 {
					s += ", " + runCount(cell)
				}
				return s
			}},
			{"paper", func(a float64) string {
				if p, ok := PaperValue(c.Table, m, a); ok {
					return fmt.Sprintf("%.3f ± %.3f", p.Mean, p.Std)
				}
				return "–"
			}},
			{officialLabel(c), func(a float64) string {
				if c.Steps > 0 {
					return "–"
				}
				if p, ok := OfficialValue(c.Epochs, c.Table, m, a); ok {
					if p.Std == 0 {
						return fmt.Sprintf("%.3f", p.Mean)
					}
					return fmt.Sprintf("%.3f ± %.3f", p.Mean, p.Std)
				}
				return "–"
			}},
		}
		for i, r := range rows {
			name := ""
			if i == 0 {
				name = "**" + strings.ToUpper(m) + "**"
			}
			fmt.Fprintf(w, "| %s | %s |", name, r.src)
			for _, a := range c.Alphas {
				fmt.Fprintf(w, " %s |", r.get(a))
			}
			fmt.Fprintln(w)
		}
	}
	if failed := failedRuns(c, cells); len(failed) > 0 {
		fmt.Fprint(w, "\nFailed runs (left out of mean, std and p):\n\n")
		for _, f := range failed {
			fmt.Fprintln(w, "- "+f)
		}
	}
}

func officialLabel(c Config) string {
	if c.Steps > 0 {
		return fmt.Sprintf("official code, 2 cores, %d steps", c.Steps)
	}
	return fmt.Sprintf("official code, 2 cores, %d epochs", c.Epochs)
}
