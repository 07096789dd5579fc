package natsauth_test

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"golang.org/x/crypto/bcrypt"

	"github.com/levy-ml/levy/internal/natsauth"
	"github.com/levy-ml/levy/internal/natstest"
	"github.com/levy-ml/levy/internal/wire"
)

var update = flag.Bool("update", false, "rewrite deploy/nats/levy-roles.conf")

// loadUsers parses conf with nats-server's own loader and returns its
// users by name.
func loadUsers(t *testing.T, conf []byte) map[string]*server.User {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(path, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("nats-server refuses the configuration: %v\n%s", err, conf)
	}
	users := map[string]*server.User{}
	for _, u := range opts.Users {
		users[u.Username] = u
	}
	return users
}

// TestRenderedConfigHasTheSamePermissions: nats-server's loader reads the
// rendered file into exactly the users and permissions Users builds, and
// the bcrypt hashes are of the given passwords.
func TestRenderedConfigHasTheSamePermissions(t *testing.T) {
	want, err := natsauth.Users(everyone)
	if err != nil {
		t.Fatal(err)
	}
	for _, cost := range []int{0, bcrypt.MinCost} {
		conf, err := natsauth.RenderConfig(everyone, natsauth.ConfigOptions{BcryptCost: cost, Comment: "a comment\nof two lines"})
		if err != nil {
			t.Fatal(err)
		}
		got := loadUsers(t, conf)
		if len(got) != len(want) {
			t.Errorf("cost %d: %d users in the file, want %d", cost, len(got), len(want))
		}
		for _, w := range want {
			g, ok := got[w.Username]
			if !ok {
				t.Errorf("cost %d: no user %s in the file", cost, w.Username)
				continue
			}
			if !reflect.DeepEqual(g.Permissions, w.Permissions) {
				t.Errorf("cost %d: %s: the file gives\n%+v\nUsers gives\n%+v", cost, w.Username, permString(g.Permissions), permString(w.Permissions))
			}
			if cost == 0 && g.Password != w.Password {
				t.Errorf("%s: password %q in the file, want %q", w.Username, g.Password, w.Password)
			}
			if cost > 0 {
				if err := bcrypt.CompareHashAndPassword([]byte(g.Password), []byte(w.Password)); err != nil {
					t.Errorf("%s: the hash %q is not of the password: %v", w.Username, g.Password, err)
				}
			}
		}
	}
}

func permString(p *server.Permissions) string {
	var b strings.Builder
	b.WriteString("publish " + strings.Join(p.Publish.Allow, " ") + "; subscribe " + strings.Join(p.Subscribe.Allow, " "))
	if p.Response != nil {
		b.WriteString("; responses " + p.Response.Expires.String())
	}
	return b.String()
}

// envName is the environment variable the shipped example reads a
// password from.
func envName(id natsauth.Identity) string {
	return strings.ToUpper(strings.ReplaceAll("LEVY_NATS_PASSWORD_"+string(id.Role)+"_"+id.Name, "-", "_"))
}

func exampleIdentities() []natsauth.Identity {
	var ids []natsauth.Identity
	add := func(r natsauth.Role, names ...string) {
		for _, n := range names {
			id := natsauth.Identity{Role: r, Name: n}
			id.Password = "$" + envName(id)
			ids = append(ids, id)
		}
	}
	add(natsauth.Operator, "levyctl")
	add(natsauth.Coordinator, "c1", "c2", "c3")
	add(natsauth.Worker, "w0", "w1", "w2", "w3")
	add(natsauth.Sampler, "s0")
	return ids
}

const exampleComment = `levy NATS roles: an example for 3 coordinators (c1–c3), 4 workers (w0–w3),
one sampler (s0) and levyctl. docs/security.md explains it.

Each password is read from the server's environment (LEVY_NATS_PASSWORD_…);
nats-server refuses to start while one is unset. Generate a deployment of
your own, with random passwords stored as bcrypt hashes and one credentials
file per identity, with:
  levyctl nats-config --workers w0,w1,w2,w3 --samplers s0 --coordinators c1,c2,c3 --out DIR

This file is internal/natsauth's output (go test ./internal/natsauth -run
TestShippedExample -update rewrites it).
`

// TestShippedExample: deploy/nats/levy-roles.conf is RenderConfig's
// output, and nats-server loads it once the passwords are in the
// environment (and refuses it before).
func TestShippedExample(t *testing.T) {
	ids := exampleIdentities()
	conf, err := natsauth.RenderConfig(ids, natsauth.ConfigOptions{Comment: exampleComment})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "deploy", "nats", "levy-roles.conf")
	if *update {
		if err := os.WriteFile(path, conf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shipped, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(shipped, conf) {
		t.Fatalf("%s is not RenderConfig's output: run go test ./internal/natsauth -run TestShippedExample -update", path)
	}
	if _, err := server.ProcessConfigFile(path); err == nil || !strings.Contains(err.Error(), "LEVY_NATS_PASSWORD_") {
		t.Errorf("loading the example without the passwords in the environment: %v, want an error naming the variable", err)
	}
	for _, id := range ids {
		t.Setenv(envName(id), "pw-of-"+id.Username())
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(opts.Users) != len(ids) {
		t.Fatalf("%d users, want %d", len(opts.Users), len(ids))
	}
	for i, u := range opts.Users {
		id := ids[i]
		if u.Username != id.Username() || u.Password != "pw-of-"+id.Username() || !reflect.DeepEqual(u.Permissions, id.Permissions()) {
			t.Errorf("user %d: %s with password %q, want %s", i, u.Username, u.Password, id.Username())
		}
	}
}

// TestWriteDeployment: the generator writes the server configuration and
// one credentials file per identity, private, and does not overwrite them;
// a server started from that configuration admits each identity with its
// credentials file.
func TestWriteDeployment(t *testing.T) {
	ids, err := natsauth.Generate([]string{"levyctl"}, []string{"c1"}, []string{"w0", "w1"}, []string{"s0"})
	if err != nil {
		t.Fatal(err)
	}
	if ids[2].Password == ids[3].Password || len(ids[2].Password) != 32 {
		t.Errorf("passwords %q and %q: want 32 random characters each", ids[2].Password, ids[3].Password)
	}
	dir := filepath.Join(t.TempDir(), "nats")
	if err := natsauth.WriteDeployment(dir, ids, bcrypt.MinCost); err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(filepath.Join(dir, natsauth.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if bytes.Contains(conf, []byte(id.Password)) {
			t.Errorf("the server configuration holds %s's password in plain text", id.Username())
		}
	}
	opts, err := server.ProcessConfigFile(filepath.Join(dir, natsauth.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	_, url := natstest.Start(t, opts)
	for _, id := range ids {
		path := filepath.Join(dir, natsauth.EnvFile(id))
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", path, fi.Mode().Perm())
		}
		env := readEnv(t, path)
		if env["LEVY_NATS_USER"] != id.Username() || env["LEVY_NATS_PASSWORD"] != id.Password {
			t.Errorf("%s: %v", path, env)
		}
		c := connect(t, url, env["LEVY_NATS_USER"], env["LEVY_NATS_PASSWORD"])
		c.flush(t)
	}
	// A worker admitted with its file can speak only as itself.
	w := connect(t, url, "worker-w0", ids[2].Password)
	w.nc.Publish(wire.MemberSubject("J", wire.ReportDone, "w1"), nil)
	w.flush(t)
	w.violation(t, `Publish to "levy.job.J.done.w1"`)

	err = natsauth.WriteDeployment(dir, ids, bcrypt.MinCost)
	if err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("writing over a deployment: %v", err)
	}
}

func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("%s: line %q", path, l)
		}
		env[k] = v
	}
	return env
}

func TestCheckRefusesBadIdentities(t *testing.T) {
	ok := natsauth.Identity{Role: natsauth.Worker, Name: "w0", Password: "pw"}
	for _, c := range []struct {
		name string
		ids  []natsauth.Identity
	}{
		{"unknown role", []natsauth.Identity{{Role: "admin", Name: "a", Password: "pw"}}},
		{"name with a dot", []natsauth.Identity{{Role: natsauth.Worker, Name: "w.1", Password: "pw"}}},
		{"name a wildcard", []natsauth.Identity{{Role: natsauth.Worker, Name: "*", Password: "pw"}}},
		{"empty password", []natsauth.Identity{{Role: natsauth.Worker, Name: "w1"}}},
		{"quote in password", []natsauth.Identity{{Role: natsauth.Worker, Name: "w1", Password: `a"b`}}},
		{"space in password", []natsauth.Identity{{Role: natsauth.Worker, Name: "w1", Password: "a b"}}},
		{"dollar password", []natsauth.Identity{{Role: natsauth.Worker, Name: "w1", Password: "$not a ref"}}},
		{"same user twice", []natsauth.Identity{ok, ok}},
		{"worker and sampler share an ID", []natsauth.Identity{ok, {Role: natsauth.Sampler, Name: "w0", Password: "pw"}}},
	} {
		if err := natsauth.Check(c.ids); !errors.Is(err, natsauth.ErrIdentity) {
			t.Errorf("%s: Check = %v, want ErrIdentity", c.name, err)
		}
	}
	if err := natsauth.Check([]natsauth.Identity{ok, {Role: natsauth.Coordinator, Name: "w0", Password: "pw"}}); err != nil {
		t.Errorf("a coordinator may share a worker's ID (different subjects): %v", err)
	}
	if _, err := natsauth.Users([]natsauth.Identity{{Role: natsauth.Worker, Name: "w1", Password: "$PW"}}); err == nil {
		t.Error("Users took an environment reference as a password")
	}
	if _, err := natsauth.RenderConfig([]natsauth.Identity{ok}, natsauth.ConfigOptions{BcryptCost: 99}); err == nil {
		t.Error("RenderConfig took bcrypt cost 99")
	}
}

// TestWorkerPermissions spells out a worker's permissions: every subject
// a worker or sampler may publish names its own ID.
func TestWorkerPermissions(t *testing.T) {
	p := natsauth.Identity{Role: natsauth.Worker, Name: "w1", Password: "x"}.Permissions()
	wantPub := []string{"levy.coord.join.w1", "levy.worker.w1.heartbeat", "levy.job.*.ready.w1", "levy.job.*.progress.w1",
		"levy.job.*.ckpt.w1", "levy.job.*.done.w1", "levy.job.*.ar.*.*.w1"}
	wantSub := []string{"levy.worker.w1.assign", "levy.job.*.ctl", "levy.job.*.ar.*.*.*", "_INBOX.>"}
	if !reflect.DeepEqual(p.Publish.Allow, wantPub) || !reflect.DeepEqual(p.Subscribe.Allow, wantSub) || p.Response != nil {
		t.Errorf("worker w1: %s", permString(p))
	}
	for _, id := range exampleIdentities() {
		if id.Role != natsauth.Worker && id.Role != natsauth.Sampler {
			continue
		}
		for _, s := range id.Permissions().Publish.Allow {
			if !slices.Contains(strings.Split(s, "."), id.Name) {
				t.Errorf("%s may publish %s, which does not name it", id.Username(), s)
			}
		}
	}
	// The subjects the wire package builds fall under the permissions.
	for _, s := range []string{wire.JoinSubject("w1"), wire.HeartbeatSubject("w1"), wire.MemberSubject("J-1", wire.ReportDone, "w1"),
		wire.RingPrefix("J-1", 12) + ".3.w1"} {
		if !matchesAny(s, p.Publish.Allow) {
			t.Errorf("w1 may not publish %s", s)
		}
	}
	for _, s := range []string{wire.AssignSubject("w1"), wire.ControlSubject("J-1"), wire.RingPrefix("J-1", 12) + ".3.*"} {
		if !matchesAny(s, p.Subscribe.Allow) {
			t.Errorf("w1 may not subscribe to %s", s)
		}
	}
}

func matchesAny(subject string, filters []string) bool {
	for _, f := range filters {
		if server.SubjectMatchesFilter(subject, f) {
			return true
		}
	}
	return false
}
