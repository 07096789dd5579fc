package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/levy-ml/levy/safetensors"
)

// FormatVersion is the manifest format written by this package; Load
// rejects any other.
const FormatVersion = 1

// ManifestFile is the name of the manifest inside a checkpoint directory.
// It is written last and is the commit marker.
const ManifestFile = "manifest.json"

// maxManifest bounds how much of a manifest file Load reads.
const maxManifest = 16 << 20

// ErrCorrupt is wrapped by every error about a checkpoint whose manifest is
// missing, unreadable or invalid, or whose file is missing, unreadable,
// has the wrong size or SHA-256, or does not decode. The message always
// names the path of the offending file.
var ErrCorrupt = errors.New("checkpoint: corrupt")

// ErrNoCheckpoint is returned by Latest when no checkpoint under the root
// loads and verifies. It wraps the reasons the candidates were rejected.
var ErrNoCheckpoint = errors.New("checkpoint: no checkpoint")

// File is one safetensors file of a checkpoint, e.g. "model.safetensors".
type File struct {
	// Name is a base name ending in ".safetensors"; see ValidFileName.
	Name    string
	Tensors []safetensors.Tensor
	// Meta is the file's safetensors __metadata__ (optional).
	Meta map[string]string
}

// FileInfo records one file of a checkpoint in the manifest.
type FileInfo struct {
	Bytes  int64  `json:"bytes"`  // file size
	SHA256 string `json:"sha256"` // 64 lowercase hex digits
}

// RNGState says how to reproduce the random draws after a resume.
type RNGState struct {
	Seed uint64 `json:"seed"`
	// Scheme says how streams derive from (seed, rank, step), e.g.
	// "pcg(splitmix(seed,tag,step,index))".
	Scheme string `json:"scheme"`
	// Next is the step whose draws come next.
	Next int64 `json:"next_step"`
}

// Manifest describes a checkpoint; it is stored as manifest.json.
type Manifest struct {
	Format  int                 `json:"format"`          // FormatVersion
	Job     json.RawMessage     `json:"job"`             // the job spec, a JSON object, verbatim
	Step    int64               `json:"step"`            // optimizer steps completed
	Epoch   int64               `json:"epoch"`           // epochs completed
	RNG     RNGState            `json:"rng"`             // random streams
	Files   map[string]FileInfo `json:"files"`           // file name → size and hash
	Created time.Time           `json:"created"`         // when Save wrote it
	Extra   map[string]string   `json:"extra,omitempty"` // free-form, e.g. "loss"
}

// Validate checks the manifest's fields; each error names the field and
// its value.
func (m *Manifest) Validate() error {
	if m.Format != FormatVersion {
		return fmt.Errorf("checkpoint: manifest format: %d, want %d", m.Format, FormatVersion)
	}
	if m.Step < 0 {
		return fmt.Errorf("checkpoint: manifest step: %d, must be ≥ 0", m.Step)
	}
	if m.Epoch < 0 {
		return fmt.Errorf("checkpoint: manifest epoch: %d, must be ≥ 0", m.Epoch)
	}
	if m.RNG.Next < 0 {
		return fmt.Errorf("checkpoint: manifest rng.next_step: %d, must be ≥ 0", m.RNG.Next)
	}
	if err := checkJob(m.Job); err != nil {
		return err
	}
	if len(m.Files) == 0 {
		return errors.New("checkpoint: manifest files: empty, a checkpoint holds at least one file")
	}
	for _, name := range sortedNames(m.Files) {
		fi := m.Files[name]
		if err := ValidFileName(name); err != nil {
			return fmt.Errorf("checkpoint: manifest files: %w", err)
		}
		if fi.Bytes < 0 {
			return fmt.Errorf("checkpoint: manifest files[%q].bytes: %d, must be ≥ 0", name, fi.Bytes)
		}
		if !isHexSHA256(fi.SHA256) {
			return fmt.Errorf("checkpoint: manifest files[%q].sha256: %q, want 64 lowercase hex digits", name, fi.SHA256)
		}
	}
	return nil
}

func checkJob(job json.RawMessage) error {
	t := bytes.TrimLeft(job, " \t\r\n")
	if len(t) == 0 {
		return errors.New("checkpoint: manifest job: missing, want the job spec as a JSON object")
	}
	if t[0] != '{' || !json.Valid(t) {
		if len(t) > 40 {
			return fmt.Errorf("checkpoint: manifest job: %q…, want a JSON object", t[:40])
		}
		return fmt.Errorf("checkpoint: manifest job: %q, want a JSON object", t)
	}
	return nil
}

// ValidFileName reports whether name may name a checkpoint file: a plain
// base name (no path separators, not hidden) ending in ".safetensors".
func ValidFileName(name string) error {
	bad := func(why string) error { return fmt.Errorf("file name %q: %s", name, why) }
	switch {
	case !strings.HasSuffix(name, ".safetensors"):
		return bad(`must end in ".safetensors"`)
	case strings.HasPrefix(name, "."):
		return bad(`must not start with "."`)
	case !utf8.ValidString(name):
		return bad("not UTF-8")
	case strings.ContainsAny(name, `/\:`) || !filepath.IsLocal(name) || filepath.Base(name) != name:
		return bad("must be a base name without path separators")
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return bad("contains a control character")
	}
	return nil
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ParseManifest decodes a manifest strictly (unknown fields and trailing
// data are errors), normalises it (Job compacted, an empty Extra made nil)
// and validates it.
func ParseManifest(b []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("checkpoint: manifest JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("checkpoint: manifest JSON: data after the top-level object")
	}
	if len(m.Job) > 0 {
		var c bytes.Buffer
		if err := json.Compact(&c, m.Job); err != nil {
			return nil, fmt.Errorf("checkpoint: manifest job: %w", err)
		}
		m.Job = c.Bytes()
	}
	if len(m.Extra) == 0 {
		m.Extra = nil
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// marshalManifest is the manifest.json encoding: indented, HTML left
// unescaped, newline-terminated. ParseManifest inverts it exactly.
func marshalManifest(m *Manifest) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
