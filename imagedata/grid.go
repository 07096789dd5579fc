package imagedata

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/levy-ml/levy/internal/atomicfile"
)

// gridBackground fills the padding between images.
var gridBackground = color.RGBA{40, 40, 40, 255}

// Grid draws n images [C, H, W] in [−1, 1] (C is 1 or 3; values outside
// are clipped) as a grid of cols columns with pad pixels between them.
func Grid(imgs []float32, n, c, h, w, cols, pad int) *image.RGBA {
	if len(imgs) != n*c*h*w || (c != 1 && c != 3) || n < 1 || cols < 1 {
		panic(fmt.Sprintf("imagedata: Grid of %d values as %d images of %d×%d×%d", len(imgs), n, c, h, w))
	}
	cols = min(cols, n)
	rows := (n + cols - 1) / cols
	out := image.NewRGBA(image.Rect(0, 0, cols*(w+pad)+pad, rows*(h+pad)+pad))
	draw.Draw(out, out.Bounds(), &image.Uniform{gridBackground}, image.Point{}, draw.Src)
	plane := h * w
	for k := 0; k < n; k++ {
		img := imgs[k*c*plane : (k+1)*c*plane]
		x0 := pad + (k%cols)*(w+pad)
		y0 := pad + (k/cols)*(h+pad)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				p := y*w + x
				r := toByte(img[p])
				g, b := r, r
				if c == 3 {
					g, b = toByte(img[plane+p]), toByte(img[2*plane+p])
				}
				o := out.PixOffset(x0+x, y0+y)
				out.Pix[o], out.Pix[o+1], out.Pix[o+2], out.Pix[o+3] = r, g, b, 255
			}
		}
	}
	return out
}

// toByte maps [−1, 1] to [0, 255], clipping.
func toByte(v float32) uint8 {
	u := (v + 1) * 127.5
	switch {
	case !(u > 0): // also NaN
		return 0
	case u >= 255:
		return 255
	}
	return uint8(u + 0.5)
}

// Strip puts images side by side, each under its label.
func Strip(imgs []image.Image, labels []string) *image.RGBA {
	const pad, textH = 4, 16
	wd, ht := pad, 0
	for _, im := range imgs {
		wd += im.Bounds().Dx() + pad
		ht = max(ht, im.Bounds().Dy())
	}
	out := image.NewRGBA(image.Rect(0, 0, wd, ht+textH+2*pad))
	draw.Draw(out, out.Bounds(), &image.Uniform{color.White}, image.Point{}, draw.Src)
	x := pad
	for i, im := range imgs {
		if i < len(labels) {
			d := font.Drawer{Dst: out, Src: image.Black, Face: basicfont.Face7x13,
				Dot: fixed.P(x, pad+12)}
			d.DrawString(labels[i])
		}
		b := im.Bounds()
		draw.Draw(out, image.Rect(x, pad+textH, x+b.Dx(), pad+textH+b.Dy()), im, b.Min, draw.Src)
		x += b.Dx() + pad
	}
	return out
}

// SavePNG writes img to path as a PNG (permissions 0644) through
// atomicfile, so a reader never sees half a picture.
func SavePNG(path string, img image.Image) error {
	if err := atomicfile.Write(path, 0o644, func(w io.Writer) error { return png.Encode(w, img) }); err != nil {
		return fmt.Errorf("imagedata: %w", err)
	}
	return nil
}
