package cli

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
	"go.uber.org/zap"

	"github.com/levy-ml/levy/internal/natstest"
)

// TestCredentialsAreRequired: with credentials on, a client without them
// (or with wrong ones) cannot connect, so it can neither join, submit nor
// read gradients; the error says what to do and never shows the secret.
func TestCredentialsAreRequired(t *testing.T) {
	const secret = "s3cr3t-Pa55"
	_, url := natstest.Start(t, &server.Options{Username: "levy", Password: secret})
	for _, a := range []NATSAuth{{}, {User: "levy", Password: "wrong"}, {User: "eve", Password: secret}} {
		_, err := Connect(url, "test", a, zap.NewNop())
		if err == nil {
			t.Fatalf("%q connected without the right credentials", a.User)
		}
		if !strings.Contains(err.Error(), "refused this client's credentials") || strings.Contains(err.Error(), secret) {
			t.Errorf("error %q", err)
		}
	}
	nc, err := Connect(url, "test", NATSAuth{User: "levy", Password: secret}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.SubscribeSync("levy.job.x.ar.1.0"); err != nil || nc.Flush() != nil {
		t.Fatalf("the authorised client cannot subscribe: %v", err)
	}
}

func TestNKeyCredentials(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	_, url := natstest.Start(t, &server.Options{Nkeys: []*server.NkeyUser{{Nkey: pub}}})
	file := filepath.Join(t.TempDir(), "user.nk")
	if err := os.WriteFile(file, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	nc, err := Connect(url, "test", NATSAuth{NKeyFile: file}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	if _, err := Connect(url, "test", NATSAuth{}, zap.NewNop()); err == nil {
		t.Fatal("connected without the NKey")
	}
	if _, err := Connect(url, "test", NATSAuth{NKeyFile: file + ".missing"}, zap.NewNop()); err == nil || !strings.Contains(err.Error(), "--nats-nkey") {
		t.Fatalf("missing seed file: %v", err)
	}
}

func TestAuthFlagsAndEnvironment(t *testing.T) {
	t.Setenv("LEVY_NATS_USER", "env-user")
	t.Setenv("LEVY_NATS_PASSWORD", "env-pass")
	var a NATSAuth
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	a.AddFlags(fs)
	if err := fs.Parse([]string{"--nats-user", "flag-user"}); err != nil {
		t.Fatal(err)
	}
	if a.User != "flag-user" || a.Password != "env-pass" {
		t.Errorf("flag should win over the environment: %+v", a)
	}
	for _, bad := range []NATSAuth{{Password: "p"}, {User: "u", NKeyFile: "f"}, {CertFile: "c"}} {
		if bad.Validate() == nil {
			t.Errorf("Validate(%+v) = nil", bad)
		}
	}
	if got := Redact("nats://u:pw@host:4222"); strings.Contains(got, "pw") {
		t.Errorf("Redact left the password: %s", got)
	}
}

func TestSafeID(t *testing.T) {
	if got := SafeID("node.7:1234"); got != "node-7-1234" {
		t.Errorf("SafeID = %q", got)
	}
}
