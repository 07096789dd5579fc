package natsauth_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/levy-ml/levy/internal/natsauth"
	"github.com/levy-ml/levy/internal/natstest"
)

// The test deployment: an operator, a coordinator, three workers and a
// sampler, and a root user without permissions (test only) that observes.
var (
	operator = natsauth.Identity{Role: natsauth.Operator, Name: "levyctl", Password: "op-pw-1"}
	coord    = natsauth.Identity{Role: natsauth.Coordinator, Name: "c1", Password: "c1-pw-1"}
	w0       = natsauth.Identity{Role: natsauth.Worker, Name: "w0", Password: "w0-pw-1"}
	w1       = natsauth.Identity{Role: natsauth.Worker, Name: "w1", Password: "w1-pw-1"}
	w2       = natsauth.Identity{Role: natsauth.Worker, Name: "w2", Password: "w2-pw-1"}
	sampler  = natsauth.Identity{Role: natsauth.Sampler, Name: "s0", Password: "s0-pw-1"}
	everyone = []natsauth.Identity{operator, coord, w0, w1, w2, sampler}
)

const rootUser, rootPassword = "root", "root-pw-1"

// startEmbedded runs an in-process server whose users are natsauth.Users
// of everyone, and root.
func startEmbedded(t *testing.T) string {
	t.Helper()
	users, err := natsauth.Users(everyone)
	if err != nil {
		t.Fatal(err)
	}
	users = append(users, &server.User{Username: rootUser, Password: rootPassword})
	_, url := natstest.Start(t, &server.Options{Users: users})
	return url
}

// withRoot adds the root user to a rendered configuration.
func withRoot(t *testing.T, conf []byte) []byte {
	t.Helper()
	const at = "  users = [\n"
	if strings.Count(string(conf), at) != 1 {
		t.Fatalf("no %q in the rendered configuration:\n%s", at, conf)
	}
	return []byte(strings.Replace(string(conf), at, at+fmt.Sprintf("    { user: %q, password: %q },\n", rootUser, rootPassword), 1))
}

// writeConfig renders everyone (bcrypt hashes of the minimum cost) plus
// root into a file in a temporary directory.
func writeConfig(t *testing.T) string {
	t.Helper()
	conf, err := natsauth.RenderConfig(everyone, natsauth.ConfigOptions{BcryptCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), natsauth.ConfigFile)
	if err := os.WriteFile(path, withRoot(t, conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startFromFile runs an in-process server configured by nats-server's own
// loader from the rendered file.
func startFromFile(t *testing.T) string {
	t.Helper()
	opts, err := server.ProcessConfigFile(writeConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	_, url := natstest.Start(t, opts)
	return url
}

// natsServerBinary finds the nats-server program, or skips the test (fails
// it when LEVY_REQUIRE_SYSTEM_DEPS=1).
func natsServerBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nats-server"); err == nil {
		return "/usr/sbin/nats-server"
	}
	if os.Getenv("LEVY_REQUIRE_SYSTEM_DEPS") == "1" {
		t.Fatal("nats-server is not installed (neither in PATH nor /usr/sbin) and LEVY_REQUIRE_SYSTEM_DEPS=1")
	}
	t.Skip("nats-server is not installed (apt-get install nats-server); LEVY_REQUIRE_SYSTEM_DEPS=1 makes this a failure")
	return ""
}

// startBinary runs the nats-server program with the rendered file.
func startBinary(t *testing.T) string {
	t.Helper()
	bin := natsServerBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var out strings.Builder
	cmd := exec.Command(bin, "-c", writeConfig(t), "-a", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		nc, err := nats.Connect(url, nats.UserInfo(rootUser, rootPassword))
		if err == nil {
			nc.Close()
			return url
		}
		select {
		case err := <-exited:
			t.Fatalf("%s exited (%v):\n%s", bin, err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not accept connections within 10 s (%v):\n%s", bin, err, out.String())
		}
	}
}

// client is one connection, with the asynchronous errors the server sent
// it (nats.go reports permission violations through the ErrorHandler).
type client struct {
	name string
	nc   *nats.Conn
	errs chan error
}

func connect(t *testing.T, url, user, password string) *client {
	t.Helper()
	c := &client{name: user, errs: make(chan error, 64)}
	nc, err := nats.Connect(url, nats.UserInfo(user, password), nats.Name(user),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { c.errs <- err }))
	if err != nil {
		t.Fatalf("connecting as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	c.nc = nc
	return c
}

func connectAs(t *testing.T, url string, id natsauth.Identity) *client {
	return connect(t, url, id.Username(), id.Password)
}

func (c *client) flush(t *testing.T) {
	t.Helper()
	if err := c.nc.Flush(); err != nil {
		t.Fatalf("%s: flush: %v", c.name, err)
	}
}

// violation waits for the server's permissions violation naming
// what (`Publish to "subject"` or `Subscription to "subject"`).
func (c *client) violation(t *testing.T, what string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case err := <-c.errs:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), what) {
				return
			}
			t.Errorf("%s: waiting for a permissions violation on %s, got %v", c.name, what, err)
		case <-timeout:
			t.Errorf("%s: no permissions violation on %s within 5 s", c.name, what)
			return
		}
	}
}

// clean fails t if c got an asynchronous error; call it after a flush.
func (c *client) clean(t *testing.T) {
	t.Helper()
	// The error handler runs on nats.go's own goroutine, a moment after the
	// -ERR is read: give it that moment.
	select {
	case err := <-c.errs:
		t.Errorf("%s: %v", c.name, err)
	case <-time.After(20 * time.Millisecond):
	}
}
