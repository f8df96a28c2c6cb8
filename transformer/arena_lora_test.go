package transformer_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/lora"
	"github.com/llmtune/llmtune/transformer"
)

// TestArenaLoRABitIdentical trains LoRA adapters (with dropout, in training mode) with
// and without a poisoned arena (see TestArenaBitIdentical) and requires the same bits:
// the adapter's op and the base projections under it draw from the arena through
// transformer.ForwardIn, the adapters' gradients never do.
func TestArenaLoRABitIdentical(t *testing.T) {
	gpt2 := transformer.DefaultConfig()
	gpt2.NumLayers, gpt2.NumHeads, gpt2.EmbedDim, gpt2.MaxPositions, gpt2.VocabSize = 2, 4, 16, 32, 50
	llama := transformer.Config{Arch: transformer.Llama, NumLayers: 2, NumHeads: 4, NumKVHeads: 2, EmbedDim: 16,
		InnerDim: 24, MaxPositions: 32, VocabSize: 50, LayerNormEps: 1e-5, Activation: "silu", RopeTheta: 1e4}
	for _, c := range []struct {
		name    string
		cfg     transformer.Config
		targets []string
		dropout float64
	}{
		{"gpt2-qv", gpt2, []string{"q", "v"}, 0},
		{"gpt2-all-linear-dropout", gpt2, []string{"all-linear"}, 0.2},
		{"llama-all-linear-dropout", llama, []string{"all-linear"}, 0.2},
	} {
		t.Run(c.name, func(t *testing.T) {
			run := func(a *transformer.Arena) (losses []float64, weights []float32) {
				m, err := transformer.New(c.cfg, rand.New(rand.NewPCG(3, 4)))
				require.NoError(t, err)
				ad, err := lora.Apply(m, lora.Config{Rank: 2, Alpha: 4, Dropout: c.dropout, Targets: c.targets},
					rand.New(rand.NewPCG(5, 6)))
				require.NoError(t, err)
				m.SetArena(a)
				ad.SetTraining(true)
				rng := rand.New(rand.NewPCG(7, 8))
				for step := range 4 {
					T := 4 + 3*step%7
					b := transformer.Batch{}
					for range 2 {
						ids, tg := make([]int, T), make([]int, T)
						for i := range ids {
							ids[i], tg[i] = rng.IntN(c.cfg.VocabSize), rng.IntN(c.cfg.VocabSize)
						}
						b.IDs, b.Targets = append(b.IDs, ids), append(b.Targets, tg)
					}
					for _, p := range ad.Params() {
						p.Param.ZeroGrad()
					}
					loss, err := m.Loss(b)
					require.NoError(t, err)
					losses = append(losses, loss.Value().Item().F64())
					require.NoError(t, ag.Backward(loss))
					m.ReleaseStep()
					for _, p := range ad.Params() {
						g, w := mat.Data[float32](p.Param.Grad()), transformer.Floats(p.Param)
						for j := range w {
							w[j] -= 0.5 * g[j]
						}
					}
				}
				for _, p := range ad.Params() {
					weights = append(weights, transformer.Floats(p.Param)...)
				}
				return losses, weights
			}
			wantL, wantW := run(nil)
			a := transformer.NewArena()
			transformer.PoisonArena(a)
			gotL, gotW := run(a)
			require.Equal(t, wantL, gotL)
			require.Len(t, gotW, len(wantW))
			for i := range wantW {
				if math.Float32bits(wantW[i]) != math.Float32bits(gotW[i]) {
					t.Fatalf("adapter weight %d = %v with the arena, %v without", i, gotW[i], wantW[i])
				}
			}
			require.Positive(t, a.Stats().Reused)
			require.Zero(t, a.Stats().LentBytes)
		})
	}
}
