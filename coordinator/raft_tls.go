package coordinator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// raftTLSConfig reads the CA, certificate and key files into the one
// config both ends of a raft connection use: each coordinator presents
// its certificate and accepts only peers whose certificate the CA
// signed, as server (RequireAndVerifyClientCert) and as client (the
// peer's certificate must name the host dialled), over TLS 1.3.
func raftTLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("coordinator: --raft-tls-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("coordinator: --raft-tls-ca %s: no PEM certificate in it", caFile)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("coordinator: --raft-tls-cert %s, --raft-tls-key %s: %w", certFile, keyFile, err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
	}, nil
}

// tlsStreamLayer is a raft.StreamLayer over mutual TLS.
type tlsStreamLayer struct {
	ln        net.Listener // TCP
	advertise net.Addr
	config    *tls.Config
	timeout   time.Duration // of a handshake
}

// newTLSTransport listens on bind and returns raft's network transport
// over TLS with config; advertise is the address peers reach it at.
func newTLSTransport(bind string, advertise *net.TCPAddr, config *tls.Config, logger hclog.Logger) (*raft.NetworkTransport, error) {
	if advertise.IP == nil || advertise.IP.IsUnspecified() {
		return nil, errors.New("the address is not one peers can reach (unspecified IP)")
	}
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	const timeout = 5 * time.Second
	stream := &tlsStreamLayer{ln: ln, advertise: advertise, config: config, timeout: timeout}
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: stream, MaxPool: 3, Timeout: timeout, Logger: logger,
	}), nil
}

// Accept returns the next connection, its handshake not yet done: the
// handshake happens in raft's goroutine for the connection, on its first
// read, so that a slow or silent peer holds up only itself.
func (s *tlsStreamLayer) Accept() (net.Conn, error) {
	c, err := s.ln.Accept()
	if err != nil {
		return nil, err
	}
	return &tlsServerConn{Conn: tls.Server(c, s.config), timeout: s.timeout}, nil
}

// Dial connects to a peer and completes the handshake.
func (s *tlsStreamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: s.config}
	return d.Dial("tcp", string(addr))
}

func (s *tlsStreamLayer) Close() error   { return s.ln.Close() }
func (s *tlsStreamLayer) Addr() net.Addr { return s.advertise }

// tlsServerConn bounds the handshake of an accepted connection: a peer
// that connects and says nothing is dropped after timeout (a completed
// handshake has no deadline: raft keeps idle connections in a pool).
type tlsServerConn struct {
	*tls.Conn
	timeout time.Duration
	once    sync.Once
	err     error
}

func (c *tlsServerConn) handshake() error {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		defer cancel()
		if err := c.Conn.HandshakeContext(ctx); err != nil {
			c.err = fmt.Errorf("raft TLS handshake with %s: %w", c.RemoteAddr(), err)
		}
	})
	return c.err
}

func (c *tlsServerConn) Read(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *tlsServerConn) Write(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}
