// Package chart draws a run's loss.png: the training and evaluation loss above the
// learning rate, on a shared step axis, with gonum/plot.
package chart

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The chart's size: 8×6 in at 100 dpi is 800×600 pixels. The loss panel takes
// lossShare of the height, the learning-rate panel below it the rest.
const (
	plotWidth  = 8 * vg.Inch
	plotHeight = 6 * vg.Inch
	plotDPI    = 100
	plotMargin = 8 // points of white around the chart
	lossShare  = 0.65
)

var (
	colTrain = color.RGBA{31, 119, 180, 255} // matplotlib's first three colours
	colEval  = color.RGBA{255, 127, 14, 255}
	colLR    = color.RGBA{44, 160, 44, 255}
	colGrid  = color.Gray{Y: 210}
)

// newPanel returns an empty plot in a sans-serif font with a light grid and nicely
// spaced ticks, its y axis labelled ylabel.
func newPanel(ylabel string) *plot.Plot {
	p := plot.New()
	for _, s := range []*text.Style{&p.Title.TextStyle, &p.Legend.TextStyle,
		&p.X.Label.TextStyle, &p.X.Tick.Label, &p.Y.Label.TextStyle, &p.Y.Tick.Label} {
		s.Font.Variant = "Sans"
	}
	p.Title.TextStyle.Font.Size = vg.Points(14)
	p.Title.Padding = vg.Points(8)
	p.Y.Label.Text = ylabel
	p.X.Tick.Marker = niceTicks{n: 6, minStep: 1}
	p.Y.Tick.Marker = niceTicks{n: 5}
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = colGrid, colGrid
	p.Add(g)
	return p
}

// yRange widens an axis that was fitted to its data by 5% on either side, so that no
// line runs along the frame; fromZero also brings 0 into the range (for the learning
// rate, which warms up from 0). A constant series gets a range around its value.
func yRange(a *plot.Axis, fromZero bool) {
	if a.Min > a.Max { // no data
		return
	}
	if fromZero {
		a.Min, a.Max = math.Min(a.Min, 0), math.Max(a.Max, 0)
	}
	pad := (a.Max - a.Min) * 0.05
	if pad == 0 {
		pad = math.Max(math.Abs(a.Min)*0.1, 1e-3)
	}
	if !finite(pad) {
		return
	}
	a.Min, a.Max = a.Min-pad, a.Max+pad
}

// Point is one value of a series at a training step.
type Point struct {
	Step  int
	Value float64
}

// Loss renders the PNG that a run writes as loss.png: two panels sharing the step
// axis, the training loss (line) and the evaluation loss (line with points) above,
// with a title and a legend, and the learning rate below. Non-finite values are
// skipped; a series with a single point is drawn as a point.
func Loss(trainLoss, evalLoss, lr []Point) (img []byte, err error) {
	defer func() { // a panic in the drawing library is an error, not a crash after training
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("draw loss plot: %v", r)
		}
	}()
	train, eval, rate := xys(trainLoss), xys(evalLoss), xys(lr)

	top := newPanel("loss")
	top.Title.Text = "Training and evaluation loss"
	top.X.Tick.Marker = unlabelled{niceTicks{n: 6, minStep: 1}} // the panel below labels the steps
	top.Legend.Top = true
	top.Legend.XOffs, top.Legend.YOffs = -vg.Points(4), -vg.Points(2)
	if err := addSeries(top, "train", train, colTrain, false, true); err != nil {
		return nil, err
	}
	if err := addSeries(top, "eval", eval, colEval, true, true); err != nil {
		return nil, err
	}
	yRange(&top.Y, false)

	bottom := newPanel("learning rate")
	bottom.X.Label.Text = "step"
	bottom.Y.Tick.Marker = niceTicks{n: 3}
	if err := addSeries(bottom, "learning rate", rate, colLR, false, false); err != nil {
		return nil, err
	}
	yRange(&bottom.Y, true)

	// Share the step axis: both panels span every step either shows, from step 0, and
	// 3% more on either side, so that the end points and the end tick labels fit
	// without gonum shifting one panel's data area (and its y axis) against the other's.
	xmax := math.Max(top.X.Max, bottom.X.Max)
	xmin := math.Min(0, math.Min(top.X.Min, bottom.X.Min))
	if !(xmax > xmin) { // nothing to draw, or only step 0
		xmax = xmin + 1
	}
	pad := (xmax - xmin) * 0.03
	top.X.Min, top.X.Max = xmin-pad, xmax+pad
	bottom.X.Min, bottom.X.Max = xmin-pad, xmax+pad

	c := vgimg.NewWith(vgimg.UseWH(plotWidth, plotHeight), vgimg.UseDPI(plotDPI))
	dc := draw.Crop(draw.New(c), plotMargin, -plotMargin, plotMargin, -plotMargin)
	split := dc.Min.Y + vg.Length(1-lossShare)*(dc.Max.Y-dc.Min.Y)
	topC, bottomC := dc, dc
	topC.Min.Y, bottomC.Max.Y = split, split
	alignX(top, &topC, bottom, &bottomC)
	top.Draw(topC)
	bottom.Draw(bottomC)

	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("encode loss plot: %w", err)
	}
	return buf.Bytes(), nil
}

// xys returns the finite points of a series.
func xys(pts []Point) plotter.XYs {
	var xy plotter.XYs
	for _, p := range pts {
		if finite(p.Value) {
			xy = append(xy, plotter.XY{X: float64(p.Step), Y: p.Value})
		}
	}
	return xy
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// addSeries adds the series name to p as a line (with points if points, or if it is a
// single point), and to the legend if legend. An empty series adds nothing.
func addSeries(p *plot.Plot, name string, pts plotter.XYs, col color.Color, points, legend bool) error {
	if len(pts) == 0 {
		return nil
	}
	l, s, err := plotter.NewLinePoints(pts)
	if err != nil {
		return fmt.Errorf("draw %s series: %w", name, err)
	}
	l.Color, l.Width = col, vg.Points(1.5)
	s.Color, s.Shape, s.Radius = col, draw.CircleGlyph{}, vg.Points(3)
	if points || len(pts) == 1 {
		p.Add(l, s)
		if legend {
			p.Legend.Add(name, l, s)
		}
		return nil
	}
	p.Add(l)
	if legend {
		p.Legend.Add(name, l)
	}
	return nil
}

// alignX narrows the canvases of two stacked plots so that their data areas have the
// same left and right edges whatever the widths of their tick labels.
func alignX(a *plot.Plot, ac *draw.Canvas, b *plot.Plot, bc *draw.Canvas) {
	da, db := a.DataCanvas(*ac), b.DataCanvas(*bc)
	left := max(da.Min.X-ac.Min.X, db.Min.X-bc.Min.X)
	right := max(ac.Max.X-da.Max.X, bc.Max.X-db.Max.X)
	ac.Min.X += left - (da.Min.X - ac.Min.X)
	ac.Max.X -= right - (ac.Max.X - da.Max.X)
	bc.Min.X += left - (db.Min.X - bc.Min.X)
	bc.Max.X -= right - (bc.Max.X - db.Max.X)
}

// unlabelled keeps a ticker's tick marks and drops their labels.
type unlabelled struct{ plot.Ticker }

// Ticks implements plot.Ticker.
func (u unlabelled) Ticks(lo, hi float64) []plot.Tick {
	ticks := u.Ticker.Ticks(lo, hi)
	for i := range ticks {
		ticks[i].Label = ""
	}
	return ticks
}

// niceTicks is a plot.Ticker with about n labelled ticks at multiples of 1, 2, 2.5 or
// 5 times a power of ten (at least minStep apart), all labelled in one format: fixed
// point, or scientific when the values are very small or large.
type niceTicks struct {
	n       int
	minStep float64
}

// Ticks implements plot.Ticker.
func (nt niceTicks) Ticks(lo, hi float64) []plot.Tick {
	span := hi - lo
	if !(span > 0) || !finite(span) {
		return nil
	}
	exp := math.Floor(math.Log10(span / float64(nt.n)))
	mant := span / float64(nt.n) / math.Pow(10, exp)
	var m float64
	switch {
	case mant < 1.5:
		m = 1
	case mant < 2.25:
		m = 2
	case mant < 3.5:
		m = 2.5
	case mant < 7.5:
		m = 5
	default:
		m, exp = 1, exp+1
	}
	step := m * math.Pow(10, exp)
	if step < nt.minStep {
		step, m, exp = nt.minStep, nt.minStep, 0
	}
	if !(step > 0) || !finite(step) {
		return nil
	}
	first, last := math.Ceil(lo/step), math.Floor(hi/step)
	if last-first > 100 { // cannot happen for a finite span; a guard against rounding
		return nil
	}
	maxAbs := math.Max(math.Abs(first*step), math.Abs(last*step))
	sci := maxAbs >= 1e5 || maxAbs < 1e-2
	digits := -int(exp) // decimals that the step needs
	if sci {
		digits = int(math.Floor(math.Log10(maxAbs))) - int(exp)
	}
	if m == 2.5 {
		digits++
	}
	digits = max(digits, 0)
	var ticks []plot.Tick
	for i := first; i <= last; i++ {
		v := i * step
		var label string
		switch {
		case i == 0:
			v, label = 0, "0"
		case sci:
			label = strconv.FormatFloat(v, 'e', digits, 64)
		default:
			label = strconv.FormatFloat(v, 'f', digits, 64)
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: label})
	}
	return ticks
}
