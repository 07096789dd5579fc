package imagedata

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// IDX is an IDX image file (magic 0x00000803: unsigned bytes, three
// dimensions) with its IDX label file (0x00000801), as Fashion-MNIST and
// MNIST are shipped. The images are padded with the background value to
// Size×Size.
type IDX struct {
	name    string
	images  io.ReaderAt
	labels  []byte
	closers []io.Closer
	n       int
	rows    int
	cols    int
	size    int
}

// IDXSize is the side Fashion-MNIST and MNIST are padded to (28 → 32, as
// the U-Net needs a side divisible by its downsampling factor).
const IDXSize = 32

const (
	idxImagesMagic = 0x00000803
	idxLabelsMagic = 0x00000801
)

// OpenFashionMNIST opens the training (train-*) or test (t10k-*) split of
// Fashion-MNIST or MNIST in dir: train-images-idx3-ubyte and
// train-labels-idx1-ubyte, each plain or with .gz.
func OpenFashionMNIST(dir string, train bool) (*IDX, error) {
	prefix := "t10k"
	if train {
		prefix = "train"
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("imagedata: dataset directory: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("imagedata: dataset directory %s is not a directory", dir)
	}
	img, err := findFile(dir, prefix+"-images-idx3-ubyte")
	if err != nil {
		return nil, err
	}
	lab, err := findFile(dir, prefix+"-labels-idx1-ubyte")
	if err != nil {
		return nil, err
	}
	return OpenIDX(img, lab)
}

// findFile returns dir/base or dir/base.gz, whichever exists.
func findFile(dir, base string) (string, error) {
	for _, name := range []string{base, base + ".gz"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("imagedata: %s: neither %s nor %s.gz: %w", dir, base, base, fs.ErrNotExist)
}

// OpenIDX opens an IDX image file and its label file; names ending in .gz
// are inflated into memory, others read with ReadAt.
func OpenIDX(imagesPath, labelsPath string) (*IDX, error) {
	d := &IDX{name: imagesPath, size: IDXSize}
	ra, size, closer, err := openMaybeGz(imagesPath)
	if err != nil {
		return nil, err
	}
	if closer != nil {
		d.closers = append(d.closers, closer)
	}
	d.images = ra
	var hdr [16]byte
	if _, err := ra.ReadAt(hdr[:], 0); err != nil {
		d.Close()
		return nil, formatError(imagesPath, 0, "header of 16 bytes: %v", err)
	}
	if m := binary.BigEndian.Uint32(hdr[0:]); m != idxImagesMagic {
		d.Close()
		return nil, formatError(imagesPath, 0, "magic %#08x, want %#08x (unsigned bytes, 3 dimensions)", m, idxImagesMagic)
	}
	d.n = int(binary.BigEndian.Uint32(hdr[4:]))
	d.rows = int(binary.BigEndian.Uint32(hdr[8:]))
	d.cols = int(binary.BigEndian.Uint32(hdr[12:]))
	if d.rows < 1 || d.cols < 1 || d.rows > IDXSize || d.cols > IDXSize {
		d.Close()
		return nil, formatError(imagesPath, 8, "images of %d×%d, want at most %d×%d", d.rows, d.cols, IDXSize, IDXSize)
	}
	rec := int64(d.rows * d.cols)
	if want := 16 + int64(d.n)*rec; size < want {
		k := (size - 16) / rec
		d.Close()
		return nil, formatError(imagesPath, 16+k*rec, "image %d of %d is truncated (file of %d bytes, want %d)", k, d.n, size, want)
	}
	lab, err := readAll(labelsPath)
	if err != nil {
		d.Close()
		return nil, err
	}
	if len(lab) < 8 {
		d.Close()
		return nil, formatError(labelsPath, 0, "header of 8 bytes is truncated (file of %d bytes)", len(lab))
	}
	if m := binary.BigEndian.Uint32(lab); m != idxLabelsMagic {
		d.Close()
		return nil, formatError(labelsPath, 0, "magic %#08x, want %#08x (unsigned bytes, 1 dimension)", m, idxLabelsMagic)
	}
	if n := int(binary.BigEndian.Uint32(lab[4:])); n != d.n {
		d.Close()
		return nil, formatError(labelsPath, 4, "%d labels for the %d images of %s", n, d.n, imagesPath)
	}
	if len(lab) < 8+d.n {
		d.Close()
		return nil, formatError(labelsPath, int64(len(lab)), "label %d of %d is truncated", len(lab)-8, d.n)
	}
	d.labels = lab[8 : 8+d.n]
	return d, nil
}

// openMaybeGz opens path for random access: a plain file as itself, a
// gzipped one inflated into memory.
func openMaybeGz(path string) (io.ReaderAt, int64, io.Closer, error) {
	if filepath.Ext(path) == ".gz" {
		b, err := readAll(path)
		if err != nil {
			return nil, 0, nil, err
		}
		return bytes.NewReader(b), int64(len(b)), nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("imagedata: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, nil, fmt.Errorf("imagedata: %w", err)
	}
	return f, st.Size(), f, nil
}

// readAll reads a whole file, inflating it if its name ends in .gz.
func readAll(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("imagedata: %w", err)
	}
	defer f.Close()
	if filepath.Ext(path) != ".gz" {
		b, err := io.ReadAll(f)
		if err != nil {
			return nil, fmt.Errorf("imagedata: %s: %w", path, err)
		}
		return b, nil
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, formatError(path, 0, "not gzip: %v", err)
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, zr)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, formatError(path, n, "gzip stream truncated (%d bytes inflated)", n)
		}
		return nil, formatError(path, n, "inflating: %v", err)
	}
	return buf.Bytes(), nil
}

func (d *IDX) Name() string         { return d.name }
func (d *IDX) Len() int             { return d.n }
func (d *IDX) Shape() (c, h, w int) { return 1, d.size, d.size }
func (d *IDX) Flip() bool           { return false }
func (d *IDX) Label(i int) int      { return int(d.labels[i]) }

// Close releases the image file.
func (d *IDX) Close() error {
	var err error
	for _, c := range d.closers {
		err = errors.Join(err, c.Close())
	}
	d.closers = nil
	return err
}

// Image writes image i, centred on a background of −1.
func (d *IDX) Image(i int, dst []float32) (int, error) {
	checkIndex(d.name, i, d.n, dst, d.size*d.size)
	rec := d.rows * d.cols
	buf := make([]byte, rec)
	off := 16 + int64(i)*int64(rec)
	if _, err := d.images.ReadAt(buf, off); err != nil {
		return 0, formatError(d.name, off, "image %d: %v", i, err)
	}
	for k := range dst {
		dst[k] = -1
	}
	top, left := (d.size-d.rows)/2, (d.size-d.cols)/2
	for r := 0; r < d.rows; r++ {
		row := dst[(top+r)*d.size+left:]
		for c, b := range buf[r*d.cols : (r+1)*d.cols] {
			row[c] = toUnit(b)
		}
	}
	return int(d.labels[i]), nil
}
