package plot2d

import (
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/levy-ml/levy/internal/atomicfile"
)

// Panel is one scatter plot.
type Panel struct {
	Title  string
	Points []float32 // row-major (x, y) pairs
	Color  color.Color
}

// Bounds fixes the axes of every panel; zero values mean automatic.
type Bounds struct{ XMin, XMax, YMin, YMax float64 }

// WritePNG draws the panels side by side into a PNG file at path.
func WritePNG(path string, panels []Panel, b Bounds) error {
	if len(panels) == 0 {
		return fmt.Errorf("plot2d: no panels")
	}
	plots := make([][]*plot.Plot, 1)
	for _, p := range panels {
		pl := plot.New()
		pl.Title.Text = p.Title
		pl.X.Label.Text = "x₁"
		pl.Y.Label.Text = "x₂"
		xy := make(plotter.XYs, 0, len(p.Points)/2)
		for i := 0; i+1 < len(p.Points); i += 2 {
			xy = append(xy, plotter.XY{X: float64(p.Points[i]), Y: float64(p.Points[i+1])})
		}
		s, err := plotter.NewScatter(xy)
		if err != nil {
			return fmt.Errorf("plot2d: %s: %w", p.Title, err)
		}
		s.GlyphStyle.Radius = vg.Points(0.7)
		s.GlyphStyle.Shape = draw.CircleGlyph{}
		s.GlyphStyle.Color = p.Color
		if s.GlyphStyle.Color == nil {
			s.GlyphStyle.Color = color.NRGBA{R: 30, G: 80, B: 200, A: 90}
		}
		pl.Add(s, plotter.NewGrid())
		if b.XMax > b.XMin {
			pl.X.Min, pl.X.Max = b.XMin, b.XMax
		}
		if b.YMax > b.YMin {
			pl.Y.Min, pl.Y.Max = b.YMin, b.YMax
		}
		plots[0] = append(plots[0], pl)
	}
	const side = 4 * vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(side*vg.Length(len(panels)), side), vgimg.UseDPI(120))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(panels), PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 2,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align(plots, tiles, dc)
	for j := range plots[0] {
		plots[0][j].Draw(canvases[0][j])
	}
	if err := atomicfile.Write(path, 0o644, func(w io.Writer) error {
		_, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(w)
		return err
	}); err != nil {
		return fmt.Errorf("plot2d: %w", err)
	}
	return nil
}
