package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/levy-ml/levy/internal/natsauth"
)

// runNATSConfig writes a NATS deployment: the server configuration of
// levy's roles and one credentials file per identity (docs/security.md).
func runNATSConfig(_ context.Context, args []string) error {
	fs := newFlags("nats-config")
	workers := fs.String("workers", "", "worker IDs, comma-separated (one NATS user each), e.g. w0,w1,w2,w3")
	samplers := fs.String("samplers", "", "sampler IDs, comma-separated (one NATS user each)")
	coords := fs.String("coordinators", "", "coordinator IDs (their --id), comma-separated, e.g. c1,c2,c3")
	operators := fs.String("operators", "levyctl", "names of levyctl users, comma-separated")
	out := fs.String("out", "", "directory to write "+natsauth.ConfigFile+" and the <role>-<id>.env files into (created; existing files are never overwritten)")
	cost := fs.Int("bcrypt-cost", 11, "bcrypt cost of the password hashes in the server configuration (4 … 31; 0 stores passwords in plain text)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return flagError("out", `""`, "name the directory to write into")
	}
	if *workers == "" && *samplers == "" && *coords == "" {
		return fmt.Errorf("name at least one of --workers, --samplers, --coordinators")
	}
	ids, err := natsauth.Generate(split(*operators), split(*coords), split(*workers), split(*samplers))
	if err != nil {
		return err
	}
	if err := natsauth.WriteDeployment(*out, ids, *cost); err != nil {
		return err
	}
	fmt.Println(filepath.Join(*out, natsauth.ConfigFile), "(nats-server -c)")
	for _, id := range ids {
		fmt.Println(filepath.Join(*out, natsauth.EnvFile(id)))
	}
	return nil
}

// split cuts a comma-separated list, dropping empty items.
func split(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
