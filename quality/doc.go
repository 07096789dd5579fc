// Package quality scores generated images without downloads: levy's own
// Fashion-MNIST classifier (unet.Classifier, trained by TrainClassifier
// and shipped as a safetensors file) maps images to its penultimate
// features, and the Fréchet distance (FD) and k-NN precision/recall
// (k = 5) are computed between the features of generated and real
// images.
//
// FD on these features is levy's metric, not FID: its values are not
// comparable to Inception-v3 FIDs in papers. Any network of the
// unet.FeatureNet interface can take the classifier's place; given
// Inception-v3's pool features the same code computes the standard FID.
package quality
