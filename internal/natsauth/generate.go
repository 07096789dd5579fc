package natsauth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// NewPassword returns a random password: 24 bytes from crypto/rand, as
// 32 characters of URL-safe base64.
func NewPassword() string {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("natsauth: crypto/rand: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Generate returns one identity per name, each with a new random password:
// the operators, coordinators, workers and samplers of a deployment.
func Generate(operators, coordinators, workers, samplers []string) ([]Identity, error) {
	var ids []Identity
	for _, g := range []struct {
		role  Role
		names []string
	}{{Operator, operators}, {Coordinator, coordinators}, {Worker, workers}, {Sampler, samplers}} {
		for _, n := range g.names {
			ids = append(ids, Identity{Role: g.role, Name: n, Password: NewPassword()})
		}
	}
	if err := Check(ids); err != nil {
		return nil, err
	}
	return ids, nil
}

// ConfigFile is the name of the server configuration WriteDeployment
// writes.
const ConfigFile = "levy-roles.conf"

// EnvFile is the name of identity id's credentials file.
func EnvFile(id Identity) string { return id.Username() + ".env" }

// WriteDeployment writes into dir (created if need be) the server
// configuration (ConfigFile, passwords hashed with bcrypt of cost, 0:
// in plain text) and one credentials file per identity (EnvFile:
// LEVY_NATS_USER and LEVY_NATS_PASSWORD, which every levy command
// reads). Files are created with mode 0600 and never overwritten: a
// file already there is an error, and nothing is written.
func WriteDeployment(dir string, ids []Identity, cost int) error {
	conf, err := RenderConfig(ids, ConfigOptions{BcryptCost: cost, Comment: "levy NATS roles, written by `levyctl nats-config` (docs/security.md).\n" +
		"Start the server with `nats-server -c " + ConfigFile + "`, or include this file from your configuration.\n"})
	if err != nil {
		return err
	}
	files := map[string][]byte{ConfigFile: conf}
	for _, id := range ids {
		run := "the process of this identity"
		switch id.Role {
		case Worker, Coordinator:
			run = fmt.Sprintf("`%s --id %s`", id.Role, id.Name)
		case Sampler:
			run = fmt.Sprintf("the sampler whose ID is %s", id.Name)
		case Operator:
			run = "levyctl"
		}
		files[EnvFile(id)] = fmt.Appendf(nil, "# levy NATS credentials of %s %s: keep secret.\n# Run %s with these in its environment.\nLEVY_NATS_USER=%s\nLEVY_NATS_PASSWORD=%s\n",
			id.Role, id.Name, run, id.Username(), id.Password)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for name := range files {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return fmt.Errorf("natsauth: %s exists: remove the old deployment's files first", filepath.Join(dir, name))
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	for name, data := range files {
		if err := writeNew(filepath.Join(dir, name), data); err != nil {
			return err
		}
	}
	return nil
}

// writeNew creates path (mode 0600; an error if it exists) holding data.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
