package cli

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
)

// NATSAuth holds how a levy process proves itself to NATS. Each field has
// a flag and an environment variable (the flag wins); secrets are never
// logged or printed.
type NATSAuth struct {
	User, Password string // --nats-user, --nats-password / LEVY_NATS_USER, LEVY_NATS_PASSWORD
	NKeyFile       string // --nats-nkey / LEVY_NATS_NKEY: an NKey seed file
	CAFile         string // --nats-ca / LEVY_NATS_CA: CA of the server's TLS certificate
	CertFile       string // --nats-cert / LEVY_NATS_CERT: client certificate (mutual TLS)
	KeyFile        string // --nats-key / LEVY_NATS_KEY
}

// AddFlags registers the flags on fs, with the environment as defaults.
func (a *NATSAuth) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&a.User, "nats-user", os.Getenv("LEVY_NATS_USER"), "NATS user (env LEVY_NATS_USER)")
	fs.StringVar(&a.Password, "nats-password", os.Getenv("LEVY_NATS_PASSWORD"), "NATS password (env LEVY_NATS_PASSWORD; prefer the environment, flags show in ps)")
	fs.StringVar(&a.NKeyFile, "nats-nkey", os.Getenv("LEVY_NATS_NKEY"), "NKey seed file for NATS (env LEVY_NATS_NKEY)")
	fs.StringVar(&a.CAFile, "nats-ca", os.Getenv("LEVY_NATS_CA"), "CA certificate to verify the NATS server's TLS (env LEVY_NATS_CA)")
	fs.StringVar(&a.CertFile, "nats-cert", os.Getenv("LEVY_NATS_CERT"), "client certificate for NATS mutual TLS (env LEVY_NATS_CERT)")
	fs.StringVar(&a.KeyFile, "nats-key", os.Getenv("LEVY_NATS_KEY"), "client key for NATS mutual TLS (env LEVY_NATS_KEY)")
}

// Validate reports inconsistent settings.
func (a NATSAuth) Validate() error {
	switch {
	case a.Password != "" && a.User == "":
		return errors.New("--nats-password without --nats-user")
	case a.User != "" && a.NKeyFile != "":
		return errors.New("--nats-user and --nats-nkey: give one way to authenticate")
	case (a.CertFile == "") != (a.KeyFile == ""):
		return errors.New("--nats-cert and --nats-key go together")
	}
	return nil
}

// Options turns the settings into nats.go options.
func (a NATSAuth) Options() ([]nats.Option, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	var opts []nats.Option
	if a.User != "" {
		opts = append(opts, nats.UserInfo(a.User, a.Password))
	}
	if a.NKeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(a.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--nats-nkey %s: %w", a.NKeyFile, err)
		}
		opts = append(opts, o)
	}
	if a.CAFile != "" {
		opts = append(opts, nats.RootCAs(a.CAFile))
	}
	if a.CertFile != "" {
		opts = append(opts, nats.ClientCert(a.CertFile, a.KeyFile))
	}
	return opts, nil
}

// Redact removes a password from a URL for messages.
func Redact(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return u
	}
	if _, has := p.User.Password(); has {
		p.User = url.UserPassword(p.User.Username(), "xxxxx")
	}
	return p.String()
}

// explain turns NATS's terse authentication errors into advice.
func explain(u string, err error) error {
	msg := strings.ToLower(err.Error())
	if errors.Is(err, nats.ErrAuthorization) || strings.Contains(msg, "authorization violation") || strings.Contains(msg, "authentication") {
		return fmt.Errorf("--nats %s: the server refused this client's credentials (%w): pass --nats-user/--nats-password (or LEVY_NATS_USER/LEVY_NATS_PASSWORD) or --nats-nkey", Redact(u), err)
	}
	if strings.Contains(msg, "x509") || strings.Contains(msg, "tls") || strings.Contains(msg, "certificate") || strings.Contains(msg, "secure connection") {
		return fmt.Errorf("--nats %s: the TLS handshake failed (%w): pass the server's CA with --nats-ca (LEVY_NATS_CA), and a client certificate with --nats-cert/--nats-key (LEVY_NATS_CERT/LEVY_NATS_KEY) if the server asks for one", Redact(u), err)
	}
	return fmt.Errorf("--nats %s: %w", Redact(u), err)
}
