// Package cli holds what levy's commands share: the zap logger on stderr
// and the NATS connection options.
package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/levy-ml/levy/internal/obs"
)

// Logger returns a logger on stderr at level (debug, info, warn, error),
// in format "console" (for people) or "json" (one object per line, for
// log collectors).
func Logger(level, format string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	var enc zapcore.Encoder
	switch format {
	case "console", "":
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
		enc = zapcore.NewConsoleEncoder(ec)
	case "json":
		ec := zap.NewProductionEncoderConfig()
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewJSONEncoder(ec)
	default:
		return nil, fmt.Errorf("--log-format %q: want console or json", format)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(os.Stderr), lvl)), nil
}

// Connect dials the cluster's NATS server with reconnects, a name and the
// credentials in auth; asynchronous errors, disconnects and reconnects
// are logged (obs.ConnOptions), counted nowhere.
func Connect(url, name string, auth NATSAuth, log *zap.Logger) (*nats.Conn, error) {
	return ConnectObserved(url, name, auth, log, nil)
}

// ConnectObserved is Connect that also counts slow consumers and
// permissions violations in reg (obs.ConnOptions).
func ConnectObserved(url, name string, auth NATSAuth, log *zap.Logger, reg prometheus.Registerer) (*nats.Conn, error) {
	opts, err := auth.Options()
	if err != nil {
		return nil, err
	}
	opts = append(opts, nats.Name(name), nats.Timeout(5*time.Second),
		nats.MaxReconnects(-1), nats.ReconnectWait(500*time.Millisecond))
	opts = append(opts, obs.ConnOptions(log, reg)...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, explain(url, err)
	}
	return nc, nil
}

// SafeID turns s into a valid worker ID: characters other than letters,
// digits, '_' and '-' become '-', and it is cut to 64 bytes.
func SafeID(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '-'
		}
	}
	if len(b) > 64 {
		b = b[len(b)-64:]
	}
	if len(b) == 0 {
		return "worker"
	}
	return string(b)
}
