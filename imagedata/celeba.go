package imagedata

import (
	"fmt"
	"image"
	_ "image/jpeg" // CelebA is shipped as JPEG
	_ "image/png"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/image/draw"
)

// CelebA's preprocessing (improved-DDPM, DLPM): a centred 140×140 crop of
// the aligned 178×218 images, resized to 64×64.
const (
	CelebACrop = 140
	CelebASize = 64
)

// CelebA is a folder of aligned face images (JPEG or PNG), read one file
// at a time.
type CelebA struct {
	dir   string
	files []string
}

// OpenCelebA lists the JPEG and PNG files of dir (or of
// dir/img_align_celeba, as the official archive extracts), in name order.
func OpenCelebA(dir string) (*CelebA, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("imagedata: dataset directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("imagedata: dataset directory %s is not a directory", dir)
	}
	if sub := filepath.Join(dir, "img_align_celeba"); isDir(sub) {
		dir = sub
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("imagedata: %w", err)
	}
	d := &CelebA{dir: dir}
	for _, e := range ents {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".jpg", ".jpeg", ".png":
			if e.Type().IsRegular() {
				d.files = append(d.files, e.Name())
			}
		}
	}
	if len(d.files) == 0 {
		return nil, fmt.Errorf("imagedata: %s holds no .jpg or .png images", dir)
	}
	sort.Strings(d.files)
	return d, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func (d *CelebA) Name() string         { return d.dir }
func (d *CelebA) Len() int             { return len(d.files) }
func (d *CelebA) Shape() (c, h, w int) { return 3, CelebASize, CelebASize }
func (d *CelebA) Flip() bool           { return true }
func (d *CelebA) Close() error         { return nil }

// Image decodes file i, crops its centre and resizes it (Catmull-Rom).
func (d *CelebA) Image(i int, dst []float32) (int, error) {
	checkIndex(d.dir, i, len(d.files), dst, 3*CelebASize*CelebASize)
	p := filepath.Join(d.dir, d.files[i])
	f, err := os.Open(p)
	if err != nil {
		return 0, fmt.Errorf("imagedata: %w", err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return 0, formatError(p, 0, "decoding the image: %v", err)
	}
	b := img.Bounds()
	if b.Dx() < CelebACrop || b.Dy() < CelebACrop {
		return 0, formatError(p, 0, "image of %d×%d is smaller than the %d×%d crop", b.Dx(), b.Dy(), CelebACrop, CelebACrop)
	}
	x0 := b.Min.X + (b.Dx()-CelebACrop)/2
	y0 := b.Min.Y + (b.Dy()-CelebACrop)/2
	crop := image.Rect(x0, y0, x0+CelebACrop, y0+CelebACrop)
	out := image.NewRGBA(image.Rect(0, 0, CelebASize, CelebASize))
	draw.CatmullRom.Scale(out, out.Bounds(), img, crop, draw.Src, nil)
	plane := CelebASize * CelebASize
	for y := 0; y < CelebASize; y++ {
		for x := 0; x < CelebASize; x++ {
			o := out.PixOffset(x, y)
			k := y*CelebASize + x
			dst[k] = toUnit(out.Pix[o])
			dst[plane+k] = toUnit(out.Pix[o+1])
			dst[2*plane+k] = toUnit(out.Pix[o+2])
		}
	}
	return -1, nil
}
