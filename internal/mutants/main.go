// Command mutants checks that the numeric core's tests catch wrong
// implementations. It applies hand-written source mutations, one at a
// time, and runs the tests that should fail.
//
// Each *.mutants file in this folder holds blocks like
//
//	name: samplers/lim-sde-drift-alpha
//	item: 11.1
//	file: samplers/samplers.go
//	test: TestLIMSamplersMatchStableData
//	old: x[j] = r*x[j] + alpha*alpha*(r-1)*sc + cn*float64(buf[j])
//	new: x[j] = r*x[j] + alpha*(r-1)*sc + cn*float64(buf[j])
//
// separated by blank lines (# starts a comment line). old must occur
// exactly once in file. A block with a why: line is a known survivor
// (an equivalent mutant, or one accepted for the reason given); such a
// block may name no killing test ("test: none").
//
// For every mutant the runner writes the mutated file to a temporary
// folder and runs `go test -overlay` on the file's package, so the tree
// is never modified and several mutants can run at once. A mutant is
// killed when the named test fails on it; the runner also checks that the
// named test passes on the unmutated code. When the named test does not
// fail, the whole package's tests are run, to tell "another test kills
// it" from "it survives".
//
// The hand-written list complements an operator-based tool:
// `go run ./internal/mutants -score` runs gremlins
// (github.com/go-gremlins/gremlins, pinned below) over the numeric core
// and prints its efficacy per package. gremlins only swaps operators
// (+ ↔ −, < ↔ ≤, …); the list names the mistakes a person makes in this
// maths (α for α², σ̄_{k−1} for (σ̄_{k−1}^α − ρ^α)^{1/α}, a dropped
// noise term), which no operator tool generates.
//
// Usage, from the module root:
//
//	go run ./internal/mutants [-run REGEXP] [-j N] [-v]
//	go run ./internal/mutants -score [-packages noise,schedule,…]
//
// It exits 1 when a mutant without why: survives, or when a block is
// stale (its old line is no longer in the file).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// gremlinsModule is the operator-based mutation tool -score runs.
const gremlinsModule = "github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0"

// corePackages is the numeric core that -score covers by default.
var corePackages = []string{"noise", "schedule", "losses", "samplers", "metrics"}

func main() {
	run := flag.String("run", "", "only the mutants whose name matches this regular expression")
	jobs := flag.Int("j", 1, "mutants tested at once")
	verbose := flag.Bool("v", false, "print the failing test output of each killed mutant")
	timeout := flag.Duration("timeout", 5*time.Minute, "go test timeout per mutant")
	whole := flag.Bool("whole", false, "judge each mutant by the whole package's tests only (for an older tree whose tests lack the named ones)")
	score := flag.Bool("score", false, "run gremlins over the numeric core instead of the list")
	pkgs := flag.String("packages", strings.Join(corePackages, ","), "packages for -score, comma-separated, relative to the module root")
	exclude := flag.String("exclude", "", "for -score: leave out the files whose path matches this regular expression (gremlins -E)")
	flag.Parse()

	root, err := moduleRoot()
	if err != nil {
		fatal(err)
	}
	if *score {
		if err := runScore(root, strings.Split(*pkgs, ","), *exclude); err != nil {
			fatal(err)
		}
		return
	}
	var filter *regexp.Regexp
	if *run != "" {
		if filter, err = regexp.Compile(*run); err != nil {
			fatal(fmt.Errorf("-run: %w", err))
		}
	}
	ms, err := loadAll(filepath.Join(root, "internal", "mutants"))
	if err != nil {
		fatal(err)
	}
	var chosen []*mutant
	for _, m := range ms {
		if filter == nil || filter.MatchString(m.Name) {
			chosen = append(chosen, m)
		}
	}
	if len(chosen) == 0 {
		fatal(errors.New("no mutant matches"))
	}
	r := &runner{root: root, timeout: *timeout, verbose: *verbose, whole: *whole, baseline: map[string]*baseResult{}}
	bad := r.runAll(chosen, max(1, *jobs))
	if bad > 0 {
		os.Exit(1)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "mutants:", err)
	os.Exit(2)
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module: run from the levy module root")
	}
	return filepath.Dir(gomod), nil
}

// mutant is one block of a *.mutants file.
type mutant struct {
	Name, Item, File, Test, Old, New, Why string
	Source                                string // file:line of the block
}

func loadAll(dir string) ([]*mutant, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.mutants"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var all []*mutant
	seen := map[string]string{}
	for _, f := range files {
		ms, err := parseFile(f)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if prev, ok := seen[m.Name]; ok {
				return nil, fmt.Errorf("%s: mutant %q already defined at %s", m.Source, m.Name, prev)
			}
			seen[m.Name] = m.Source
			all = append(all, m)
		}
	}
	return all, nil
}

func parseFile(path string) ([]*mutant, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*mutant
	var cur *mutant
	finish := func() error {
		if cur == nil {
			return nil
		}
		m := cur
		cur = nil
		switch {
		case m.Name == "", m.File == "", m.Test == "", m.Old == "":
			return fmt.Errorf("%s: a block needs name, file, test and old", m.Source)
		case m.Test == "none" && m.Why == "":
			return fmt.Errorf("%s: %s: test: none needs a why: (why is it an acceptable survivor?)", m.Source, m.Name)
		case m.Old == m.New:
			return fmt.Errorf("%s: %s: old and new are the same", m.Source, m.Name)
		case filepath.IsAbs(m.File) || strings.Contains(m.File, ".."):
			return fmt.Errorf("%s: %s: file %q must be relative to the module root", m.Source, m.Name, m.File)
		}
		out = append(out, m)
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if strings.HasPrefix(text, "#") {
			continue
		}
		if strings.TrimSpace(text) == "" {
			if err := finish(); err != nil {
				return nil, err
			}
			continue
		}
		key, val, ok := strings.Cut(text, ":")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want key: value, got %q", path, line, text)
		}
		if cur == nil {
			cur = &mutant{Source: fmt.Sprintf("%s:%d", filepath.Base(path), line)}
		}
		// old and new keep their text exactly after the one space that
		// follows the colon; the other keys are trimmed.
		val = strings.TrimPrefix(val, " ")
		switch key {
		case "name":
			cur.Name = strings.TrimSpace(val)
		case "item":
			cur.Item = strings.TrimSpace(val)
		case "file":
			cur.File = strings.TrimSpace(val)
		case "test":
			cur.Test = strings.TrimSpace(val)
		case "old":
			cur.Old = val
		case "new":
			cur.New = val
		case "why":
			cur.Why = strings.TrimSpace(val)
		default:
			return nil, fmt.Errorf("%s:%d: unknown key %q", path, line, key)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return out, nil
}

// outcome is what happened to one mutant.
type outcome struct {
	m        *mutant
	status   string // killed, killed-by-other, SURVIVED, accepted, stale, not-viable, baseline-fails
	detail   string
	duration time.Duration
}

func (o outcome) bad() bool {
	switch o.status {
	case "killed", "accepted", "killed-by-other":
		return false
	}
	return true
}

type baseResult struct {
	once sync.Once
	err  error
}

type runner struct {
	root     string
	timeout  time.Duration
	verbose  bool
	whole    bool // ignore the named tests: the package's tests decide
	mu       sync.Mutex
	baseline map[string]*baseResult // "pkg test" → its run on the unmutated tree
}

func (r *runner) runAll(ms []*mutant, jobs int) int {
	results := make([]outcome, len(ms))
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i] = r.one(m)
			o := results[i]
			fmt.Printf("%-16s %-44s %6.1fs  %s\n", o.status, m.Name, o.duration.Seconds(), o.detail)
		}()
	}
	wg.Wait()

	fmt.Println()
	fmt.Printf("| mutant | item | test | result |\n|---|---|---|---|\n")
	counts := map[string]int{}
	bad := 0
	for _, o := range results {
		counts[o.status]++
		if o.bad() {
			bad++
		}
		res := o.status
		if o.status == "accepted" {
			res = "survives (accepted: " + o.m.Why + ")"
		} else if o.detail != "" && o.bad() {
			res += ": " + o.detail
		}
		fmt.Printf("| %s | %s | %s | %s |\n", o.m.Name, o.m.Item, o.m.Test, res)
	}
	killed := counts["killed"] + counts["killed-by-other"]
	fmt.Printf("\n%d mutants: %d killed (%d by the named test), %d accepted survivors, %d survived, %d stale, %d not viable, %d with a failing baseline\n",
		len(results), killed, counts["killed"], counts["accepted"], counts["SURVIVED"], counts["stale"], counts["not-viable"], counts["baseline-fails"])
	return bad
}

func (r *runner) one(m *mutant) (o outcome) {
	start := time.Now()
	o.m = m
	defer func() { o.duration = time.Since(start) }()
	src := filepath.Join(r.root, filepath.FromSlash(m.File))
	b, err := os.ReadFile(src)
	if err != nil {
		o.status, o.detail = "stale", err.Error()
		return o
	}
	if n := strings.Count(string(b), m.Old); n != 1 {
		o.status, o.detail = "stale", fmt.Sprintf("old occurs %d times in %s, want once", n, m.File)
		return o
	}
	pkg := "./" + filepath.ToSlash(filepath.Dir(m.File))

	// The named test must pass on the real code, or its failure on the
	// mutant means nothing.
	if m.Test != "none" && !r.whole {
		if err := r.base(pkg, m.Test); err != nil {
			o.status, o.detail = "baseline-fails", err.Error()
			return o
		}
	}

	dir, err := os.MkdirTemp("", "levy-mutant-")
	if err != nil {
		o.status, o.detail = "not-viable", err.Error()
		return o
	}
	defer os.RemoveAll(dir)
	mutated := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(mutated, []byte(strings.Replace(string(b), m.Old, m.New, 1)), 0o644); err != nil {
		o.status, o.detail = "not-viable", err.Error()
		return o
	}
	ov, err := json.Marshal(map[string]map[string]string{"Replace": {src: mutated}})
	if err != nil {
		panic(err)
	}
	overlay := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlay, ov, 0o644); err != nil {
		o.status, o.detail = "not-viable", err.Error()
		return o
	}

	run := "^" + m.Test + "$"
	if m.Test == "none" || r.whole {
		run = "" // only the whole package can tell
	}
	out, failed, buildErr := r.goTest(pkg, run, overlay)
	switch {
	case buildErr:
		o.status, o.detail = "not-viable", firstLine(out)
		return o
	case failed && r.whole:
		o.status, o.detail = "killed-by-other", firstFailure(out)
		return o
	case failed && m.Test == "none":
		o.status, o.detail = "killed-by-other", "a test kills this \"survivor\": "+firstFailure(out)
		return o
	case failed:
		o.status = "killed"
		if r.verbose {
			o.detail = firstFailure(out)
		}
		return o
	}
	// The named test missed it: does any other test of the package catch it?
	if m.Test != "none" && !r.whole {
		out, failed, _ = r.goTest(pkg, "", overlay)
	}
	switch {
	case failed:
		o.status, o.detail = "killed-by-other", "not by "+m.Test+": "+firstFailure(out)
	case m.Why != "":
		o.status = "accepted"
	default:
		o.status, o.detail = "SURVIVED", "every test of "+pkg+" passes"
	}
	return o
}

func (r *runner) base(pkg, test string) error {
	r.mu.Lock()
	b, ok := r.baseline[pkg+" "+test]
	if !ok {
		b = &baseResult{}
		r.baseline[pkg+" "+test] = b
	}
	r.mu.Unlock()
	b.once.Do(func() {
		out, failed, _ := r.goTest(pkg, "^"+test+"$", "")
		switch {
		case failed:
			b.err = fmt.Errorf("%s %s fails on the unmutated code: %s", pkg, test, firstFailure(out))
		case strings.Contains(out, "no tests to run") || strings.Contains(out, "[no test files]"):
			b.err = fmt.Errorf("%s has no test %s", pkg, test)
		}
	})
	return b.err
}

// goTest runs the package's tests (those matching run, all if empty) and
// reports the output, whether they failed, and whether the failure was a
// build failure (an unviable mutant).
func (r *runner) goTest(pkg, run, overlay string) (out string, failed, buildErr bool) {
	args := []string{"test", "-count=1", "-timeout", r.timeout.String()}
	if run != "" {
		args = append(args, "-run", run)
	}
	if overlay != "" {
		args = append(args, "-overlay", overlay)
	}
	args = append(args, pkg)
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = r.root
	b, err := cmd.CombinedOutput()
	out = string(b)
	if err == nil {
		return out, false, false
	}
	build := strings.Contains(out, "[build failed]") || strings.Contains(out, "[setup failed]") ||
		(!strings.Contains(out, "--- FAIL") && !strings.Contains(out, "panic:") && !strings.Contains(out, "test timed out"))
	return out, true, build
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return l
		}
	}
	return ""
}

// firstFailure is the first assertion line of a failing go test output.
func firstFailure(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "--- FAIL") {
			if i+1 < len(lines) {
				return strings.TrimSpace(l) + " " + strings.TrimSpace(lines[i+1])
			}
			return strings.TrimSpace(l)
		}
		if strings.HasPrefix(l, "panic:") || strings.Contains(l, "test timed out") {
			return strings.TrimSpace(l)
		}
	}
	return firstLine(s)
}
