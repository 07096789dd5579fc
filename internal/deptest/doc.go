// Package deptest holds the repository's structural tests: import
// boundaries checked with `go list -deps` (after tailscale's
// tstest/deptest) and the rule that every package has a doc comment.
package deptest
