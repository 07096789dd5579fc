package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap"

	"github.com/levy-ml/levy/internal/natstest"
)

// pki is a throwaway certificate authority with a server and a client
// certificate, written as PEM files.
type pki struct {
	caFile, certFile, keyFile string // CA; client certificate and key
	server                    tls.Certificate
	pool                      *x509.CertPool
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "levy test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	p := &pki{pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.caFile = write("ca.pem", "CERTIFICATE", caDER)
	sDER, sKey := issue(2, "127.0.0.1", x509.ExtKeyUsageServerAuth)
	p.server = tls.Certificate{Certificate: [][]byte{sDER}, PrivateKey: sKey}
	cDER, cKey := issue(3, "levy worker", x509.ExtKeyUsageClientAuth)
	p.certFile = write("client.pem", "CERTIFICATE", cDER)
	kDER, err := x509.MarshalECPrivateKey(cKey)
	if err != nil {
		t.Fatal(err)
	}
	p.keyFile = write("client-key.pem", "EC PRIVATE KEY", kDER)
	return p
}

// TestMutualTLS: against a NATS server that requires TLS with client
// certificates (and a password), a client with the CA, its certificate
// and the password connects and exchanges messages; a client without the
// CA, or without a client certificate, is refused with an error that
// names TLS and the flags to pass.
func TestMutualTLS(t *testing.T) {
	p := newPKI(t)
	_, url := natstest.Start(t, &server.Options{Username: "levy", Password: "pw", TLS: true, TLSVerify: true, TLSTimeout: 2,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool,
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}})
	good := NATSAuth{User: "levy", Password: "pw", CAFile: p.caFile, CertFile: p.certFile, KeyFile: p.keyFile}
	nc, err := Connect(url, "test", good, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if !nc.TLSRequired() {
		t.Error("the connection does not report TLS")
	}
	sub, err := nc.SubscribeSync("levy.tls.check")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("levy.tls.check", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if m, err := sub.NextMsg(5 * time.Second); err != nil || string(m.Data) != "hello" {
		t.Fatalf("round trip over TLS: %v", err)
	}

	noCA := good
	noCA.CAFile = ""
	noCert := good
	noCert.CertFile, noCert.KeyFile = "", ""
	for name, a := range map[string]NATSAuth{"without --nats-ca": noCA, "without a client certificate": noCert} {
		_, err := Connect(url, "test", a, zap.NewNop())
		if err == nil {
			t.Fatalf("%s: connected", name)
		}
		if msg := err.Error(); !strings.Contains(msg, "TLS") || !strings.Contains(msg, "--nats-ca") || strings.Contains(msg, "pw") {
			t.Errorf("%s: error %q does not name TLS and the flags (or shows the password)", name, msg)
		}
		t.Logf("%s: %v", name, err)
	}
}
