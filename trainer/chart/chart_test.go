package chart

import (
	"bytes"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot"
)

// syntheticLogs returns n training steps with a decaying loss and a warmup-then-cosine
// learning rate, and an evaluation every evalEvery steps (none if evalEvery is 0).
func syntheticLogs(n, evalEvery int) (steps []step, evals []eval) {
	for s := 1; s <= n; s++ {
		lr := 2e-4 * math.Min(1, float64(s)/10) * 0.5 * (1 + math.Cos(math.Pi*float64(s)/float64(n)))
		steps = append(steps, step{Step: s, Loss: 1 + 3*math.Exp(-float64(s)/30) + 0.1*math.Sin(float64(s)), LR: lr})
		if evalEvery > 0 && (s%evalEvery == 0 || s == n) {
			evals = append(evals, eval{Step: s, EvalLoss: 1.2 + 3*math.Exp(-float64(s)/35)})
		}
	}
	return steps, evals
}

// step and eval are a run's log lines, as the trainer has them.
type step struct {
	Step     int
	Loss, LR float64
}

type eval struct {
	Step     int
	EvalLoss float64
}

// lossPlot draws the chart of steps and evals.
func lossPlot(t *testing.T, steps []step, evals []eval) ([]byte, error) {
	t.Helper()
	var train, ev, lr []Point
	for _, s := range steps {
		train = append(train, Point{s.Step, s.Loss})
		lr = append(lr, Point{s.Step, s.LR})
	}
	for _, e := range evals {
		ev = append(ev, Point{e.Step, e.EvalLoss})
	}
	return Loss(train, ev, lr)
}

func decodePlot(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	require.NoError(t, err)
	return img
}

func TestPlotLoss(t *testing.T) {
	steps, evals := syntheticLogs(200, 25)
	b, err := lossPlot(t, steps, evals)
	require.NoError(t, err)
	img := decodePlot(t, b)
	assert.Equal(t, image.Rect(0, 0, 800, 600), img.Bounds())
	// The three series are drawn in their colours.
	for name, col := range map[string][3]uint32{"train": rgb(colTrain), "eval": rgb(colEval), "lr": rgb(colLR)} {
		assert.True(t, hasColour(img, col), "no %s pixels", name)
	}
	if dir := os.Getenv("LLMTUNE_PLOT_DIR"); dir != "" { // to look at the chart
		require.NoError(t, os.WriteFile(filepath.Join(dir, "loss.png"), b, 0o644))
	}
}

func TestPlotDegenerate(t *testing.T) {
	steps, _ := syntheticLogs(50, 0)
	nan, inf := math.NaN(), math.Inf(1)
	for name, tc := range map[string]struct {
		steps []step
		evals []eval
	}{
		"no evals":        {steps: steps},
		"one step":        {steps: []step{{Step: 1, Loss: 2.5, LR: 1e-4}}},
		"one step, eval":  {steps: []step{{Step: 1, Loss: 2.5, LR: 1e-4}}, evals: []eval{{Step: 0, EvalLoss: 2.7}, {Step: 1, EvalLoss: 2.6}}},
		"evals only":      {evals: []eval{{Step: 0, EvalLoss: 2.7}}},
		"nothing":         {},
		"constant":        {steps: []step{{Step: 1, Loss: 2, LR: 0}, {Step: 2, Loss: 2, LR: 0}}},
		"non-finite":      {steps: []step{{Step: 1, Loss: nan, LR: 1e-4}, {Step: 2, Loss: inf, LR: nan}, {Step: 3, Loss: 2, LR: 1e-4}}, evals: []eval{{Step: 3, EvalLoss: nan}}},
		"all non-finite":  {steps: []step{{Step: 1, Loss: nan, LR: inf}}, evals: []eval{{Step: 1, EvalLoss: inf}}},
		"huge and finite": {steps: []step{{Step: 1, Loss: 1e300, LR: 1}, {Step: 2, Loss: 1e-300, LR: 1}}},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := lossPlot(t, tc.steps, tc.evals)
			require.NoError(t, err)
			assert.Equal(t, image.Rect(0, 0, 800, 600), decodePlot(t, b).Bounds())
		})
	}
}

func TestPlotSkipsNonFinite(t *testing.T) {
	// A NaN loss or learning rate is left out, not drawn (and does not make NewLine fail).
	b, err := lossPlot(t, []step{{Step: 1, Loss: math.NaN(), LR: math.NaN()}}, []eval{{Step: 1, EvalLoss: math.Inf(-1)}})
	require.NoError(t, err)
	img := decodePlot(t, b)
	for name, col := range map[string][3]uint32{"train": rgb(colTrain), "eval": rgb(colEval), "lr": rgb(colLR)} {
		assert.False(t, hasColour(img, col), "%s pixels drawn for non-finite values", name)
	}
}

func rgb(c interface{ RGBA() (r, g, b, a uint32) }) [3]uint32 {
	r, g, b, _ := c.RGBA()
	return [3]uint32{r >> 8, g >> 8, b >> 8}
}

// hasColour reports whether some pixel of img has colour col exactly.
func hasColour(img image.Image, col [3]uint32) bool {
	bd := img.Bounds()
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			if rgb(img.At(x, y)) == col {
				return true
			}
		}
	}
	return false
}

func TestPlotNiceTicks(t *testing.T) {
	labels := func(ticks []plot.Tick) []string {
		var s []string
		for _, tk := range ticks {
			s = append(s, tk.Label)
		}
		return s
	}
	assert.Equal(t, []string{"0", "50", "100", "150", "200"}, labels(niceTicks{n: 6, minStep: 1}.Ticks(-6, 206)))
	assert.Equal(t, []string{"0", "1"}, labels(niceTicks{n: 6, minStep: 1}.Ticks(-0.03, 1.03)), "steps are whole")
	assert.Equal(t, []string{"1.0", "1.5", "2.0", "2.5"}, labels(niceTicks{n: 5}.Ticks(0.8, 2.7)))
	assert.Equal(t, []string{"0", "5.0e-05", "1.0e-04", "1.5e-04", "2.0e-04"}, labels(niceTicks{n: 3}.Ticks(-1e-5, 2.1e-4)))
	assert.Equal(t, []string{"0", "2.5e+05", "5.0e+05", "7.5e+05"}, labels(niceTicks{n: 3}.Ticks(0, 8e5)))
	assert.Empty(t, niceTicks{n: 5}.Ticks(1, 1))
	assert.Empty(t, niceTicks{n: 5}.Ticks(-math.MaxFloat64, math.MaxFloat64))
}
