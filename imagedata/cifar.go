package imagedata

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// CIFAR-10's binary version: each record is one label byte and 32×32×3
// pixel bytes, the red plane, then green, then blue, each row-major.
const (
	CIFARSize   = 32
	cifarPixels = 3 * CIFARSize * CIFARSize
	cifarRecord = 1 + cifarPixels
)

// CIFARTrainFiles and CIFARTestFile are the file names of the binary
// version, as the official archive extracts them.
var (
	CIFARTrainFiles = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}
	CIFARTestFile   = "test_batch.bin"
)

// CIFARLTCounts are the per-class sizes of CIFAR10-LT (imbalance 100:
// 5000·0.01^(c/9), rounded down).
var CIFARLTCounts = []int{5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50}

// CIFAR is a set of CIFAR-10 records, possibly a subset of its files.
type CIFAR struct {
	name  string
	files []*os.File
	// index lists the images as (file, record) pairs.
	index []cifarRef
}

type cifarRef struct {
	file   int32
	record int32
}

// cifarDir is dir, or dir/cifar-10-batches-bin when the archive was
// extracted into dir.
func cifarDir(dir string) (string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("imagedata: dataset directory: %w", err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("imagedata: dataset directory %s is not a directory", dir)
	}
	sub := filepath.Join(dir, "cifar-10-batches-bin")
	if _, err := os.Stat(filepath.Join(sub, CIFARTestFile)); err == nil {
		return sub, nil
	}
	return dir, nil
}

// OpenCIFAR10 opens the training split (data_batch_1.bin … _5.bin) or the
// test split (test_batch.bin) of CIFAR-10's binary version in dir.
func OpenCIFAR10(dir string, train bool) (*CIFAR, error) {
	dir, err := cifarDir(dir)
	if err != nil {
		return nil, err
	}
	names := []string{CIFARTestFile}
	if train {
		names = CIFARTrainFiles
	}
	d := &CIFAR{name: dir}
	for fi, name := range names {
		p := filepath.Join(dir, name)
		f, err := os.Open(p)
		if err != nil {
			d.Close()
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("imagedata: CIFAR-10 file %s is missing: %w", p, err)
			}
			return nil, fmt.Errorf("imagedata: %w", err)
		}
		d.files = append(d.files, f)
		st, err := f.Stat()
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("imagedata: %w", err)
		}
		size := st.Size()
		if size == 0 || size%cifarRecord != 0 {
			d.Close()
			k := size / cifarRecord
			return nil, formatError(p, k*cifarRecord, "record %d is truncated (file of %d bytes is not a whole number of %d-byte records)", k, size, cifarRecord)
		}
		for r := int64(0); r < size/cifarRecord; r++ {
			d.index = append(d.index, cifarRef{int32(fi), int32(r)})
		}
	}
	return d, nil
}

// OpenCIFAR10LT opens CIFAR10-LT: the first CIFARLTCounts[c] training
// images of each class c, in file order.
func OpenCIFAR10LT(dir string) (*CIFAR, error) { return OpenCIFAR10LTCounts(dir, CIFARLTCounts) }

// OpenCIFAR10LTCounts is OpenCIFAR10LT with other class sizes.
func OpenCIFAR10LTCounts(dir string, counts []int) (*CIFAR, error) {
	d, err := OpenCIFAR10(dir, true)
	if err != nil {
		return nil, err
	}
	have := make([]int, len(counts))
	var keep []cifarRef
	var lab [1]byte
	for _, ref := range d.index {
		off := int64(ref.record) * cifarRecord
		if _, err := d.files[ref.file].ReadAt(lab[:], off); err != nil {
			d.Close()
			return nil, formatError(d.files[ref.file].Name(), off, "label: %v", err)
		}
		c := int(lab[0])
		if c >= len(counts) {
			d.Close()
			return nil, formatError(d.files[ref.file].Name(), off, "label %d, want < %d", c, len(counts))
		}
		if have[c] < counts[c] {
			have[c]++
			keep = append(keep, ref)
		}
	}
	for c := range counts {
		if have[c] < counts[c] {
			d.Close()
			return nil, fmt.Errorf("imagedata: %s: CIFAR10-LT needs %d images of class %d, the training files hold %d", d.name, counts[c], c, have[c])
		}
	}
	sort.Slice(keep, func(i, j int) bool {
		if keep[i].file != keep[j].file {
			return keep[i].file < keep[j].file
		}
		return keep[i].record < keep[j].record
	})
	d.index = keep
	d.name += " (long-tailed)"
	return d, nil
}

func (d *CIFAR) Name() string         { return d.name }
func (d *CIFAR) Len() int             { return len(d.index) }
func (d *CIFAR) Shape() (c, h, w int) { return 3, CIFARSize, CIFARSize }
func (d *CIFAR) Flip() bool           { return true }

// Close releases the files.
func (d *CIFAR) Close() error {
	var err error
	for _, f := range d.files {
		err = errors.Join(err, f.Close())
	}
	d.files = nil
	return err
}

// Image writes image i as [3, 32, 32].
func (d *CIFAR) Image(i int, dst []float32) (int, error) {
	checkIndex(d.name, i, len(d.index), dst, cifarPixels)
	ref := d.index[i]
	f := d.files[ref.file]
	var buf [cifarRecord]byte
	off := int64(ref.record) * cifarRecord
	if _, err := f.ReadAt(buf[:], off); err != nil {
		return 0, formatError(f.Name(), off, "record %d: %v", ref.record, err)
	}
	for k, b := range buf[1:] {
		dst[k] = toUnit(b)
	}
	return int(buf[0]), nil
}
