// Package localcluster runs a whole levy cluster in one process: an embedded NATS
// server (nats-server/v2/server, loopback, random port), the coordinator,
// N training workers and a sampling worker, each with its own NATS
// connection, so that they talk exactly as separate processes do. It is
// what `coordinator --local --workers N` runs, and what the system tests
// use.
package localcluster
