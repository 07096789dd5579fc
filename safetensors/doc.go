// Package safetensors reads and writes the safetensors format: an 8-byte
// little-endian header length N, N bytes of JSON header
// {"name": {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}, …,
// "__metadata__": {string: string}}, padded with spaces to a multiple of
// 8, then the raw little-endian tensor bytes, offsets relative to the
// start of that byte buffer. Files written here load unchanged in
// Python's safetensors (safetensors.torch.load_file).
//
// Hand-written: the format is small and no maintained Go library covers
// it without cgo. Only F32 tensors are supported, which is all levy
// stores.
package safetensors
