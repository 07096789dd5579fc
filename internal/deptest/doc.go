// Package deptest holds the repository's structural tests: import
// boundaries checked with `go list -deps` (after tailscale's
// tstest/deptest), the rule that every package has a doc comment, and
// the coordinator's 80-line limit on a function.
package deptest
