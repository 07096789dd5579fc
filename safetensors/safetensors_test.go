package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"testing"
)

func TestRoundTripAndLayout(t *testing.T) {
	in := []Tensor{
		{Name: "w", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, -6.5}},
		{Name: "b", Shape: []int{3}, Data: []float32{0.5, float32(math.Inf(1)), -0}},
		{Name: "s", Shape: []int{}, Data: []float32{7}},
	}
	var buf bytes.Buffer
	if err := Encode(&buf, in, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	// Independent check of the layout: length prefix, 8-aligned JSON, raw LE floats.
	n := binary.LittleEndian.Uint64(b[:8])
	if n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	var hdr map[string]any
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	w := hdr["w"].(map[string]any)
	if w["dtype"] != "F32" {
		t.Errorf("dtype %v", w["dtype"])
	}
	off := w["data_offsets"].([]any)
	if off[0].(float64) != 0 || off[1].(float64) != 24 {
		t.Errorf("w offsets %v, want [0 24]", off)
	}
	if got := math.Float32frombits(binary.LittleEndian.Uint32(b[8+n+20:])); got != -6.5 {
		t.Errorf("w[5] bytes decode to %v", got)
	}
	if uint64(len(b)) != 8+n+4*10 {
		t.Errorf("file is %d bytes, want %d", len(b), 8+n+40)
	}
	out, meta, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if meta["format"] != "pt" || len(out) != 3 {
		t.Fatalf("meta %v, %d tensors", meta, len(out))
	}
	for i := range in {
		if out[i].Name != in[i].Name {
			t.Fatalf("tensor %d is %q, want %q", i, out[i].Name, in[i].Name)
		}
		for j, v := range in[i].Data {
			if math.Float32bits(out[i].Data[j]) != math.Float32bits(v) {
				t.Errorf("%s[%d] = %v, want %v", in[i].Name, j, out[i].Data[j], v)
			}
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	var buf bytes.Buffer
	Encode(&buf, []Tensor{{Name: "w", Shape: []int{4}, Data: []float32{1, 2, 3, 4}}}, nil)
	good := buf.Bytes()
	for name, b := range map[string][]byte{
		"empty":       nil,
		"short":       good[:5],
		"truncated":   good[:len(good)-3],
		"extra bytes": append(append([]byte(nil), good...), 0, 0, 0, 0),
		"huge header": append([]byte{255, 255, 255, 255, 0, 0, 0, 0}, good[8:]...),
	} {
		if _, _, err := Decode(b); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: err = %v, want ErrFormat", name, err)
		}
	}
	if err := Encode(&bytes.Buffer{}, []Tensor{{Name: "w", Shape: []int{3}, Data: []float32{1}}}, nil); err == nil {
		t.Error("Encode with a wrong shape = nil error")
	}
}

func FuzzDecode(f *testing.F) {
	var buf bytes.Buffer
	Encode(&buf, []Tensor{{Name: "w", Shape: []int{2, 2}, Data: []float32{1, 2, 3, 4}}}, map[string]string{"k": "v"})
	f.Add(buf.Bytes())
	f.Add([]byte{8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '})
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, _, err := Decode(b)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := Encode(&out, ts, nil); err != nil {
			t.Fatalf("re-encoding a decoded file failed: %v", err)
		}
	})
}
