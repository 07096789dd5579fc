package repro

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/levy-ml/levy/metrics"
)

// specTables is docs/algorithms.md §9.1, Tables 1 and 2, as printed there.
const specTables = `
| α | 1.5 | 1.6 | 1.7 | 1.8 | 1.9 | 2.0 |
|---|---|---|---|---|---|---|
| DLPM | 0.160±0.128 | 0.081±0.078 | 0.071±0.028 | 0.099±0.044 | 0.132±0.101 | 0.798±0.601 |
| DDPM | – | – | – | – | – | 0.528±0.400 |
| LIM | 0.743±0.290 | 0.497±0.311 | 0.267±0.077 | 0.653±0.413 | 2.444±1.067 | 1.239±0.240 |
| p (LIM) | 1.0e−8 | 8.6e−6 | 1.3e−10 | 8.8e−6 | 7.9e−9 | 5.0e−3 |

| α | 1.5 | 1.6 | 1.7 | 1.8 | 1.9 | 2.0 |
|---|---|---|---|---|---|---|
| DLPM | 0.933±0.018 | 0.923±0.005 | 0.933±0.028 | 0.923±0.024 | 0.907±0.034 | 0.862±0.028 |
| DLPM_s | 0.944±0.013 | 0.943±0.021 | 0.943±0.010 | 0.941±0.014 | 0.928±0.016 | – |
| p | 9.0e−3 | 1.6e−5 | 7.4e−2 | 9.0e−4 | 3.9e−3 | |
| LIM | 0.842±0.039 | 0.850±0.046 | 0.868±0.034 | 0.874±0.030 | 0.884±0.017 | 0.874±0.027 |
| p | 1.7e−14 | 1.3e−9 | 5.7e−11 | 3.9e−9 | 1.9e−3 | 9.6e−2 |
| DDPM | – | – | – | – | – | 0.867±0.029 (p 0.5) |
`

// specCell is one printed entry: mean ± std and, where printed, the
// p-value of the row against DLPM in the same column.
type specCell struct {
	mean, std, p float64
	hasP         bool
}

// parseSpecTables returns the cells of both tables keyed by table, row
// name (lower case) and α×10. A "p" row belongs to the row above it.
func parseSpecTables(t *testing.T) map[int]map[string]map[int]*specCell {
	t.Helper()
	num := func(s string) float64 {
		v, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(s), "−", "-"), 64)
		if err != nil {
			t.Fatalf("spec table: %q: %v", s, err)
		}
		return v
	}
	out := map[int]map[string]map[int]*specCell{}
	table, last := 0, ""
	for _, line := range strings.Split(specTables, "\n") {
		f := strings.Split(strings.Trim(line, "| "), "|")
		if len(f) != 7 {
			continue
		}
		name := strings.ToLower(strings.TrimSpace(f[0]))
		switch {
		case name == "α":
			table++
			out[table] = map[string]map[int]*specCell{}
			continue
		case strings.HasPrefix(name, "---"):
			continue
		}
		for i, raw := range f[1:] {
			a10 := 15 + i
			raw = strings.TrimSpace(raw)
			if raw == "–" || raw == "" {
				continue
			}
			if strings.HasPrefix(name, "p") {
				c := out[table][last][a10]
				c.p, c.hasP = num(raw), true
				continue
			}
			if out[table][name] == nil {
				out[table][name] = map[int]*specCell{}
			}
			c := &specCell{}
			if j := strings.Index(raw, " (p "); j >= 0 {
				c.p, c.hasP = num(strings.TrimSuffix(raw[j+4:], ")")), true
				raw = raw[:j]
			}
			ms := strings.Split(raw, "±")
			c.mean, c.std = num(ms[0]), num(ms[1])
			out[table][name][a10] = c
		}
		if !strings.HasPrefix(name, "p") {
			last = name
		}
	}
	return out
}

// TestPaperTablesMatchSpec checks every cell of PaperTables, mean and std,
// against docs/algorithms.md §9.1, and that PaperTables holds every cell of the
// spec's tables for the methods repro runs (DLPM_s is not defined in the
// slides and is not a repro method). The p-values are not stored in
// PaperTables; they are checked instead by recomputing Welch's test
// (§7.3: n = 20 in Table 1, 30 in Table 2) from the stored means and stds,
// which ties the stds to the printed p row: two printed significant
// digits and three-decimal means/stds leave a few per cent of relative
// disagreement (the spec notes the largest, 5.4e−3 computed vs 5.0e−3
// printed, LIM α = 2 in Table 1).
func TestPaperTablesMatchSpec(t *testing.T) {
	spec := parseSpecTables(t)
	n := 0
	for table, rows := range spec {
		for name, cells := range rows {
			if name == "dlpm_s" {
				continue
			}
			for a10, want := range cells {
				n++
				alpha := float64(a10) / 10
				got, ok := PaperValue(table, name, alpha)
				if !ok {
					t.Errorf("table %d %s α=%.1f: missing from PaperTables (spec %.3f ± %.3f)", table, name, alpha, want.mean, want.std)
					continue
				}
				if got.Mean != want.mean || got.Std != want.std {
					t.Errorf("table %d %s α=%.1f: PaperTables %v ± %v, spec %v ± %v", table, name, alpha, got.Mean, got.Std, want.mean, want.std)
				}
				if !want.hasP {
					continue
				}
				ref, ok := PaperValue(table, DLPM, alpha)
				if !ok {
					t.Errorf("table %d α=%.1f: no DLPM reference", table, alpha)
					continue
				}
				runs := 20
				if table == 2 {
					runs = 30
				}
				_, _, p := metrics.Welch(got.Mean, got.Std, runs, ref.Mean, ref.Std, runs)
				tol := 0.05
				if table == 1 && a10 == 20 {
					tol = 0.10
				}
				if rel := math.Abs(p-want.p) / want.p; rel > tol {
					t.Errorf("table %d %s α=%.1f: Welch p from PaperTables = %.3g, spec prints %.2g (rel %.3f > %.2f)", table, name, alpha, p, want.p, rel, tol)
				}
			}
		}
	}
	// 6 DLPM + 6 LIM + 1 DDPM per table.
	if n != 26 {
		t.Fatalf("parsed %d spec cells, want 26", n)
	}
	stored := 0
	for table, rows := range PaperTables {
		for name, cells := range rows {
			for a10 := range cells {
				stored++
				if spec[table][name][a10] == nil {
					t.Errorf("PaperTables has table %d %s α=%.1f, which the spec does not print", table, name, float64(a10)/10)
				}
			}
		}
	}
	if stored != n {
		t.Errorf("PaperTables holds %d cells, the spec %d", stored, n)
	}
}
