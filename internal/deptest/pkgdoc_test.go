package deptest

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryPackageHasADocComment walks the module and fails for a
// package (other than tests and mains) with no package comment.
func TestEveryPackageHasADocComment(t *testing.T) {
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "runs" || name == "docs") {
			return filepath.SkipDir
		}
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, path, func(fi os.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			return err
		}
		for pname, p := range pkgs {
			documented := false
			for _, f := range p.Files {
				documented = documented || (f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "")
			}
			if !documented {
				t.Errorf("package %s (%s) has no package doc comment", pname, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
