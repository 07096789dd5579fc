// Package smoke holds start-up checks for the dependency stack (the
// go.mod pins without which gorgonia panics on Go 1.26).
package smoke
