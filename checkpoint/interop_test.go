package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/levy-ml/levy/safetensors"
)

var update = flag.Bool("update", false, "rewrite testdata/interop.safetensors from the current encoder")

var interopPath = filepath.Join("testdata", "interop.safetensors")

// The fixture: tensors in this (data) order, value i·0.5 − 3 with i counting
// across all tensors, and this metadata. See testdata/README.md.
var interopShapes = []struct {
	name  string
	shape []int
}{
	{"net.0.weight", []int{2, 3}},
	{"net.0.bias", []int{3}},
	{"ema.decay", []int{}},
	{"step", []int{1}},
	{"net.1.weight", []int{2, 1, 2}},
}

var interopMeta = map[string]string{"format": "pt", "levy.step": "640", "levy.note": "checkpoint interop fixture"}

// interopValues returns the expected values of each tensor.
func interopValues() [][]float32 {
	var out [][]float32
	i := 0
	for _, s := range interopShapes {
		n := 1
		for _, d := range s.shape {
			n *= d
		}
		v := make([]float32, n)
		for j := range v {
			v[j] = float32(i)*0.5 - 3
			i++
		}
		out = append(out, v)
	}
	return out
}

func TestInteropFixtureIsCurrent(t *testing.T) {
	vals := interopValues()
	var ts []safetensors.Tensor
	for k, s := range interopShapes {
		ts = append(ts, safetensors.Tensor{Name: s.name, Shape: s.shape, Data: vals[k]})
	}
	var buf bytes.Buffer
	if err := safetensors.Encode(&buf, ts, interopMeta); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(interopPath, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", interopPath, buf.Len())
	}
	committed, err := os.ReadFile(interopPath)
	if err != nil {
		t.Fatalf("%v (regenerate with: go test ./checkpoint -run Interop -update)", err)
	}
	if !bytes.Equal(committed, buf.Bytes()) {
		t.Fatalf("%s (%d bytes) differs from what safetensors.Encode writes now (%d bytes); if the change is intended, run go test ./checkpoint -run Interop -update", interopPath, len(committed), buf.Len())
	}
}

// TestInteropFixtureSpec checks the committed fixture against the
// safetensors specification (github.com/huggingface/safetensors, README
// "Format") with the parser below, which shares no code with levy's.
func TestInteropFixtureSpec(t *testing.T) {
	b, err := os.ReadFile(interopPath)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parseSpec(b)
	if err != nil {
		t.Fatal(err)
	}
	if f.headerLen%8 != 0 {
		t.Errorf("header length %d: levy pads to a multiple of 8", f.headerLen)
	}
	if !reflect.DeepEqual(f.meta, interopMeta) {
		t.Errorf("__metadata__ %v, want %v", f.meta, interopMeta)
	}
	vals := interopValues()
	if len(f.tensors) != len(interopShapes) {
		t.Fatalf("%d tensors, want %d", len(f.tensors), len(interopShapes))
	}
	for k, s := range interopShapes {
		got := f.tensors[k] // in data order, which is the fixture's order
		if got.name != s.name || !slices.Equal(got.shape, s.shape) {
			t.Errorf("tensor %d: %q %v, want %q %v", k, got.name, got.shape, s.name, s.shape)
			continue
		}
		for j, v := range vals[k] {
			if math.Float32bits(got.values[j]) != math.Float32bits(v) {
				t.Errorf("%s[%d] = %v, want %v", s.name, j, got.values[j], v)
			}
		}
	}
	// The parser itself rejects what the spec forbids.
	bad := map[string][]byte{
		"short":            b[:7],
		"truncated":        b[:len(b)-1],
		"trailing byte":    append(slices.Clone(b), 0),
		"header too long":  withU64(b, uint64(len(b))),
		"header not {":     withHeader(b, func(h []byte) []byte { return append([]byte(" "), h[:len(h)-1]...) }),
		"dtype F64":        withHeader(b, func(h []byte) []byte { return bytes.Replace(h, []byte(`"F32"`), []byte(`"F64"`), 1) }),
		"duplicate key":    withHeader(b, func(h []byte) []byte { return bytes.Replace(h, []byte(`"net.1.weight"`), []byte(`"net.0.weight"`), 1) }),
		"overlap":          withHeader(b, func(h []byte) []byte { return bytes.Replace(h, []byte(`[36,40]`), []byte(`[32,36]`), 1) }),
		"hole":             withHeader(b, func(h []byte) []byte { return bytes.Replace(h, []byte(`[36,40]`), []byte(`[37,41]`), 1) }),
		"not padded by sp": withHeader(b, func(h []byte) []byte { return append(h[:len(h)-1], '\t') }),
		"bad UTF-8":        withHeader(b, func(h []byte) []byte { return bytes.Replace(h, []byte("interop"), []byte("inter\xffp"), 1) }),
	}
	for name, bb := range bad {
		if _, err := parseSpec(bb); err == nil {
			t.Errorf("%s: the spec parser accepted it", name)
		}
	}
}

func withU64(b []byte, n uint64) []byte {
	c := slices.Clone(b)
	binary.LittleEndian.PutUint64(c, n)
	return c
}

// withHeader rewrites the header with edit, keeping its length (edits are
// same-length).
func withHeader(b []byte, edit func([]byte) []byte) []byte {
	n := binary.LittleEndian.Uint64(b)
	h := edit(slices.Clone(b[8 : 8+n]))
	if len(h) != int(n) {
		panic(fmt.Sprintf("edit changed the header length %d → %d", n, len(h)))
	}
	return append(append(slices.Clone(b[:8]), h...), b[8+n:]...)
}

type specTensor struct {
	name   string
	shape  []int
	begin  uint64
	end    uint64
	values []float32
}

type specFile struct {
	headerLen uint64
	meta      map[string]string
	tensors   []specTensor // sorted by data offset
}

// parseSpec parses a safetensors file as the specification describes it:
// 8 bytes little-endian u64 N; N bytes of UTF-8 JSON starting with '{',
// possibly padded with trailing spaces; then the byte buffer. Each
// non-"__metadata__" key maps to {"dtype", "shape", "data_offsets"} with
// offsets relative to the buffer; offsets must tile the buffer exactly.
// Only F32 (little-endian, row-major) is accepted here.
func parseSpec(b []byte) (*specFile, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("%d bytes, need 8 for the header size", len(b))
	}
	n := binary.LittleEndian.Uint64(b[:8])
	if n > uint64(len(b)-8) {
		return nil, fmt.Errorf("header size %d exceeds the %d bytes after it", n, len(b)-8)
	}
	header, buf := b[8:8+n], b[8+n:]
	if !utf8.Valid(header) {
		return nil, fmt.Errorf("header is not UTF-8")
	}
	if len(header) == 0 || header[0] != '{' {
		return nil, fmt.Errorf("header does not begin with '{'")
	}
	body := bytes.TrimRight(header, " ")
	if body[len(body)-1] != '}' {
		return nil, fmt.Errorf("header does not end with '}' followed only by spaces")
	}
	// Walk the top-level object by tokens to see duplicate keys.
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("header is not a JSON object: %v", err)
	}
	f := &specFile{headerLen: n}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key := tok.(string)
		if seen[key] {
			return nil, fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%q: %v", key, err)
		}
		if key == "__metadata__" {
			if err := json.Unmarshal(raw, &f.meta); err != nil {
				return nil, fmt.Errorf("__metadata__ is not a string map: %v", err)
			}
			continue
		}
		var info struct {
			Dtype       string   `json:"dtype"`
			Shape       []int    `json:"shape"`
			DataOffsets []uint64 `json:"data_offsets"`
		}
		d := json.NewDecoder(bytes.NewReader(raw))
		d.DisallowUnknownFields()
		if err := d.Decode(&info); err != nil {
			return nil, fmt.Errorf("%q: %v", key, err)
		}
		if info.Dtype != "F32" || info.Shape == nil || len(info.DataOffsets) != 2 {
			return nil, fmt.Errorf("%q: want dtype F32, a shape and two data_offsets, got %s", key, raw)
		}
		numel := uint64(1)
		for _, s := range info.Shape {
			if s < 0 {
				return nil, fmt.Errorf("%q: negative dimension", key)
			}
			numel *= uint64(s)
		}
		begin, end := info.DataOffsets[0], info.DataOffsets[1]
		if end < begin || end-begin != 4*numel {
			return nil, fmt.Errorf("%q: data_offsets [%d,%d] do not hold 4·%d bytes", key, begin, end, numel)
		}
		f.tensors = append(f.tensors, specTensor{name: key, shape: info.Shape, begin: begin, end: end})
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the header object")
	}
	slices.SortFunc(f.tensors, func(a, b specTensor) int {
		if a.begin != b.begin {
			return int(int64(a.begin) - int64(b.begin))
		}
		return int(int64(a.end) - int64(b.end))
	})
	var next uint64
	for k := range f.tensors {
		t := &f.tensors[k]
		if t.begin != next {
			return nil, fmt.Errorf("%q starts at %d, the previous tensor ends at %d (hole or overlap)", t.name, t.begin, next)
		}
		next = t.end
		seg := buf[min(t.begin, uint64(len(buf))):min(t.end, uint64(len(buf)))]
		if uint64(len(seg)) != t.end-t.begin {
			return nil, fmt.Errorf("%q ends at %d, past the %d-byte buffer", t.name, t.end, len(buf))
		}
		t.values = make([]float32, len(seg)/4)
		for i := range t.values {
			t.values[i] = math.Float32frombits(binary.LittleEndian.Uint32(seg[4*i:]))
		}
	}
	if next != uint64(len(buf)) {
		return nil, fmt.Errorf("tensors cover %d of the %d-byte buffer", next, len(buf))
	}
	return f, nil
}
