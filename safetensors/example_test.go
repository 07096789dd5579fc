package safetensors_test

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/levy-ml/levy/safetensors"
)

// Example writes two tensors and a metadata entry to a safetensors file in
// memory and reads them back. The file is an 8-byte little-endian header
// length, a JSON header, then the raw little-endian float32 data.
func Example() {
	var buf bytes.Buffer
	err := safetensors.Encode(&buf, []safetensors.Tensor{
		{Name: "lin.weight", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}},
		{Name: "lin.bias", Shape: []int{2}, Data: []float32{0.5, -0.5}},
	}, map[string]string{"step": "640"})
	if err != nil {
		panic(err)
	}
	b := buf.Bytes()
	n := binary.LittleEndian.Uint64(b)
	fmt.Printf("%d bytes: header %s\n", len(b), bytes.TrimRight(b[8:8+n], " "))

	tensors, meta, err := safetensors.Decode(b)
	if err != nil {
		panic(err)
	}
	for _, t := range tensors {
		fmt.Println(t.Name, t.Shape, t.Data)
	}
	fmt.Println("step", meta["step"])
	// Output:
	// 200 bytes: header {"__metadata__":{"step":"640"},"lin.bias":{"dtype":"F32","shape":[2],"data_offsets":[24,32]},"lin.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}
	// lin.weight [2 3] [1 2 3 4 5 6]
	// lin.bias [2] [0.5 -0.5]
	// step 640
}

// ExampleDecode shows the error for a file cut short.
func ExampleDecode() {
	var buf bytes.Buffer
	if err := safetensors.Encode(&buf, []safetensors.Tensor{{Name: "w", Shape: []int{4}, Data: []float32{1, 2, 3, 4}}}, nil); err != nil {
		panic(err)
	}
	_, _, err := safetensors.Decode(buf.Bytes()[:buf.Len()-4])
	fmt.Println(err)
	// Output:
	// safetensors: malformed file: tensor "w": data_offsets [0 16] do not follow 0 and hold 4 F32 values within 12 data bytes
}
