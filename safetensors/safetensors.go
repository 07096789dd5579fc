package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
)

// MaxHeader is the largest header accepted (as in the reference reader).
const MaxHeader = 100 << 20

// ErrFormat is wrapped by every error about a malformed file.
var ErrFormat = errors.New("safetensors: malformed file")

// Tensor is a named float32 tensor.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

type entry struct {
	Dtype   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// Encode writes tensors and metadata to w. Names must be unique and not
// "__metadata__"; len(Data) must equal the product of Shape.
func Encode(w io.Writer, tensors []Tensor, meta map[string]string) error {
	header := make(map[string]any, len(tensors)+1)
	if len(meta) > 0 {
		header["__metadata__"] = meta
	}
	var off int64
	for _, t := range tensors {
		if t.Name == "" || t.Name == "__metadata__" {
			return fmt.Errorf("safetensors: invalid tensor name %q", t.Name)
		}
		if _, dup := header[t.Name]; dup {
			return fmt.Errorf("safetensors: duplicate tensor name %q", t.Name)
		}
		if n := numel(t.Shape); n != len(t.Data) {
			return fmt.Errorf("safetensors: tensor %q: shape %v holds %d values, data has %d", t.Name, t.Shape, n, len(t.Data))
		}
		sz := int64(4 * len(t.Data))
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = entry{Dtype: "F32", Shape: shape, Offsets: [2]int64{off, off + sz}}
		off += sz
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return err
	}
	if pad := (8 - len(hj)%8) % 8; pad > 0 {
		hj = append(hj, bytes.Repeat([]byte{' '}, pad)...)
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hj)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(hj); err != nil {
		return err
	}
	buf := make([]byte, 0, 1<<16)
	for _, t := range tensors {
		for _, v := range t.Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			if len(buf) >= 1<<16 {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
	}
	_, err = w.Write(buf)
	return err
}

// Decode parses a whole safetensors file held in b. Tensors come back in
// the order of their data offsets.
func Decode(b []byte) ([]Tensor, map[string]string, error) {
	if len(b) < 8 {
		return nil, nil, fmt.Errorf("%w: %d bytes, shorter than the 8-byte header length", ErrFormat, len(b))
	}
	n := binary.LittleEndian.Uint64(b[:8])
	if n > MaxHeader || n > uint64(len(b)-8) {
		return nil, nil, fmt.Errorf("%w: header length %d exceeds the file (%d bytes) or %d", ErrFormat, n, len(b), MaxHeader)
	}
	hb := b[8 : 8+n]
	if len(hb) == 0 || hb[0] != '{' {
		return nil, nil, fmt.Errorf("%w: header does not start with '{'", ErrFormat)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hb, &raw); err != nil {
		return nil, nil, fmt.Errorf("%w: header JSON: %v", ErrFormat, err)
	}
	data := b[8+n:]
	var meta map[string]string
	type named struct {
		name string
		e    entry
	}
	var ents []named
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &meta); err != nil {
				return nil, nil, fmt.Errorf("%w: __metadata__ must map strings to strings: %v", ErrFormat, err)
			}
			continue
		}
		var e entry
		dec := json.NewDecoder(bytes.NewReader(msg))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, nil, fmt.Errorf("%w: tensor %q: %v", ErrFormat, name, err)
		}
		ents = append(ents, named{name, e})
	}
	slices.SortFunc(ents, func(a, b named) int {
		if a.e.Offsets[0] != b.e.Offsets[0] {
			return int(a.e.Offsets[0] - b.e.Offsets[0])
		}
		return int(a.e.Offsets[1] - b.e.Offsets[1])
	})
	var next int64
	out := make([]Tensor, 0, len(ents))
	for _, t := range ents {
		e := t.e
		if e.Dtype != "F32" {
			return nil, nil, fmt.Errorf("%w: tensor %q: dtype %q, only F32 is supported", ErrFormat, t.name, e.Dtype)
		}
		cnt := numel(e.Shape)
		if cnt < 0 {
			return nil, nil, fmt.Errorf("%w: tensor %q: invalid shape %v", ErrFormat, t.name, e.Shape)
		}
		if e.Offsets[0] != next || e.Offsets[1]-e.Offsets[0] != 4*int64(cnt) || e.Offsets[1] > int64(len(data)) {
			return nil, nil, fmt.Errorf("%w: tensor %q: data_offsets %v do not follow %d and hold %d F32 values within %d data bytes", ErrFormat, t.name, e.Offsets, next, cnt, len(data))
		}
		v := make([]float32, cnt)
		seg := data[e.Offsets[0]:e.Offsets[1]]
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(seg[4*i:]))
		}
		out = append(out, Tensor{Name: t.name, Shape: e.Shape, Data: v})
		next = e.Offsets[1]
	}
	if next != int64(len(data)) {
		return nil, nil, fmt.Errorf("%w: tensors cover %d of %d data bytes (truncated or padded file)", ErrFormat, next, len(data))
	}
	return out, meta, nil
}

// ReadFile decodes the file at path; errors name the file.
func ReadFile(path string) ([]Tensor, map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	t, m, err := Decode(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, m, nil
}

func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		if s < 0 || (s > 0 && n > math.MaxInt32/s) {
			return -1
		}
		n *= s
	}
	return n
}
