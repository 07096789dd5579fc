// Package plot2d draws 2-D point clouds as PNG scatter plots, one panel
// per cloud side by side, with gonum.org/v1/plot.
package plot2d
