package obs

import (
	"errors"
	"regexp"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// The series ConnOptions counts in.
const (
	SlowConsumerMetric        = "levy_nats_slow_consumer_total"
	PermissionViolationMetric = "levy_nats_permission_violations_total"
)

// ConnOptions makes a NATS connection's asynchronous trouble visible:
// errors the server or the client library report out of band are logged
// with their subject (nats.go reports a subscription that overflowed its
// pending limits, and every permissions violation, only through the
// ErrorHandler), slow-consumer events and permissions violations are
// counted in reg's levy_nats_slow_consumer_total and
// levy_nats_permission_violations_total, and disconnects and reconnects
// are logged. A nil log is a no-op and a nil reg counts nowhere; the
// counters are shared by every connection given the same reg.
func ConnOptions(log *zap.Logger, reg prometheus.Registerer) []nats.Option {
	if log == nil {
		log = zap.NewNop()
	}
	slow := counter(reg, SlowConsumerMetric, "Times a NATS subscription of this process overflowed its pending limits and dropped messages (one per episode).")
	perm := counter(reg, PermissionViolationMetric, "NATS permissions violations reported to this process: a publish or subscription its NATS user may not make.")
	return []nats.Option{
		nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
			fields := []zap.Field{zap.String("conn", nc.Opts.Name), zap.Error(err)}
			switch {
			case errors.Is(err, nats.ErrSlowConsumer):
				slow.Inc()
				if sub != nil {
					fields = append(fields, zap.String("subject", sub.Subject))
					if n, derr := sub.Dropped(); derr == nil {
						fields = append(fields, zap.Int("dropped", n))
					}
				}
				log.Warn("NATS slow consumer: messages dropped", fields...)
			case errors.Is(err, nats.ErrPermissionViolation):
				perm.Inc()
				if s := violated(err); s != "" {
					fields = append(fields, zap.String("subject", s))
				}
				log.Error("NATS permissions violation", fields...)
			default:
				if sub != nil {
					fields = append(fields, zap.String("subject", sub.Subject))
				}
				log.Warn("NATS error", fields...)
			}
		}),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", zap.String("conn", nc.Opts.Name), zap.Error(err))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("NATS reconnected", zap.String("conn", nc.Opts.Name), zap.String("url", nc.ConnectedUrlRedacted()))
		}),
	}
}

// violatedRE finds the subject in the server's `Permissions Violation for
// Publish to "x"` or `… for Subscription to "x"`.
var violatedRE = regexp.MustCompile(` to "([^"]*)"`)

func violated(err error) string {
	if m := violatedRE.FindStringSubmatch(err.Error()); m != nil {
		return m[1]
	}
	return ""
}

// counter registers a counter on reg, or finds the one registered before.
func counter(reg prometheus.Registerer, name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(prometheus.Counter); ok {
				return old
			}
		}
		panic("obs: registering " + name + ": " + err.Error())
	}
	return c
}
