package trainer

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"path/filepath"

	"github.com/llmtune/llmtune/internal/atomicfile"
)

// plot draws output_dir/loss.png from metrics.jsonl: the training loss (blue line) and
// the evaluation loss (orange line with dots) against the step, with labelled axes.
func (t *run) plot() error {
	dir := t.recipe.OutputDir
	steps, evals, err := readMetrics(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		return err
	}
	var train, eval [][2]float64
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	for _, s := range steps {
		if finite(s.Loss) {
			train = append(train, [2]float64{float64(s.Step), s.Loss})
		}
	}
	for _, e := range evals {
		if finite(e.EvalLoss) {
			eval = append(eval, [2]float64{float64(e.Step), e.EvalLoss})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, lossChart(train, eval)); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "loss.png"), buf.Bytes())
}

var (
	colTrain = color.RGBA{31, 119, 180, 255} // matplotlib's first two colours
	colEval  = color.RGBA{255, 127, 14, 255}
	colAxis  = color.RGBA{60, 60, 60, 255}
	colGrid  = color.RGBA{225, 225, 225, 255}
)

// lossChart renders the two series on a 800×480 canvas.
func lossChart(train, eval [][2]float64) *image.RGBA {
	const W, H, left, right, top, bottom = 800, 480, 70, 20, 40, 50
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	xmax, ymin, ymax := 1.0, math.Inf(1), math.Inf(-1)
	for _, p := range append(append([][2]float64{}, train...), eval...) {
		xmax = math.Max(xmax, p[0])
		ymin, ymax = math.Min(ymin, p[1]), math.Max(ymax, p[1])
	}
	if math.IsInf(ymin, 0) {
		ymin, ymax = 0, 1
	}
	if ymax-ymin < 1e-6 {
		ymin, ymax = ymin-0.5, ymax+0.5
	}
	pad := (ymax - ymin) * 0.05
	ymin, ymax = ymin-pad, ymax+pad
	px := func(x float64) int { return left + int(math.Round(x/xmax*float64(W-left-right))) }
	py := func(y float64) int { return H - bottom - int(math.Round((y-ymin)/(ymax-ymin)*float64(H-top-bottom))) }
	for i := 0; i <= 4; i++ { // grid and y labels
		y := ymin + (ymax-ymin)*float64(i)/4
		hline(img, left, W-right, py(y), colGrid)
		label := fmt.Sprintf("%.3g", y)
		text(img, left-6-textWidth(label), py(y)-5, label, colAxis)
		x := xmax * float64(i) / 4
		lx := fmt.Sprintf("%.0f", x)
		text(img, px(x)-textWidth(lx)/2, H-bottom+8, lx, colAxis)
	}
	hline(img, left, W-right, H-bottom, colAxis)
	vline(img, left, top, H-bottom, colAxis)
	text(img, (W-textWidth("step"))/2, H-bottom+26, "step", colAxis)
	text(img, left, top-28, "loss", colAxis)
	series := func(pts [][2]float64, c color.RGBA, dots bool) {
		for i := range pts {
			if i > 0 {
				line(img, px(pts[i-1][0]), py(pts[i-1][1]), px(pts[i][0]), py(pts[i][1]), c)
			}
			if dots {
				for dx := -2; dx <= 2; dx++ {
					for dy := -2; dy <= 2; dy++ {
						img.SetRGBA(px(pts[i][0])+dx, py(pts[i][1])+dy, c)
					}
				}
			}
		}
	}
	series(train, colTrain, len(train) == 1)
	series(eval, colEval, true)
	hline(img, W-190, W-170, top-22, colTrain) // legend
	text(img, W-164, top-27, "train", colTrain)
	hline(img, W-100, W-80, top-22, colEval)
	text(img, W-74, top-27, "eval", colEval)
	return img
}

func hline(img *image.RGBA, x0, x1, y int, c color.RGBA) {
	for x := x0; x <= x1; x++ {
		img.SetRGBA(x, y, c)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.RGBA) {
	for y := y0; y <= y1; y++ {
		img.SetRGBA(x, y, c)
	}
}

// line draws a two-pixel-thick segment (Bresenham).
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		img.SetRGBA(x0, y0, c)
		img.SetRGBA(x0, y0+1, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int  { return max(v, -v) }
func sign(v int) int { return min(max(v, -1), 1) }

// glyphs is a 3×5 bitmap font for the characters the chart writes; each row is 3 bits.
var glyphs = map[rune][5]uint8{
	'0': {7, 5, 5, 5, 7}, '1': {2, 6, 2, 2, 7}, '2': {7, 1, 7, 4, 7}, '3': {7, 1, 7, 1, 7},
	'4': {5, 5, 7, 1, 1}, '5': {7, 4, 7, 1, 7}, '6': {7, 4, 7, 5, 7}, '7': {7, 1, 2, 2, 2},
	'8': {7, 5, 7, 5, 7}, '9': {7, 5, 7, 1, 7}, '.': {0, 0, 0, 0, 2}, '-': {0, 0, 7, 0, 0},
	'+': {0, 2, 7, 2, 0}, 'e': {7, 5, 7, 4, 7}, 'l': {4, 4, 4, 4, 7}, 'o': {0, 7, 5, 5, 7},
	's': {7, 4, 7, 1, 7}, 't': {2, 7, 2, 2, 3}, 'p': {7, 5, 7, 4, 4}, 'r': {0, 7, 4, 4, 4},
	'a': {0, 7, 1, 7, 7}, 'i': {2, 0, 2, 2, 2}, 'n': {0, 7, 5, 5, 5}, 'v': {0, 5, 5, 5, 2},
}

const glyphScale = 2

func textWidth(s string) int { return len([]rune(s)) * 4 * glyphScale }

// text writes s with its top-left corner at (x, y).
func text(img *image.RGBA, x, y int, s string, c color.RGBA) {
	for _, r := range s {
		g := glyphs[r]
		for row := range 5 {
			for col := range 3 {
				if g[row]&(4>>col) == 0 {
					continue
				}
				for i := range glyphScale {
					for j := range glyphScale {
						img.SetRGBA(x+col*glyphScale+i, y+row*glyphScale+j, c)
					}
				}
			}
		}
		x += 4 * glyphScale
	}
}
