package bench

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// BenchmarkGenerate times one greedy generation (the anchor's timed unit) of the
// small-generate workloads (float32, bfloat16, 8-bit) and of a tiny model of the same
// kind; `-benchtime=1x` is a smoke test.
func BenchmarkGenerate(b *testing.B) {
	small, err := Find("small-generate")
	require.NoError(b, err)
	tiny := small
	tiny.Name, tiny.Model = "tiny-generate", gpt2(4, 256, 4)
	ws := []Workload{tiny, small}
	for _, name := range []string{"small-generate-bf16", "small-generate-q8"} {
		w, err := Find(name)
		require.NoError(b, err)
		ws = append(ws, w)
	}
	for _, w := range ws {
		b.Run(w.Name, func(b *testing.B) {
			g, err := NewGenerator(w)
			require.NoError(b, err)
			_, _, _, err = g.Run() // warm-up
			require.NoError(b, err)
			b.ReportAllocs()
			b.ResetTimer()
			var prefill float64
			for range b.N {
				_, p, _, err := g.Run()
				require.NoError(b, err)
				prefill += p.Seconds()
			}
			b.ReportMetric(float64(w.NewTokens*b.N)/b.Elapsed().Seconds(), "tok/s")
			b.ReportMetric(float64(w.SeqLen*b.N)/prefill, "prefill-tok/s")
		})
	}
}

// TestRunGenerate runs the small-generate workload at a reduced size.
func TestRunGenerate(t *testing.T) {
	w, err := Find("small-generate")
	require.NoError(t, err)
	require.True(t, w.Generate)
	assert.Equal(t, [3]int{32, 128, 3}, [3]int{w.SeqLen, w.NewTokens, w.Steps})
	w.Model, w.SeqLen, w.NewTokens, w.Steps = gpt2(2, 64, 2), 5, 7, 1
	res, err := Run(w)
	require.NoError(t, err)
	assert.Equal(t, "small-generate", res.Workload)
	assert.Len(t, res.StepsMs, 1)
	assert.Greater(t, res.TokensPerSecond, 0.0)
	assert.Greater(t, res.PrefillTokensPerSecond, 0.0)
	assert.Equal(t, 0, res.Trainable)

	g, err := NewGenerator(w)
	require.NoError(t, err)
	ids, prefill, total, err := g.Run()
	require.NoError(t, err)
	assert.Len(t, ids, 7)
	assert.Less(t, prefill, total)

	_, err = NewGenerator(Workloads[0])
	assert.ErrorContains(t, err, "not a generation workload")
}
