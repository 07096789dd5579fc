package coordinator

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"reflect"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// zapHclog is an hclog.Logger (the logger raft takes) that writes to a
// zap.Logger: hclog's levels become zap's (Trace becomes Debug), its
// key/value pairs and implied args become fields, and its name the zap
// logger's name.
type zapHclog struct {
	base    *zap.Logger // without the hclog name and implied args
	z       *zap.Logger // base, named, with the implied args as fields
	name    string
	implied []any
	level   *atomic.Int32 // an hclog.Level, shared with derived loggers
}

// newHclog returns an hclog.Logger over z that logs at level and above
// (and only where z's own level allows).
func newHclog(z *zap.Logger, level hclog.Level) hclog.Logger {
	l := &zapHclog{base: z.WithOptions(zap.AddCallerSkip(2)), level: new(atomic.Int32)}
	l.level.Store(int32(level))
	return l.derive(l.name, l.implied)
}

// derive returns a logger sharing l's base and level.
func (l *zapHclog) derive(name string, implied []any) *zapHclog {
	z := l.base
	if name != "" {
		z = z.Named(name)
	}
	return &zapHclog{base: l.base, z: z.With(hclogFields(implied)...), name: name, implied: implied, level: l.level}
}

// zapLevel maps an hclog level; ok is false for Off.
func zapLevel(level hclog.Level) (zapcore.Level, bool) {
	switch level {
	case hclog.Trace, hclog.Debug:
		return zap.DebugLevel, true
	case hclog.NoLevel, hclog.Info:
		return zap.InfoLevel, true
	case hclog.Warn:
		return zap.WarnLevel, true
	case hclog.Error:
		return zap.ErrorLevel, true
	}
	return 0, false
}

func (l *zapHclog) enabled(level hclog.Level) bool {
	zl, ok := zapLevel(level)
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	return ok && level >= hclog.Level(l.level.Load()) && l.z.Core().Enabled(zl)
}

// emit writes one entry. Every exported method calls it directly, so
// that two frames up is the caller (zap.AddCallerSkip(2) in newHclog).
func (l *zapHclog) emit(level hclog.Level, msg string, args []any) {
	if !l.enabled(level) {
		return
	}
	zl, _ := zapLevel(level)
	if ce := l.z.Check(zl, msg); ce != nil {
		ce.Write(hclogFields(args)...)
	}
}

// hclogFields turns hclog's key/value pairs into zap fields. An odd
// value at the end is a stack trace when it is one, and otherwise gets
// hclog's key for a missing one.
func hclogFields(args []any) []zap.Field {
	if len(args) == 0 {
		return nil
	}
	fields := make([]zap.Field, 0, len(args)/2+1)
	if len(args)%2 == 1 {
		last := args[len(args)-1]
		args = args[:len(args)-1]
		if st, ok := last.(hclog.CapturedStacktrace); ok {
			fields = append(fields, zap.String("stacktrace", string(st)))
		} else {
			fields = append(fields, hclogField(hclog.MissingKey, last))
		}
	}
	for i := 0; i < len(args); i += 2 {
		key, ok := args[i].(string)
		if !ok {
			key = fmt.Sprint(args[i])
		}
		fields = append(fields, hclogField(key, args[i+1]))
	}
	return fields
}

// hclogField formats hclog's value types as hclog would, and gives
// named basic types (raft.ServerID, raft.ServerAddress) their plain
// value rather than zap's reflection.
func hclogField(key string, v any) zap.Field {
	switch v := v.(type) {
	case nil:
		return zap.Any(key, nil)
	case error:
		return zap.NamedError(key, v)
	case hclog.Format:
		if len(v) == 0 {
			return zap.String(key, "")
		}
		format, _ := v[0].(string)
		return zap.String(key, fmt.Sprintf(format, v[1:]...))
	case hclog.Hex:
		return zap.String(key, "0x"+strconv.FormatInt(int64(v), 16))
	case hclog.Octal:
		return zap.String(key, "0"+strconv.FormatInt(int64(v), 8))
	case hclog.Binary:
		return zap.String(key, "0b"+strconv.FormatInt(int64(v), 2))
	case hclog.Quote:
		return zap.String(key, strconv.Quote(string(v)))
	case time.Duration:
		return zap.Duration(key, v)
	case time.Time:
		return zap.Time(key, v)
	case fmt.Stringer:
		return zap.Stringer(key, v)
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.String:
		return zap.String(key, rv.String())
	case reflect.Bool:
		return zap.Bool(key, rv.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return zap.Int64(key, rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return zap.Uint64(key, rv.Uint())
	case reflect.Float32, reflect.Float64:
		return zap.Float64(key, rv.Float())
	}
	return zap.Any(key, v)
}

func (l *zapHclog) Log(level hclog.Level, msg string, args ...any) { l.emit(level, msg, args) }
func (l *zapHclog) Trace(msg string, args ...any)                  { l.emit(hclog.Trace, msg, args) }
func (l *zapHclog) Debug(msg string, args ...any)                  { l.emit(hclog.Debug, msg, args) }
func (l *zapHclog) Info(msg string, args ...any)                   { l.emit(hclog.Info, msg, args) }
func (l *zapHclog) Warn(msg string, args ...any)                   { l.emit(hclog.Warn, msg, args) }
func (l *zapHclog) Error(msg string, args ...any)                  { l.emit(hclog.Error, msg, args) }

func (l *zapHclog) IsTrace() bool { return l.enabled(hclog.Trace) }
func (l *zapHclog) IsDebug() bool { return l.enabled(hclog.Debug) }
func (l *zapHclog) IsInfo() bool  { return l.enabled(hclog.Info) }
func (l *zapHclog) IsWarn() bool  { return l.enabled(hclog.Warn) }
func (l *zapHclog) IsError() bool { return l.enabled(hclog.Error) }

// ImpliedArgs returns a copy of the args every entry carries.
func (l *zapHclog) ImpliedArgs() []any { return append([]any(nil), l.implied...) }

// With returns a logger whose entries also carry args.
func (l *zapHclog) With(args ...any) hclog.Logger {
	return l.derive(l.name, append(l.ImpliedArgs(), args...))
}

func (l *zapHclog) Name() string { return l.name }

// Named appends name to the logger's name, with a dot.
func (l *zapHclog) Named(name string) hclog.Logger {
	if l.name != "" {
		name = l.name + "." + name
	}
	return l.derive(name, l.implied)
}

// ResetNamed replaces the logger's name (the zap logger's own name, if
// it had one, stays in front).
func (l *zapHclog) ResetNamed(name string) hclog.Logger { return l.derive(name, l.implied) }

// SetLevel changes the level of l and of every logger derived from the
// same newHclog call, as hclog's loggers share theirs.
func (l *zapHclog) SetLevel(level hclog.Level) { l.level.Store(int32(level)) }
func (l *zapHclog) GetLevel() hclog.Level      { return hclog.Level(l.level.Load()) }

// StandardLogger returns a standard library logger writing through l.
func (l *zapHclog) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(l.StandardWriter(opts), "", 0)
}

// StandardWriter returns a writer that logs each write as one entry:
// at opts.ForceLevel if set, else, with opts.InferLevels, at the level
// a "[WARN]"-style prefix names (the prefix removed), else at Info.
func (l *zapHclog) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	if opts == nil {
		opts = &hclog.StandardLoggerOptions{}
	}
	return &hclogWriter{l: l, opts: *opts}
}

type hclogWriter struct {
	l    *zapHclog
	opts hclog.StandardLoggerOptions
}

var hclogPrefixes = []struct {
	prefix string
	level  hclog.Level
}{
	{"[TRACE]", hclog.Trace}, {"[DEBUG]", hclog.Debug}, {"[INFO]", hclog.Info},
	{"[WARN]", hclog.Warn}, {"[ERROR]", hclog.Error}, {"[ERR]", hclog.Error},
}

func (w *hclogWriter) Write(p []byte) (int, error) {
	msg := bytes.TrimRight(p, " \t\r\n")
	level := hclog.Info
	switch {
	case w.opts.ForceLevel != hclog.NoLevel:
		level = w.opts.ForceLevel
	case w.opts.InferLevels || w.opts.InferLevelsWithTimestamp:
		for _, pl := range hclogPrefixes {
			if i := bytes.Index(msg, []byte(pl.prefix)); i >= 0 && (i == 0 || w.opts.InferLevelsWithTimestamp) {
				level, msg = pl.level, bytes.TrimSpace(msg[i+len(pl.prefix):])
				break
			}
		}
	}
	w.l.emit(level, string(msg), nil)
	return len(p), nil
}

var _ hclog.Logger = (*zapHclog)(nil)
