package deptest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// maxFuncLines is the longest a function of the coordinator may be,
// counted from its func keyword to its closing brace (issue 12): each
// event has its own method, and a reader sees one at a time.
const maxFuncLines = 80

// longFuncs returns "file:line name (n lines)" for each function of the
// package in dir (test files left out) longer than max lines.
func longFuncs(dir string, max int) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var long []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			from, to := fset.Position(fd.Pos()), fset.Position(fd.End())
			if n := to.Line - from.Line + 1; n > max {
				long = append(long, fmt.Sprintf("%s:%d %s (%d lines)", filepath.Base(name), from.Line, fd.Name.Name, n))
			}
		}
	}
	return long, nil
}

// TestCoordinatorFunctionsAreShort: no function of package coordinator
// is over maxFuncLines lines.
func TestCoordinatorFunctionsAreShort(t *testing.T) {
	long, err := longFuncs(filepath.Join("..", "..", "coordinator"), maxFuncLines)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range long {
		t.Errorf("coordinator/%s: over %d lines; split it (one method per event or step)", l, maxFuncLines)
	}
}

// TestLongFuncsCounts proves the check can fail, and counts from func to
// the closing brace: a function of exactly max lines passes, one more
// line fails; a test file is left out.
func TestLongFuncsCounts(t *testing.T) {
	dir := t.TempDir()
	body := func(name string, lines int) string { // lines in all, func and brace included
		return "func " + name + "() {\n" + strings.Repeat("\t_ = 0\n", lines-2) + "}\n"
	}
	write := func(file, src string) {
		if err := os.WriteFile(filepath.Join(dir, file), []byte("package p\n\n"+src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.go", "// fits is exactly 5 lines.\n"+body("fits", 5)+body("over", 6))
	write("a_test.go", body("longTest", 50))
	long, err := longFuncs(dir, 5)
	if err != nil {
		t.Fatal(err)
	}
	if want := "a.go:9 over (6 lines)"; len(long) != 1 || long[0] != want {
		t.Errorf("longFuncs = %q, want [%q]", long, want)
	}
}
