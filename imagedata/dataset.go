package imagedata

import (
	"errors"
	"fmt"
)

// Dataset is a read-only set of images of one shape.
type Dataset interface {
	// Name says what the set is and where it lies.
	Name() string
	// Len is the number of images.
	Len() int
	// Shape is the shape of every image: channels, height, width.
	Shape() (c, h, w int)
	// Image writes image i as [C, H, W] in [−1, 1] into dst, which must
	// hold C·H·W values, and returns its class label (−1 if the set has
	// none). It is safe for concurrent use.
	Image(i int, dst []float32) (label int, err error)
	// Flip says whether training should mirror the images at random.
	Flip() bool
	// Close releases the files.
	Close() error
}

// ErrFormat is wrapped by every error about a file that is not in the
// format it should be (a bad header, a truncated record, a wrong size).
var ErrFormat = errors.New("imagedata: bad file format")

// formatError names the file and the offset at which it is wrong.
func formatError(file string, off int64, format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d: %s", ErrFormat, file, off, fmt.Sprintf(format, args...))
}

// checkIndex panics if i is out of range or dst the wrong size: both are
// programming errors.
func checkIndex(name string, i, n int, dst []float32, dim int) {
	if i < 0 || i >= n {
		panic(fmt.Sprintf("imagedata: %s: image %d out of range [0, %d)", name, i, n))
	}
	if len(dst) != dim {
		panic(fmt.Sprintf("imagedata: %s: destination holds %d values, want %d", name, len(dst), dim))
	}
}

// toUnit maps a byte to [−1, 1].
func toUnit(b byte) float32 { return float32(b)/127.5 - 1 }

// HFlip mirrors the images [C, H, W] of img left to right, in place.
func HFlip(img []float32, c, h, w int) {
	if len(img) != c*h*w {
		panic(fmt.Sprintf("imagedata: HFlip of %d values as %d×%d×%d", len(img), c, h, w))
	}
	for r := 0; r < c*h; r++ {
		row := img[r*w : (r+1)*w]
		for i, j := 0, w-1; i < j; i, j = i+1, j-1 {
			row[i], row[j] = row[j], row[i]
		}
	}
}
