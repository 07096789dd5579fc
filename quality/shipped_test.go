package quality

import (
	"os"
	"testing"

	"github.com/levy-ml/levy/imagedata"
)

// ShippedClassifier is the feature network levy ships, written by
// `levyctl classifier` (README, "Images").
const ShippedClassifier = "../weights/fashion-mnist-classifier.safetensors"

// TestShippedClassifier: the shipped classifier classifies Fashion-MNIST's
// 10 000 test images with at least 90% accuracy (the figure it recorded
// when it was trained is in its metadata, and must match).
func TestShippedClassifier(t *testing.T) {
	const dir = "/usr/share/datasets/fashion-mnist"
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("LEVY_REQUIRE_SYSTEM_DEPS") != "" { // .ci/run installs the data
			t.Fatalf("Fashion-MNIST is not installed: %v", err)
		}
		t.Skipf("apt-get install dataset-fashion-mnist to run: %v", err)
	}
	c, md, err := LoadClassifier(ShippedClassifier)
	if err != nil {
		t.Fatal(err)
	}
	test, err := imagedata.OpenFashionMNIST(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer test.Close()
	acc, err := Accuracy(c, test)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("test accuracy %.4f (metadata: %v)", acc, md)
	if acc < 0.90 {
		t.Fatalf("test accuracy %.4f, want ≥ 0.90", acc)
	}
	if got := md["test_accuracy"]; got != formatAcc(acc) {
		t.Errorf("metadata says test accuracy %s, measured %s", got, formatAcc(acc))
	}
}
