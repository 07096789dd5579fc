package imagedata

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"testing"
)

type imageImage = image.Image

func writeSmallPNG(t *testing.T, path string, w, h int) {
	t.Helper()
	writePNG(t, path, image.NewGray(image.Rect(0, 0, w, h)))
}

func writeCentredSquare(t *testing.T, path string, w, h, side int) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	x0, y0 := (w-side)/2, (h-side)/2
	for y := y0; y < y0+side; y++ {
		for x := x0; x < x0+side; x++ {
			img.SetGray(x, y, color.Gray{255})
		}
	}
	writePNG(t, path, img)
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
