package chart

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// ParamPoint is one run of a sweep: its trainable parameters, its evaluation loss and the
// label written next to it (the variant's name).
type ParamPoint struct {
	Params float64
	Loss   float64
	Label  string
}

// ParamSeries is the runs of one recipe.
type ParamSeries struct {
	Name   string
	Points []ParamPoint
}

// seriesColours are matplotlib's first colours, the loss chart's first.
var seriesColours = []color.Color{colTrain, colEval, colLR, color.RGBA{214, 39, 40, 255},
	color.RGBA{148, 103, 189, 255}, color.RGBA{140, 86, 75, 255}}

// LossParams renders a sweep's PNG: evaluation loss (y) against trainable parameters (x,
// log scale), one series per recipe drawn in its colour as points joined in order of
// parameters, each point labelled, with a title and a legend. Points whose parameters
// are not positive or whose values are not finite are skipped.
func LossParams(title string, series []ParamSeries) (img []byte, err error) {
	defer func() { // a panic in the drawing library is an error, not a crash after a sweep
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("draw loss/parameters plot: %v", r)
		}
	}()
	p := newPanel("evaluation loss")
	p.Title.Text = title
	p.X.Label.Text = "trainable parameters (log scale)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = logTicks{}
	p.Legend.Top = true
	p.Legend.XOffs, p.Legend.YOffs = -vg.Points(4), -vg.Points(2)
	xmin, xmax := math.Inf(1), math.Inf(-1)
	for i, s := range series {
		var pts []ParamPoint
		for _, pt := range s.Points {
			if pt.Params > 0 && finite(pt.Params) && finite(pt.Loss) {
				pts = append(pts, pt)
			}
		}
		if len(pts) == 0 {
			continue
		}
		slices.SortStableFunc(pts, func(a, b ParamPoint) int {
			switch {
			case a.Params < b.Params:
				return -1
			case a.Params > b.Params:
				return 1
			}
			return 0
		})
		xy := make(plotter.XYs, len(pts))
		labels := make([]string, len(pts))
		for j, pt := range pts {
			xy[j] = plotter.XY{X: pt.Params, Y: pt.Loss}
			labels[j] = pt.Label
			xmin, xmax = math.Min(xmin, pt.Params), math.Max(xmax, pt.Params)
		}
		col := seriesColours[i%len(seriesColours)]
		if err := addSeries(p, s.Name, xy, col, true, true); err != nil {
			return nil, err
		}
		l, err := plotter.NewLabels(plotter.XYLabels{XYs: xy, Labels: labels})
		if err != nil {
			return nil, fmt.Errorf("draw %s labels: %w", s.Name, err)
		}
		for k := range l.TextStyle {
			l.TextStyle[k].Font.Variant = "Sans"
			l.TextStyle[k].Font.Size = vg.Points(9)
			l.TextStyle[k].Color = col
		}
		l.Offset = vg.Point{X: vg.Points(5), Y: vg.Points(4)}
		p.Add(l)
	}
	if xmin > xmax { // nothing to draw
		xmin, xmax = 1, 10
	}
	// A decade of room either side in log space, less on the left: labels go to the right.
	p.X.Min, p.X.Max = xmin/2, xmax*4
	yRange(&p.Y, false)
	if !(p.Y.Max > p.Y.Min) { // no data: an empty axis of some height
		p.Y.Min, p.Y.Max = 0, 1
	}

	c := vgimg.NewWith(vgimg.UseWH(plotWidth, plotHeight), vgimg.UseDPI(plotDPI))
	p.Draw(draw.Crop(draw.New(c), plotMargin, -plotMargin, plotMargin, -plotMargin))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("encode loss/parameters plot: %w", err)
	}
	return buf.Bytes(), nil
}

// logTicks is a plot.Ticker for a log axis of counts: a labelled tick at each power of
// ten (1k, 10k, 1M …) and unlabelled ones at 2–9 times it; when the range holds fewer
// than two powers of ten, 2× and 5× are labelled too.
type logTicks struct{}

// Ticks implements plot.Ticker.
func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi > lo) || !finite(hi) {
		return nil
	}
	first, last := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if last-first > 30 {
		return nil
	}
	decades := 0
	for e := first; e <= last; e++ {
		if v := math.Pow(10, e); v >= lo && v <= hi {
			decades++
		}
	}
	var ticks []plot.Tick
	for e := first; e <= last; e++ {
		for m := 1.0; m < 10; m++ {
			v := m * math.Pow(10, e)
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || (decades < 2 && (m == 2 || m == 5)) {
				t.Label = countLabel(v)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// countLabel writes a count as 500, 2k, 10k, 1M, 2.5G.
func countLabel(v float64) string {
	for _, u := range []struct {
		div    float64
		suffix string
	}{{1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if v >= u.div {
			return strconv.FormatFloat(v/u.div, 'g', 3, 64) + u.suffix
		}
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
