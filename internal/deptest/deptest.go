package deptest

import (
	"os/exec"
	"strings"
	"testing"
)

// Check fails t if pkg depends, directly or not, on a package whose path
// starts with one of the bad prefixes; reasons[prefix] says why it is banned.
// A prefix ending in "$" bans only that package, not the ones under it.
func Check(t *testing.T, pkg string, reasons map[string]string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, stderr)
	}
	for _, dep := range strings.Fields(string(out)) {
		for prefix, why := range reasons {
			if matches(dep, prefix) {
				t.Errorf("%s imports %s: %s", pkg, dep, why)
			}
		}
	}
}

// CheckDirect fails t if pkg itself (not its dependencies) imports a
// package whose path starts with one of the bad prefixes; reasons[prefix]
// says why. It states what a package may name, where Check states what
// it may link.
func CheckDirect(t *testing.T, pkg string, reasons map[string]string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, pkg).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -f {{.Imports}} %s: %v\n%s", pkg, err, stderr)
	}
	for _, dep := range strings.Fields(string(out)) {
		for prefix, why := range reasons {
			if matches(dep, prefix) {
				t.Errorf("%s imports %s: %s", pkg, dep, why)
			}
		}
	}
}

// matches reports whether the import path dep is banned by key: dep is
// key or a package under it, or, when key ends in "$", dep is exactly key
// without the "$".
func matches(dep, key string) bool {
	if exact, ok := strings.CutSuffix(key, "$"); ok {
		return dep == exact
	}
	return dep == key || strings.HasPrefix(dep, key+"/")
}
