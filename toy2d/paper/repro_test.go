package repro

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// TestTinyTableEndToEnd runs the real protocol at toy size: every cell is
// filled, DLIM and LIM carry a p-value against DLPM, DLPM none, and the
// JSON cells have the keys the issue names.
func TestTinyTableEndToEnd(t *testing.T) {
	for _, table := range []int{1, 2} {
		c := DefaultConfig(table)
		c.Alphas = []float64{1.7, 2}
		c.Methods = []string{DLPM, DLIM, LIM, DDPM}
		c.Runs, c.Steps, c.N, c.T, c.DLIMSteps, c.Parallel = 2, 15, 300, 20, 5, 2
		cells, err := Run(context.Background(), c, nil)
		if err != nil {
			t.Fatal(err)
		}
		// 3 methods × 2 α + DDPM at α = 2 only.
		if len(cells) != 7 {
			t.Fatalf("table %d: %d cells, want 7", table, len(cells))
		}
		for _, cell := range cells {
			if cell.Runs != 2 || len(cell.Values) != 2 || math.IsNaN(cell.Mean) {
				t.Errorf("table %d: bad cell %+v", table, cell)
			}
			if (cell.Method == DLPM) != (cell.PValue == nil) {
				t.Errorf("table %d: %s α=%v: p-value %v", table, cell.Method, cell.Alpha, cell.PValue)
			}
			if cell.Method == DDPM && cell.Alpha != 2 {
				t.Errorf("DDPM cell at α = %v", cell.Alpha)
			}
			if table == 2 && !(cell.Mean > 0 && cell.Mean <= 1) {
				t.Errorf("F1 %v outside (0, 1]", cell.Mean)
			}
		}
		b, _ := json.Marshal(cells[0])
		var m map[string]any
		json.Unmarshal(b, &m)
		for _, k := range []string{"table", "method", "alpha", "runs", "mean", "std", "p_value", "seconds"} {
			if _, ok := m[k]; !ok {
				t.Errorf("JSON cell lacks %q: %s", k, b)
			}
		}
		var txt, md bytes.Buffer
		WriteTable(&txt, c, cells)
		WriteMarkdown(&md, c, cells)
		for _, want := range []string{"DLPM", "DLIM", "LIM", "DDPM", "paper", "p vs DLPM"} {
			if !strings.Contains(txt.String(), want) {
				t.Errorf("table text lacks %q:\n%s", want, txt.String())
			}
		}
		if !strings.Contains(md.String(), "| **DLPM** | levy |") {
			t.Errorf("markdown lacks the DLPM row:\n%s", md.String())
		}
	}
}

func TestValidate(t *testing.T) {
	for name, mut := range map[string]func(*Config){
		"table":   func(c *Config) { c.Table = 3 },
		"alpha":   func(c *Config) { c.Alphas = []float64{2.5} },
		"alpha≤1": func(c *Config) { c.Alphas = []float64{1} },
		"method":  func(c *Config) { c.Methods = []string{"vae"} },
		"runs":    func(c *Config) { c.Runs = 0 },
	} {
		c := DefaultConfig(2)
		mut(&c)
		if c.Validate() == nil {
			t.Errorf("%s: Validate = nil", name)
		}
	}
	if p, ok := PaperValue(2, DLPM, 1.7); !ok || p.Mean != 0.933 {
		t.Errorf("paper DLPM α=1.7 F1 = %v %v, want 0.933", p, ok)
	}
}
