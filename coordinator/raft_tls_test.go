package coordinator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/levy-ml/levy/internal/natstest"
)

// testCA is a certificate authority made up for a test.
type testCA struct {
	key    *ecdsa.PrivateKey
	cert   *x509.Certificate
	caFile string // the CA certificate, PEM
	dir    string
}

var testSerial atomic.Int64

func writePEM(t *testing.T, file, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(testSerial.Add(1)), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{key: key, cert: cert, dir: t.TempDir()}
	ca.caFile = filepath.Join(ca.dir, "ca.pem")
	writePEM(t, ca.caFile, "CERTIFICATE", der)
	return ca
}

// issue writes a certificate for a coordinator on 127.0.0.1, usable as
// server and client, and its key; it returns the two files.
func (ca *testCA) issue(t *testing.T, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(testSerial.Add(1)), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(ca.dir, name+".pem"), filepath.Join(ca.dir, name+"-key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", kder)
	return certFile, keyFile
}

// withTLS sets c's TLS files: the CA's, and a certificate from issuer.
func withTLS(t *testing.T, c *NodeConfig, ca, issuer *testCA) {
	c.TLSCAFile = ca.caFile
	c.TLSCertFile, c.TLSKeyFile = issuer.issue(t, c.ID)
}

// dialRaft opens a TLS connection to a raft port as a client with
// config and reports what the server made of it: nil if it accepted the
// connection (a read then waits for an RPC and times out), else the
// handshake's error or the alert the server sent back.
func dialRaft(addr string, config *tls.Config) error {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 3 * time.Second}, "tcp", addr, config)
	if err != nil {
		return err
	}
	defer conn.Close()
	// In TLS 1.3 the client's handshake ends before the server has
	// checked the client's certificate; a refusal arrives as an alert.
	conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	_, err = conn.Read(make([]byte, 1))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	return err
}

// TestRaftMutualTLS: a group over mutual TLS elects a leader and
// replicates; a node with a certificate from another CA, at the address
// and ID of a stopped member, gets nothing in or out; a raw TLS client
// without a good certificate is refused the handshake; a replacement
// with a good certificate catches up.
func TestRaftMutualTLS(t *testing.T) {
	ca, evil := newTestCA(t, "levy raft CA"), newTestCA(t, "impostor CA")
	core, logs := observed(zap.WarnLevel)
	// The group runs on raft's default timeouts (a 500 ms leader lease,
	// not Fast's 100 ms), so that a loaded machine does not change its
	// leader or term while the test watches them; the impostor is Fast,
	// and campaigns every 150 ms.
	g := newGroupWith(t, 3, func(i int, c *NodeConfig) {
		withTLS(t, c, ca, ca)
		c.Log, c.Fast = core, false
	})
	l := g.leader()
	for _, op := range []Op{{Kind: opSubmit, Job: "j", Spec: spec(100), Want: 1}, {Kind: opProgress, Job: "j", Step: 7}} {
		if err := g.nodes[l].apply(op, 2*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	for i := range g.nodes {
		g.waitJob(i, "j", 7)
	}

	// The impostor: a follower's ID, address and peers, a fresh data dir
	// (it bootstraps the same configuration), the group's CA to trust,
	// and a certificate signed by another CA.
	f := (l + 1) % 3
	g.nodes[f].Shutdown()
	g.nodes[f] = nil
	look := func() map[int]raftView {
		m := map[int]raftView{}
		for i, nd := range g.nodes {
			if nd != nil {
				id, _ := nd.Leader()
				m[i] = raftView{nd.raft.CurrentTerm(), nd.raft.LastIndex(), nd.raft.CommitIndex(), id}
			}
		}
		return m
	}
	before := look()
	logs.TakeAll()
	imp := NodeConfig{ID: g.peers[f].ID, Bind: g.peers[f].Addr, Peers: g.peers, DataDir: t.TempDir(), Fast: true, Log: core}
	withTLS(t, &imp, ca, evil)
	impostor, err := NewNode(imp)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // ≈ 13 election timeouts
	id, _ := impostor.Leader()
	var known bool
	impostor.fsm.Read(func(s *state) { known = s.Jobs["j"] != nil })
	impostorTerm := impostor.raft.CurrentTerm()
	impostor.Shutdown()
	if id != "" || known || impostor.raft.LastIndex() > 1 {
		t.Errorf("the impostor learnt something: leader %q, job j %v, last index %d", id, known, impostor.raft.LastIndex())
	}
	if after := look(); !maps.Equal(before, after) {
		t.Errorf("the group changed while the impostor ran: %v, then %v", before, after)
	}
	// What the group logged: its refusals of the impostor's connections
	// (handshakes without a certificate of the CA: Go's client offers
	// none of the server's acceptable CAs) and of the impostor as a
	// server; a vote request from it would mean one got through.
	var inbound, outbound, votes int
	for _, e := range logs.TakeAll() {
		m := e.ContextMap()
		if m["coordinator"] == g.peers[f].ID {
			continue // the impostor's own complaints
		}
		msg := fmt.Sprint(e.Message, ": ", m["error"])
		switch {
		case strings.Contains(msg, "vote request"):
			votes++
		case strings.Contains(msg, "raft TLS handshake with") && strings.Contains(msg, "certificate"):
			inbound++
		case strings.Contains(msg, "x509: certificate signed by unknown authority"):
			outbound++
		}
	}
	t.Logf("impostor at term %d; the group %v before and after; the group refused %d connections from the impostor and %d to it, and logged %d vote requests",
		impostorTerm, before, inbound, outbound, votes)
	if votes > 0 || inbound == 0 || outbound == 0 {
		t.Errorf("the group logged %d vote requests, %d refused connections from the impostor, %d to it", votes, inbound, outbound)
	}

	// Raw clients at a member's raft port.
	addr := g.peers[l].Addr
	clientCert := func(issuer *testCA) []tls.Certificate {
		cf, kf := issuer.issue(t, "client")
		c, err := tls.LoadX509KeyPair(cf, kf)
		if err != nil {
			t.Fatal(err)
		}
		return []tls.Certificate{c}
	}
	// force presents the certificate whatever CAs the server asks for.
	force := func(c []tls.Certificate) func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c[0], nil }
	}
	pool := func(ca *testCA) *x509.CertPool {
		p := x509.NewCertPool()
		p.AddCert(ca.cert)
		return p
	}
	for _, tc := range []struct {
		name string
		cfg  *tls.Config
		ok   bool
	}{
		{"a certificate of the group's CA", &tls.Config{RootCAs: pool(ca), Certificates: clientCert(ca)}, true},
		{"a certificate of another CA", &tls.Config{RootCAs: pool(ca), Certificates: clientCert(evil)}, false},
		{"a certificate of another CA, presented anyway", &tls.Config{RootCAs: pool(ca), GetClientCertificate: force(clientCert(evil))}, false},
		{"no certificate", &tls.Config{RootCAs: pool(ca)}, false},
		{"TLS 1.2", &tls.Config{RootCAs: pool(ca), Certificates: clientCert(ca), MaxVersion: tls.VersionTLS12}, false},
		{"a server of another CA", &tls.Config{RootCAs: pool(evil), Certificates: clientCert(ca)}, false},
	} {
		err := dialRaft(addr, tc.cfg)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
	}

	// A replacement with a good certificate and a fresh dir catches up.
	g.dirs[f] = t.TempDir()
	g.start(f)
	g.waitJob(f, "j", 7)
}

// raftView is what a member knows of the group.
type raftView struct {
	Term, Last, Commit uint64
	Leader             string
}

// TestRaftTLSConfigErrors: the TLS files come all three or not at all,
// and unreadable ones stop NewNode with the flag's name.
func TestRaftTLSConfigErrors(t *testing.T) {
	ca := newTestCA(t, "levy raft CA")
	cert, key := ca.issue(t, "c1")
	addr := natstest.FreeAddrs(t, 1)[0]
	base := NodeConfig{ID: "c1", Bind: addr, Peers: []Peer{{ID: "c1", Addr: addr}}}
	for _, tc := range []struct {
		ca, cert, key string
		want          string // in the error; "" for none
	}{
		{"", "", "", ""},
		{ca.caFile, cert, key, ""},
		{ca.caFile, "", "", "needs all three"},
		{"", cert, key, "needs all three"},
		{ca.caFile, cert, "", "needs all three"},
		{filepath.Join(t.TempDir(), "none.pem"), cert, key, "--raft-tls-ca"},
		{key, cert, key, "no PEM certificate"},
		{ca.caFile, cert, ca.caFile, "--raft-tls-key"},
	} {
		c := base
		c.DataDir, c.TLSCAFile, c.TLSCertFile, c.TLSKeyFile = t.TempDir(), tc.ca, tc.cert, tc.key
		nd, err := NewNode(c)
		if nd != nil {
			nd.Shutdown()
		}
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("ca %q cert %q key %q: %v, want %q", tc.ca, tc.cert, tc.key, err, tc.want)
		}
	}
	c := base
	c.Bind, c.DataDir, c.TLSCAFile, c.TLSCertFile, c.TLSKeyFile = "0.0.0.0:0", t.TempDir(), ca.caFile, cert, key
	c.Peers = []Peer{{ID: "c1", Addr: "0.0.0.0:0"}}
	if nd, err := NewNode(c); err == nil {
		nd.Shutdown()
		t.Error("an unspecified --raft-bind accepted")
	}
}
