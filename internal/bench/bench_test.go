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
			if err := w.BaseDType.CheckSupported(); err != nil {
				b.Skip(err)
			}
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

// TestFLOPsPerToken pins the FLOP model on two shapes computed by hand.
func TestFLOPsPerToken(t *testing.T) {
	small, err := Find("small-lora") // GPT-2 124M, T = 128, LoRA
	require.NoError(t, err)
	P := 12*12*768*768 + 50257*768.0 // 123,532,032 weights in products
	attn := 4 * 12 * 128 * 768.0     // per token, forward
	require.Equal(t, 4*P+3*attn, small.FLOPsPerToken())
	small.LoRA = false
	require.Equal(t, 6*P+3*attn, small.FLOPsPerToken(), "full fine-tuning: 3 × forward")

	smol, err := Find("smollm-lora") // SmolLM2-135M: C 576, 9 heads of 64, 3 kv heads, I 1536, 30 layers
	require.NoError(t, err)
	perLayer := 576*576 + 2*576*192 + 576*576 + 3*576*1536.0
	P = 30*perLayer + 49152*576
	require.Equal(t, 4*P+3*(4*30*128*576.0), smol.FLOPsPerToken())

	gen, err := Find("small-generate")
	require.NoError(t, err)
	require.Zero(t, gen.FLOPsPerToken())
}
