package imagedata

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FashionMNISTDir is where the Debian package dataset-fashion-mnist puts
// the real files (.ci/run installs it).
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

func TestIDXPlainAndGzipAgree(t *testing.T) {
	plain, gz := t.TempDir(), t.TempDir()
	if err := WriteIDXFixture(plain, "train", 25, false, 3); err != nil {
		t.Fatal(err)
	}
	if err := WriteIDXFixture(gz, "train", 25, true, 3); err != nil {
		t.Fatal(err)
	}
	a, err := OpenFashionMNIST(plain, true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenFashionMNIST(gz, true)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.Len() != 25 || b.Len() != 25 {
		t.Fatalf("lengths %d, %d, want 25", a.Len(), b.Len())
	}
	if c, h, w := a.Shape(); c != 1 || h != 32 || w != 32 {
		t.Fatalf("shape %d×%d×%d", c, h, w)
	}
	raw, err := os.ReadFile(filepath.Join(plain, "train-images-idx3-ubyte"))
	if err != nil {
		t.Fatal(err)
	}
	x, y := make([]float32, 1024), make([]float32, 1024)
	for i := 0; i < 25; i++ {
		la, err := a.Image(i, x)
		if err != nil {
			t.Fatal(err)
		}
		lb, err := b.Image(i, y)
		if err != nil {
			t.Fatal(err)
		}
		if la != i%10 || lb != la {
			t.Fatalf("image %d: labels %d, %d, want %d", i, la, lb, i%10)
		}
		for k := range x {
			r, c := k/32, k%32
			want := float32(-1)
			if r >= 2 && r < 30 && c >= 2 && c < 30 {
				want = float32(raw[16+i*784+(r-2)*28+(c-2)])/127.5 - 1
			}
			if x[k] != want || y[k] != want {
				t.Fatalf("image %d pixel (%d,%d): %v, %v, want %v", i, r, c, x[k], y[k], want)
			}
		}
	}
}

func TestIDXErrorsNameFileAndOffset(t *testing.T) {
	dir := t.TempDir()
	if err := WriteIDXFixture(dir, "train", 10, false, 1); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "train-images-idx3-ubyte")
	raw, _ := os.ReadFile(img)
	// Cut the file inside image 7.
	if err := os.WriteFile(img, raw[:16+7*784+100], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := OpenFashionMNIST(dir, true)
	wantErr(t, err, ErrFormat, img, "offset 5504", "image 7 of 10 is truncated")

	raw[0] = 9
	os.WriteFile(img, raw, 0o644)
	_, err = OpenFashionMNIST(dir, true)
	wantErr(t, err, ErrFormat, img, "offset 0", "magic")

	_, err = OpenFashionMNIST(filepath.Join(dir, "nope"), true)
	wantErr(t, err, fs.ErrNotExist, "nope")
	_, err = OpenFashionMNIST(dir, false)
	wantErr(t, err, fs.ErrNotExist, "t10k-images-idx3-ubyte")

	// A truncated gzip stream.
	gz := t.TempDir()
	WriteIDXFixture(gz, "t10k", 10, true, 1)
	p := filepath.Join(gz, "t10k-images-idx3-ubyte.gz")
	zb, _ := os.ReadFile(p)
	os.WriteFile(p, zb[:len(zb)/2], 0o644)
	_, err = OpenFashionMNIST(gz, false)
	wantErr(t, err, ErrFormat, p, "truncated")
}

func wantErr(t *testing.T, err, target error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one naming %q", parts)
	}
	if target != nil && !errors.Is(err, target) {
		t.Errorf("error %q is not %v", err, target)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not name %q", err, p)
		}
	}
}

func TestRealFashionMNIST(t *testing.T) {
	if _, err := os.Stat(FashionMNISTDir); err != nil {
		if os.Getenv("LEVY_REQUIRE_SYSTEM_DEPS") != "" { // set by .ci/run, which installs the data too
			t.Fatalf("Fashion-MNIST is not installed: %v", err)
		}
		t.Skipf("apt-get install dataset-fashion-mnist to run: %v", err)
	}
	for _, tc := range []struct {
		train bool
		n     int
	}{{true, 60000}, {false, 10000}} {
		d, err := OpenFashionMNIST(FashionMNISTDir, tc.train)
		if err != nil {
			t.Fatal(err)
		}
		if d.Len() != tc.n {
			t.Fatalf("train=%v: %d images, want %d", tc.train, d.Len(), tc.n)
		}
		// The classes are balanced, and the mean pixel of Fashion-MNIST
		// is 72.94/255 (Xiao et al. 2017's normalisation constants are
		// 0.2860 for the training set).
		counts := make([]int, 10)
		x := make([]float32, 1024)
		var sum float64
		for i := 0; i < d.Len(); i += 10 {
			l, err := d.Image(i, x)
			if err != nil {
				t.Fatal(err)
			}
			counts[l]++
			for r := 2; r < 30; r++ {
				for c := 2; c < 30; c++ {
					sum += float64(x[r*32+c]+1) / 2
				}
			}
		}
		mean := sum / float64(d.Len()/10*784)
		if math.Abs(mean-0.286) > 0.01 {
			t.Errorf("train=%v: mean pixel %.4f, want 0.286 ± 0.01", tc.train, mean)
		}
		// Every tenth image: a class appears Binomial(n, 0.1) times;
		// allow 4 standard deviations.
		n := float64(d.Len() / 10)
		tol := 4 * math.Sqrt(n*0.1*0.9)
		for c, k := range counts {
			if want := d.Len() / 100; math.Abs(float64(k-want)) > tol {
				t.Errorf("train=%v: class %d has %d of every tenth image, want ≈ %d", tc.train, c, k, want)
			}
		}
		d.Close()
	}
}

func TestCIFAR10(t *testing.T) {
	dir := t.TempDir()
	if err := WriteCIFAR10Fixture(dir, 7, 5); err != nil {
		t.Fatal(err)
	}
	tr, err := OpenCIFAR10(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	te, err := OpenCIFAR10(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer te.Close()
	if tr.Len() != 35 || te.Len() != 7 || !tr.Flip() {
		t.Fatalf("train %d, test %d images, flip %v", tr.Len(), te.Len(), tr.Flip())
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "data_batch_2.bin"))
	x := make([]float32, 3072)
	l, err := tr.Image(9, x) // record 2 of data_batch_2.bin
	if err != nil {
		t.Fatal(err)
	}
	rec := raw[2*3073 : 3*3073]
	if l != int(rec[0]) {
		t.Fatalf("label %d, want %d", l, rec[0])
	}
	for k, v := range x {
		if want := float32(rec[1+k])/127.5 - 1; v != want {
			t.Fatalf("value %d: %v, want %v", k, v, want)
		}
	}

	// A truncated record.
	p := filepath.Join(dir, "data_batch_3.bin")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:5*3073+1000], 0o644)
	_, err = OpenCIFAR10(dir, true)
	wantErr(t, err, ErrFormat, p, "offset 15365", "record 5 is truncated")
	os.Remove(p)
	_, err = OpenCIFAR10(dir, true)
	wantErr(t, err, fs.ErrNotExist, p, "missing")
}

func TestCIFAR10LT(t *testing.T) {
	dir := t.TempDir()
	// 50 training images, labels cycling 0..9: five of each class.
	if err := WriteCIFAR10Fixture(dir, 10, 1); err != nil {
		t.Fatal(err)
	}
	counts := []int{5, 3, 2, 1, 1, 1, 1, 1, 1, 1}
	d, err := OpenCIFAR10LTCounts(dir, counts)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Len() != 17 {
		t.Fatalf("%d images, want 17", d.Len())
	}
	got := make([]int, 10)
	x := make([]float32, 3072)
	for i := 0; i < d.Len(); i++ {
		l, err := d.Image(i, x)
		if err != nil {
			t.Fatal(err)
		}
		got[l]++
	}
	for c := range counts {
		if got[c] != counts[c] {
			t.Fatalf("class counts %v, want %v", got, counts)
		}
	}
	// The first image of class 1 is record 1 of data_batch_1.bin.
	all, _ := OpenCIFAR10(dir, true)
	defer all.Close()
	y := make([]float32, 3072)
	all.Image(1, y)
	d.Image(1, x)
	for k := range x {
		if x[k] != y[k] {
			t.Fatal("CIFAR10-LT does not keep the first images of each class in file order")
		}
	}
	_, err = OpenCIFAR10LT(dir)
	wantErr(t, err, nil, "needs 5000 images of class 0")
	if wantN := 5000 + 2997 + 1796 + 1077 + 645 + 387 + 232 + 139 + 83 + 50; sum(CIFARLTCounts) != wantN {
		t.Fatalf("CIFAR10-LT holds %d images, want %d", sum(CIFARLTCounts), wantN)
	}
}

func sum(v []int) int {
	s := 0
	for _, x := range v {
		s += x
	}
	return s
}

func TestCelebA(t *testing.T) {
	dir := t.TempDir()
	if err := WriteCelebAFixture(dir, 4, 2); err != nil {
		t.Fatal(err)
	}
	d, err := OpenCelebA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 4 {
		t.Fatalf("%d images, want 4", d.Len())
	}
	x := make([]float32, 3*64*64)
	for i := 0; i < 4; i++ {
		if _, err := d.Image(i, x); err != nil {
			t.Fatal(err)
		}
		lo, hi := x[0], x[0]
		for _, v := range x {
			lo, hi = min(lo, v), max(hi, v)
		}
		if lo < -1 || hi > 1 || hi-lo < 0.5 {
			t.Fatalf("image %d spans [%v, %v]", i, lo, hi)
		}
	}
	// An image smaller than the crop.
	small := filepath.Join(dir, "000009.png")
	WriteCelebAFixture(t.TempDir(), 0, 0)
	writeSmallPNG(t, small, 100, 120)
	d, _ = OpenCelebA(dir)
	_, err = d.Image(4, x)
	wantErr(t, err, ErrFormat, small, "100×120 is smaller than the 140×140 crop")

	os.WriteFile(filepath.Join(dir, "000010.jpg"), []byte("not a jpeg"), 0o644)
	d, _ = OpenCelebA(dir)
	_, err = d.Image(5, x)
	wantErr(t, err, ErrFormat, "000010.jpg", "decoding")

	_, err = OpenCelebA(t.TempDir())
	wantErr(t, err, nil, "no .jpg or .png")
}

func TestCelebACropsTheCentre(t *testing.T) {
	// A 178×218 image that is white inside the centred 140×140 square and
	// black outside must come out all white.
	dir := t.TempDir()
	p := filepath.Join(dir, "a.png")
	writeCentredSquare(t, p, 178, 218, 140)
	d, err := OpenCelebA(dir)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 3*64*64)
	d.Image(0, x)
	for k, v := range x {
		if v < 0.99 {
			t.Fatalf("value %d is %v: the crop reaches outside the centre", k, v)
		}
	}
}

func TestHFlipAndGrid(t *testing.T) {
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	HFlip(x, 2, 2, 3)
	want := []float32{3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10}
	for i := range x {
		if x[i] != want[i] {
			t.Fatalf("HFlip: %v, want %v", x, want)
		}
	}
	imgs := make([]float32, 5*3*4*4)
	for i := range imgs {
		imgs[i] = -1
	}
	imgs[4*48+1*16+5] = 1 // image 4, green plane, pixel (1,1)
	g := Grid(imgs, 5, 3, 4, 4, 3, 2)
	if b := g.Bounds(); b.Dx() != 3*6+2 || b.Dy() != 2*6+2 {
		t.Fatalf("grid of %v", b)
	}
	// Image 4 sits in row 1, column 1: its (1,1) is at (2+6+1, 2+6+1).
	r, gg, bb, _ := g.At(9, 9).RGBA()
	if r != 0 || gg != 0xffff || bb != 0 {
		t.Fatalf("pixel (9,9) = %x %x %x, want pure green", r, gg, bb)
	}
	p := filepath.Join(t.TempDir(), "g.png")
	if err := SavePNG(p, Strip([]imageImage{g, g}, []string{"step 1", "step 2"})); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(p); err != nil || st.Size() < 100 {
		t.Fatalf("strip PNG: %v", err)
	}
}
