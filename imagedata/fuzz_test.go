package imagedata

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode: any bytes as an IDX image file (with a label file of the
// count its header claims) or as a CIFAR-10 batch either open with an
// error or give images that all read without error or panic.
func FuzzDecode(f *testing.F) {
	dir := f.TempDir()
	WriteIDXFixture(dir, "train", 3, false, 1)
	seed, _ := os.ReadFile(filepath.Join(dir, "train-images-idx3-ubyte"))
	f.Add(seed)
	f.Add(seed[:100])
	f.Add([]byte{0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 7})
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		img := filepath.Join(dir, "i")
		lab := filepath.Join(dir, "l")
		os.WriteFile(img, b, 0o644)
		n := uint32(0)
		if len(b) >= 8 {
			n = binary.BigEndian.Uint32(b[4:])
		}
		l := make([]byte, 8+int(min(n, 1<<16)))
		binary.BigEndian.PutUint32(l, idxLabelsMagic)
		binary.BigEndian.PutUint32(l[4:], n)
		os.WriteFile(lab, l, 0o644)
		if d, err := OpenIDX(img, lab); err == nil {
			x := make([]float32, IDXSize*IDXSize)
			for i := range d.Len() {
				if _, err := d.Image(i, x); err != nil {
					t.Fatalf("image %d of a file that opened: %v", i, err)
				}
			}
			d.Close()
		}
		c := filepath.Join(dir, "c")
		os.MkdirAll(c, 0o755)
		os.WriteFile(filepath.Join(c, CIFARTestFile), b, 0o644)
		if d, err := OpenCIFAR10(c, false); err == nil {
			x := make([]float32, cifarPixels)
			for i := range d.Len() {
				if _, err := d.Image(i, x); err != nil {
					t.Fatalf("record %d of a file that opened: %v", i, err)
				}
			}
			d.Close()
		}
	})
}
