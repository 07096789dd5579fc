package localcluster

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/levy-ml/levy/engine"
	"github.com/levy-ml/levy/imagedata"
	"github.com/levy-ml/levy/job"
	"github.com/levy-ml/levy/worker"
)

// tinyImageJob is an image job cut to a few steps of a small U-Net, so
// that the whole path (files → shards → U-Net → all-reduce → checkpoint
// → sampler → grid) runs in seconds.
func tinyImageJob(dataset, dir string, steps int) job.Spec {
	s := job.DefaultImage(dataset)
	s.Name, s.DataDir, s.Steps, s.CkptEvery, s.GlobalBatch = "tiny-"+dataset, dir, steps, steps, 8
	s.UNet = &job.UNet{ModelChannels: 8, ChannelMult: []int{1, 2}, NumResBlocks: 1, AttentionDS: []int{2}, NumHeads: 2, NormGroups: 4}
	s.Sample.N, s.Sample.Steps = 8, 4
	return s
}

// TestImageJobsOnFixtures trains a CIFAR-10, a CelebA and a Fashion-MNIST
// (IDX, gzipped) job on small files in the real formats through two
// workers and a sampling worker: what a user with the real files runs by
// changing data_dir.
func TestImageJobsOnFixtures(t *testing.T) {
	for _, tc := range []struct {
		dataset string
		write   func(dir string) error
		size    int
		method  string
	}{
		{job.CIFAR10, func(d string) error { return imagedata.WriteCIFAR10Fixture(d, 8, 1) }, 32, job.DLPM},
		{job.CelebA, func(d string) error { return imagedata.WriteCelebAFixture(d, 16, 1) }, 64, job.DLPM},
		{job.FashionMNIST, func(d string) error { return imagedata.WriteIDXFixture(d, "train", 24, true, 1) }, 32, job.DLPM},
		{job.FashionMNIST, func(d string) error { return imagedata.WriteIDXFixture(d, "train", 24, false, 1) }, 32, job.LIM},
		{job.FashionMNIST, func(d string) error { return imagedata.WriteIDXFixture(d, "train", 24, false, 1) }, 32, job.DDPM},
	} {
		t.Run(tc.dataset+"-"+tc.method, func(t *testing.T) {
			data := t.TempDir()
			if err := tc.write(data); err != nil {
				t.Fatal(err)
			}
			spec := tinyImageJob(tc.dataset, data, 3)
			if tc.method != "" && tc.method != spec.Method {
				spec.Method, spec.Sample.Sampler = tc.method, job.DefaultSampler(tc.method)
				if tc.method == job.DDPM {
					spec.Alpha = 2
				}
			}
			res := runLocal(t, spec, 2, t.TempDir(), "", 0, true)
			c, files := finalFiles(t, res.RunDir)
			if c.Manifest.Step != 3 {
				t.Fatalf("final step %d, want 3", c.Manifest.Step)
			}
			if len(files[worker.EMAFile]) == 0 {
				t.Fatal("the checkpoint holds no EMA weights")
			}
			for _, dir := range []string{worker.SampleDir(res.RunDir, c.Manifest.Step), res.RunDir} {
				f, err := os.Open(filepath.Join(dir, worker.PlotFile))
				if err != nil {
					t.Fatal(err)
				}
				img, err := png.Decode(f)
				f.Close()
				if err != nil {
					t.Fatal(err)
				}
				// 8 samples in one row of 8, 2-pixel padding.
				if b := img.Bounds(); b.Dx() != 8*(tc.size+2)+2 || b.Dy() != tc.size+4 {
					t.Fatalf("%s: grid of %v for 8 images of %d²", dir, b, tc.size)
				}
			}
			if _, err := os.Stat(filepath.Join(res.RunDir, worker.ProgressFile)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestImageJobErrors: a missing dataset directory and a truncated file
// fail the job with an error naming them.
func TestImageJobErrors(t *testing.T) {
	data := t.TempDir()
	if err := imagedata.WriteCIFAR10Fixture(data, 8, 1); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(data, "data_batch_4.bin")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:len(b)-10], 0o644)
	_, err := engine.OpenImages(tinyImageJob(job.CIFAR10, data, 3), true)
	if err == nil || !contains(err.Error(), p, "offset 21511", "record 7") {
		t.Fatalf("truncated CIFAR-10 file: %v", err)
	}
	_, err = engine.OpenImages(tinyImageJob(job.CelebA, filepath.Join(data, "none"), 3), true)
	if err == nil || !contains(err.Error(), filepath.Join(data, "none")) {
		t.Fatalf("missing CelebA directory: %v", err)
	}
}

func contains(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
