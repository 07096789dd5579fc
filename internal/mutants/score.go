package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// gremlinsReport is the part of gremlins' -o JSON that -score reads.
type gremlinsReport struct {
	Files []struct {
		FileName  string `json:"file_name"`
		Mutations []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
			Line   int    `json:"line"`
			Column int    `json:"column"`
		} `json:"mutations"`
	} `json:"files"`
	Elapsed float64 `json:"elapsed_time"`
}

// runScore runs gremlins over each package and prints its counts and the
// mutants that lived, with their source lines, for review.
func runScore(root string, pkgs []string, exclude string) error {
	dir, err := os.MkdirTemp("", "levy-gremlins-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	type row struct {
		pkg                                            string
		killed, lived, timedOut, notCovered, notViable int
		secs                                           float64
		survivors                                      []string
	}
	var rows []row
	for _, pkg := range pkgs {
		pkg = strings.TrimPrefix(strings.TrimSpace(pkg), "./")
		if pkg == "" {
			continue
		}
		out := filepath.Join(dir, strings.ReplaceAll(pkg, "/", "_")+".json")
		// The coverage run that gremlins times its mutants by is often
		// answered from the test cache in milliseconds: a large timeout
		// coefficient keeps every mutant from "timing out" at once.
		args := []string{"run", gremlinsModule, "unleash",
			"--workers", "1", "--test-cpu", "2", "--timeout-coefficient", "100", "-o", out}
		if exclude != "" {
			args = append(args, "-E", exclude)
		}
		cmd := exec.Command("go", append(args, "./"+pkg)...)
		cmd.Dir = root
		cmd.Stderr = os.Stderr
		fmt.Fprintf(os.Stderr, "gremlins on ./%s …\n", pkg)
		if b, err := cmd.Output(); err != nil {
			return fmt.Errorf("gremlins on ./%s: %w\n%s", pkg, err, b)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			return fmt.Errorf("gremlins on ./%s wrote no report: %w", pkg, err)
		}
		var rep gremlinsReport
		if err := json.Unmarshal(b, &rep); err != nil {
			return fmt.Errorf("gremlins report for ./%s: %w", pkg, err)
		}
		r := row{pkg: pkg, secs: rep.Elapsed}
		for _, f := range rep.Files {
			lines := sourceLines(filepath.Join(root, pkg, f.FileName))
			for _, m := range f.Mutations {
				switch m.Status {
				case "KILLED":
					r.killed++
				case "LIVED":
					r.lived++
					src := ""
					if m.Line-1 < len(lines) && m.Line > 0 {
						src = strings.TrimSpace(lines[m.Line-1])
					}
					r.survivors = append(r.survivors, fmt.Sprintf("%s/%s:%d:%d %s   %s", pkg, f.FileName, m.Line, m.Column, m.Type, src))
				case "TIMED OUT":
					r.timedOut++
				case "NOT COVERED":
					r.notCovered++
				case "NOT VIABLE":
					r.notViable++
				}
			}
		}
		sort.Strings(r.survivors)
		rows = append(rows, r)
	}
	fmt.Printf("\ngremlins (%s), per package:\n\n", gremlinsModule)
	fmt.Println("| package | killed | lived | timed out | not covered | not viable | efficacy | time |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	var tk, tl int
	for _, r := range rows {
		tk, tl = tk+r.killed+r.timedOut, tl+r.lived
		fmt.Printf("| %s | %d | %d | %d | %d | %d | %.1f%% | %.0f s |\n", r.pkg, r.killed, r.lived, r.timedOut, r.notCovered, r.notViable, pct(r.killed+r.timedOut, r.lived), r.secs)
	}
	fmt.Printf("| all | %d | %d | | | | %.1f%% | |\n", tk, tl, pct(tk, tl))
	fmt.Println("\n(efficacy = (killed + timed out) / (killed + timed out + lived))")
	fmt.Println("\nLived:")
	for _, r := range rows {
		for _, s := range r.survivors {
			fmt.Println("  " + s)
		}
	}
	return nil
}

func pct(k, l int) float64 {
	if k+l == 0 {
		return 0
	}
	return 100 * float64(k) / float64(k+l)
}

func sourceLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return strings.Split(string(b), "\n")
}
