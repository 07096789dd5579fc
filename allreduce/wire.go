package allreduce

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unsafe"
)

const (
	magic      = 0x5241564c // "LVAR" little-endian
	version    = 1
	headerSize = 48
)

// header is the fixed part of every chunk message.
type header struct {
	Generation uint64
	Seq        uint64 // call sequence number on this ring
	Total      uint64 // values in the whole buffer
	Step       uint32 // 0 … 2(N−1)−1
	Chunk      uint32 // chunk index within the step's segment
	From       uint32 // sender rank
	Count      uint32 // values in this chunk
}

var errHeader = errors.New("allreduce: malformed chunk")

func (h *header) put(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], magic)
	b[4], b[5], b[6], b[7] = version, 0, 0, 0
	binary.LittleEndian.PutUint64(b[8:], h.Generation)
	binary.LittleEndian.PutUint64(b[16:], h.Seq)
	binary.LittleEndian.PutUint64(b[24:], h.Total)
	binary.LittleEndian.PutUint32(b[32:], h.Step)
	binary.LittleEndian.PutUint32(b[36:], h.Chunk)
	binary.LittleEndian.PutUint32(b[40:], h.From)
	binary.LittleEndian.PutUint32(b[44:], h.Count)
}

// decodeHeader splits a message into its header and payload. It never
// panics; the payload length must be exactly 4·Count.
func decodeHeader(b []byte) (header, []byte, error) {
	var h header
	if len(b) < headerSize {
		return h, nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", errHeader, len(b), headerSize)
	}
	if m := binary.LittleEndian.Uint32(b); m != magic {
		return h, nil, fmt.Errorf("%w: magic %#x", errHeader, m)
	}
	if b[4] != version {
		return h, nil, fmt.Errorf("%w: version %d, this build speaks %d", errHeader, b[4], version)
	}
	h.Generation = binary.LittleEndian.Uint64(b[8:])
	h.Seq = binary.LittleEndian.Uint64(b[16:])
	h.Total = binary.LittleEndian.Uint64(b[24:])
	h.Step = binary.LittleEndian.Uint32(b[32:])
	h.Chunk = binary.LittleEndian.Uint32(b[36:])
	h.From = binary.LittleEndian.Uint32(b[40:])
	h.Count = binary.LittleEndian.Uint32(b[44:])
	p := b[headerSize:]
	if uint64(len(p)) != 4*uint64(h.Count) {
		return h, nil, fmt.Errorf("%w: %d payload bytes for %d values", errHeader, len(p), h.Count)
	}
	if uint64(h.Count) > h.Total {
		return h, nil, fmt.Errorf("%w: chunk of %d values in a buffer of %d", errHeader, h.Count, h.Total)
	}
	return h, p, nil
}

// littleEndian reports whether the host stores float32 as the wire does,
// so that values can be copied as bytes.
var littleEndian = func() bool {
	x := uint32(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// putFloats writes src into dst (4·len(src) bytes), little-endian.
func putFloats(dst []byte, src []float32) {
	if littleEndian && len(src) > 0 {
		copy(dst, unsafe.Slice((*byte)(unsafe.Pointer(&src[0])), 4*len(src)))
		return
	}
	for i, v := range src {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
	}
}

// floatsOf views a little-endian payload as float32s without copying when
// the host is little-endian and the bytes are aligned; otherwise it
// decodes into scratch.
func floatsOf(p []byte, scratch []float32) []float32 {
	n := len(p) / 4
	if n == 0 {
		return nil
	}
	if littleEndian && uintptr(unsafe.Pointer(&p[0]))%4 == 0 {
		return unsafe.Slice((*float32)(unsafe.Pointer(&p[0])), n)
	}
	out := scratch[:n]
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:]))
	}
	return out
}
