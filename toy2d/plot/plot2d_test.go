package plot2d

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestWritePNG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.png")
	pts := []float32{0, 0, 1, 1, 2, 0.5, -1, 2}
	if err := WritePNG(path, []Panel{{Title: "generated", Points: pts}, {Title: "real", Points: pts}}, Bounds{-3, 3, -3, 3}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 2*b.Dy() {
		t.Errorf("image %v: want two square panels side by side", b)
	}
	if err := WritePNG(path, nil, Bounds{}); err == nil {
		t.Error("no panels: nil error")
	}
}
