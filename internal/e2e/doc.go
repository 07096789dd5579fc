// Package e2e holds the multi-process system test: the Debian nats-server
// binary, a coordinator process and worker processes built from ./cmd,
// talking over loopback only.
package e2e
