package imagedata

import (
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// This file writes small datasets in the real formats, for tests: levy's
// own and those of a user checking a configuration before fetching the
// real files. The pictures are simple class-dependent patterns.

// pattern is the intensity in [0, 1] of class c at (x, y) of a w×h image:
// stripes whose direction and frequency depend on the class.
func pattern(c, x, y, w, h int) float64 {
	fx := float64(x) / float64(w)
	fy := float64(y) / float64(h)
	switch c % 4 {
	case 0:
		fy = fx
	case 1:
	case 2:
		fy = (fx + fy) / 2
	case 3:
		fy = (fx - fy + 1) / 2
	}
	k := float64(1 + c%5)
	v := fy * k
	return v - float64(int(v))
}

// WriteIDXFixture writes n 28×28 images and labels as
// <prefix>-images-idx3-ubyte and <prefix>-labels-idx1-ubyte in dir
// (gzipped, with .gz, if gz), prefix being "train" or "t10k".
func WriteIDXFixture(dir, prefix string, n int, gz bool, seed uint64) error {
	const side = 28
	rng := rand.New(rand.NewPCG(seed, 0x1d3))
	img := make([]byte, 16, 16+n*side*side)
	binary.BigEndian.PutUint32(img[0:], idxImagesMagic)
	binary.BigEndian.PutUint32(img[4:], uint32(n))
	binary.BigEndian.PutUint32(img[8:], side)
	binary.BigEndian.PutUint32(img[12:], side)
	lab := make([]byte, 8, 8+n)
	binary.BigEndian.PutUint32(lab[0:], idxLabelsMagic)
	binary.BigEndian.PutUint32(lab[4:], uint32(n))
	for i := 0; i < n; i++ {
		c := i % 10
		lab = append(lab, byte(c))
		for y := 0; y < side; y++ {
			for x := 0; x < side; x++ {
				v := 255*pattern(c, x, y, side, side) + 20*rng.NormFloat64()
				img = append(img, byte(max(0, min(255, v))))
			}
		}
	}
	if err := writeMaybeGz(filepath.Join(dir, prefix+"-images-idx3-ubyte"), img, gz); err != nil {
		return err
	}
	return writeMaybeGz(filepath.Join(dir, prefix+"-labels-idx1-ubyte"), lab, gz)
}

func writeMaybeGz(path string, b []byte, gz bool) error {
	if !gz {
		return os.WriteFile(path, b, 0o644)
	}
	f, err := os.Create(path + ".gz")
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(f)
	if _, err := zw.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteCIFAR10Fixture writes the five training files and the test file of
// CIFAR-10's binary version with perFile records each.
func WriteCIFAR10Fixture(dir string, perFile int, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0xc1f))
	k := 0
	for _, name := range append(append([]string(nil), CIFARTrainFiles...), CIFARTestFile) {
		b := make([]byte, 0, perFile*cifarRecord)
		for r := 0; r < perFile; r++ {
			c := k % 10
			k++
			b = append(b, byte(c))
			for ch := 0; ch < 3; ch++ {
				for y := 0; y < CIFARSize; y++ {
					for x := 0; x < CIFARSize; x++ {
						v := 255*pattern(c+ch, x, y, CIFARSize, CIFARSize) + 20*rng.NormFloat64()
						b = append(b, byte(max(0, min(255, v))))
					}
				}
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// WriteCelebAFixture writes n aligned-face-sized (178×218) images, JPEG
// and PNG alternately, named like CelebA's (000001.jpg, …).
func WriteCelebAFixture(dir string, n int, seed uint64) error {
	const w, h = 178, 218
	rng := rand.New(rand.NewPCG(seed, 0xce1))
	for i := 0; i < n; i++ {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		c := rng.IntN(10)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				v := pattern(c, x, y, w, h)
				img.Set(x, y, color.RGBA{uint8(255 * v), uint8(255 * (1 - v)), uint8(128 + 100*(v-0.5)), 255})
			}
		}
		name := filepath.Join(dir, fmt.Sprintf("%06d.jpg", i+1))
		if i%2 == 1 {
			name = filepath.Join(dir, fmt.Sprintf("%06d.png", i+1))
		}
		f, err := os.Create(name)
		if err != nil {
			return err
		}
		if i%2 == 1 {
			err = png.Encode(f, img)
		} else {
			err = jpeg.Encode(f, img, &jpeg.Options{Quality: 90})
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}
