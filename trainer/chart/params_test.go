package chart

import (
	"image"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot"
)

func TestPlotLossParams(t *testing.T) {
	series := []ParamSeries{
		{Name: "translate", Points: []ParamPoint{{4.2e6, 2.54, "full"}, {16384, 3.0, "lora-qv-r4"},
			{32768, 2.95, "lora-qv-r8"}, {131072, 2.86, "lora-qv-r32"}, {98304, 2.9, "lora-all-r8"}}},
		{Name: "generate", Points: []ParamPoint{{4.2e6, 5.0, "full"}, {32768, 5.2, "lora-qv-r8"}}},
	}
	b, err := LossParams("Evaluation loss against trainable parameters", series)
	require.NoError(t, err)
	img := decodePlot(t, b)
	assert.Equal(t, image.Rect(0, 0, 800, 600), img.Bounds())
	for i, name := range []string{"translate", "generate"} {
		assert.True(t, hasColour(img, rgb(seriesColours[i])), "no %s pixels", name)
	}
	if dir := os.Getenv("LLMTUNE_PLOT_DIR"); dir != "" { // to look at the chart
		require.NoError(t, os.WriteFile(filepath.Join(dir, "loss-params.png"), b, 0o644))
	}
}

func TestPlotLossParamsDegenerate(t *testing.T) {
	nan := math.NaN()
	for name, series := range map[string][]ParamSeries{
		"nothing":      nil,
		"empty series": {{Name: "a"}},
		"one point":    {{Name: "a", Points: []ParamPoint{{1000, 2, "x"}}}},
		"same params":  {{Name: "a", Points: []ParamPoint{{1000, 2, "x"}, {1000, 3, "y"}}}},
		"unplottable":  {{Name: "a", Points: []ParamPoint{{0, 2, "zero"}, {-5, 2, "negative"}, {10, nan, "nan"}, {math.Inf(1), 2, "inf"}}}},
		"many series":  {{Name: "a", Points: []ParamPoint{{10, 1, ""}}}, {Name: "b", Points: []ParamPoint{{1e9, 1, ""}}}, {Name: "c"}, {Name: "d"}, {Name: "e"}, {Name: "f"}, {Name: "g", Points: []ParamPoint{{100, 1, ""}}}},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := LossParams("t", series)
			require.NoError(t, err)
			assert.Equal(t, image.Rect(0, 0, 800, 600), decodePlot(t, b).Bounds())
		})
	}
	// Skipped points draw nothing in the series' colour.
	b, err := LossParams("t", []ParamSeries{{Name: "a", Points: []ParamPoint{{0, 2, ""}, {10, nan, ""}}}})
	require.NoError(t, err)
	assert.False(t, hasColour(decodePlot(t, b), rgb(seriesColours[0])))
}

func TestPlotLogTicks(t *testing.T) {
	labels := func(ticks []plot.Tick) []string {
		var s []string
		for _, tk := range ticks {
			if tk.Label != "" {
				s = append(s, tk.Label)
			}
		}
		return s
	}
	assert.Equal(t, []string{"10k", "100k", "1M", "10M"}, labels(logTicks{}.Ticks(5000, 2e7)))
	assert.Equal(t, []string{"2k", "5k", "10k", "20k"}, labels(logTicks{}.Ticks(1500, 30000)))
	assert.Equal(t, []string{"500", "1k", "2k"}, labels(logTicks{}.Ticks(300, 2500)))
	assert.Equal(t, []string{"2.5G"}, []string{countLabel(2.5e9)})
	assert.Empty(t, logTicks{}.Ticks(0, 10))
	assert.Empty(t, logTicks{}.Ticks(10, 10))
}
