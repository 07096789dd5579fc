package quality

import (
	"fmt"
	"sync"

	"github.com/levy-ml/levy/imagedata"
	"github.com/levy-ml/levy/metrics"
	"github.com/levy-ml/levy/nn/unet"
	"github.com/levy-ml/levy/safetensors"
)

// K is the neighbourhood size of the k-NN precision and recall.
const K = 5

// Features runs net over n images and returns their features in float64.
func Features(net unet.FeatureNet, x []float32, n int) ([]float64, error) {
	f := make([]float32, n*net.Dim())
	if err := net.Features(f, x, n); err != nil {
		return nil, err
	}
	out := make([]float64, len(f))
	for i, v := range f {
		out[i] = float64(v)
	}
	return out, nil
}

// Compare returns the FD and the k-NN precision and recall (k = K)
// between the features of real and generated images, keyed "fd",
// "precision", "recall".
func Compare(real, gen []float64, dim int) (map[string]float64, error) {
	fd, err := metrics.Frechet(real, gen, dim)
	if err != nil {
		return nil, err
	}
	p, r, err := metrics.KNNPrecisionRecall(real, gen, dim, K)
	if err != nil {
		return nil, err
	}
	return map[string]float64{"fd": fd, "precision": p, "recall": r}, nil
}

// Images reads the first n images of ds.
func Images(ds imagedata.Dataset, n int) ([]float32, error) {
	if n > ds.Len() {
		return nil, fmt.Errorf("quality: %s holds %d images, %d asked for", ds.Name(), ds.Len(), n)
	}
	c, h, w := ds.Shape()
	d := c * h * w
	x := make([]float32, n*d)
	for i := 0; i < n; i++ {
		if _, err := ds.Image(i, x[i*d:(i+1)*d]); err != nil {
			return nil, err
		}
	}
	return x, nil
}

// Scorer scores sets of generated images against a fixed set of real
// ones, whose features it computes once.
type Scorer struct {
	mu   sync.Mutex
	net  unet.FeatureNet
	real []float64
}

// NewScorer computes the features of the real images x [n, C, H, W].
func NewScorer(net unet.FeatureNet, x []float32, n int) (*Scorer, error) {
	real, err := Features(net, x, n)
	if err != nil {
		return nil, err
	}
	return &Scorer{net: net, real: real}, nil
}

// Score compares n generated images with the real ones.
func (s *Scorer) Score(gen []float32, n int) (map[string]float64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := Features(s.net, gen, n)
	if err != nil {
		return nil, err
	}
	return Compare(s.real, g, s.net.Dim())
}

// LoadFeatureNet loads a feature network for images of c channels and
// side size: a levy classifier (SaveClassifier) or Inception-v3 weights
// with torchvision's names (then FD is the standard FID).
func LoadFeatureNet(path string, c, size int) (unet.FeatureNet, error) {
	_, md, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("quality: feature network %s: %w", path, err)
	}
	if md["format"] == ClassifierFormat {
		cl, _, err := LoadClassifier(path)
		if err != nil {
			return nil, err
		}
		cfg := cl.Config()
		if cfg.InChannels != c || cfg.ImageSize != size {
			return nil, fmt.Errorf("quality: feature network %s takes %d×%d×%d images, not %d×%d×%d",
				path, cfg.InChannels, cfg.ImageSize, cfg.ImageSize, c, size, size)
		}
		return unet.NewEval(cl), nil
	}
	return LoadInception(path)
}
