// Package imagedata reads the image datasets levy trains on in their real
// on-disk formats: Fashion-MNIST and MNIST IDX files (plain or gzipped),
// the CIFAR-10 binary version, its long-tailed subset CIFAR10-LT, and
// CelebA's aligned JPEG/PNG folder.
//
// Every dataset yields images as float32 [C, H, W] in [−1, 1]. Plain files
// are read record by record with ReadAt, so nothing is decoded up front;
// a gzipped IDX file cannot be read at random, so it is inflated once into
// memory as bytes (47 MB for Fashion-MNIST's training set). A missing
// directory, a truncated record or an image of the wrong size is an error
// that names the file and, where there is one, the byte offset.
//
// The package also writes small files in each format (fixture.go) for the
// tests of levy and its users, and draws image grids as PNG (grid.go).
package imagedata
