package bench

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkTrainStep times one train step of each workload (model building and the
// batch outside the timer); `-benchtime=1x` is a smoke test.
func BenchmarkTrainStep(b *testing.B) {
	for _, w := range Workloads {
		if w.Generate || w.Model.EmbedDim > 1024 {
			continue // BenchmarkGenerate; a 1B model is for llmtune bench, not a smoke test
		}
		b.Run(w.Name, func(b *testing.B) {
			t, err := NewTrainer(w)
			require.NoError(b, err)
			batch := t.Batch()
			_, err = t.Step(batch) // warm-up
			require.NoError(b, err)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				_, err := t.Step(batch)
				require.NoError(b, err)
			}
			b.ReportMetric(float64(w.Batch*w.SeqLen*b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}

func TestFind(t *testing.T) {
	w, err := Find("small-lora")
	require.NoError(t, err)
	require.Equal(t, 12, w.Model.NumLayers)
	_, err = Find("huge")
	require.ErrorContains(t, err, "tiny-lora")
}

// TestTinyLoRAStep runs one real step of the tiny-lora workload shape at a shorter
// length and checks that the loss is finite and near ln(V) for a fresh model.
func TestTinyLoRAStep(t *testing.T) {
	w, err := Find("tiny-lora")
	require.NoError(t, err)
	w.Batch, w.SeqLen = 2, 16
	tr, err := NewTrainer(w)
	require.NoError(t, err)
	require.Equal(t, 32_768, tr.Adapter.NumTrainable())
	require.Equal(t, 16_287_488, tr.Model.NumParams())
	loss, err := tr.Step(tr.Batch())
	require.NoError(t, err)
	require.InDelta(t, 10.825, loss, 0.1) // ln 50257
}
