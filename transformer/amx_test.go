package transformer

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nlpodyssey/spago/ag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/transformer/kernels"
)

// TestBF16AMXNearBF16: a model loaded with WeightBF16AMX keeps WeightBF16's weights and
// one-row products (decoding: the same logits, bit for bit), while its products of
// several rows run on the AMX tiles with the activations rounded to bfloat16 too: its
// logits, loss and gradients differ from WeightBF16's (so the tiles ran) by no more than
// that rounding explains: logits within 2% of their largest magnitude, the loss within
// 1%, each trained parameter's gradient at cosine ≥ 0.99 and norm within 5%. (Measured
// on the three checkpoints: logits 0.7–1.5% of the largest apart, losses 0.02% apart,
// cosines ≥ 0.9986, norms within 3.1%.) The kernel's own sums are checked against float64
// in kernels.
func TestBF16AMXNearBF16(t *testing.T) {
	if err := WeightBF16AMX.CheckSupported(); err != nil {
		t.Skip(err)
	}
	rng := rand.New(rand.NewPCG(8, 8))
	for _, dir := range bf16Dirs() {
		want, err := LoadAs(dir, WeightBF16)
		require.NoError(t, err)
		got, err := LoadAs(dir, WeightBF16AMX)
		require.NoError(t, err)
		assert.Equal(t, WeightBF16AMX, got.WeightDType(), dir)
		b := randomBatch(rng, got.Config.VocabSize)
		assert.Equal(t, want.Logits(b.IDs[0][:1]), got.Logits(b.IDs[0][:1]), "%s: one position", dir)
		lw, lg := want.Logits(b.IDs[0]), got.Logits(b.IDs[0])
		require.NotEqual(t, lw, lg, "%s: the AMX products ran", dir)
		var worst, top float64
		for i := range lw {
			for j := range lw[i] {
				worst = max(worst, math.Abs(float64(lg[i][j]-lw[i][j])))
				top = max(top, math.Abs(float64(lw[i][j])))
			}
		}
		assert.Less(t, worst, 0.02*top, dir)

		got.SetTrainable(true)
		want.SetTrainable(true)
		lossW, err := want.Loss(b)
		require.NoError(t, err)
		lossG, err := got.Loss(b)
		require.NoError(t, err)
		fw, fg := float64(Floats(lossW)[0]), float64(Floats(lossG)[0])
		assert.InDelta(t, fw, fg, 0.01*fw, dir)
		require.NoError(t, ag.Backward(lossW))
		require.NoError(t, ag.Backward(lossG))
		gp, wp := got.Params(), want.Params()
		worstCos, worstNorm := 1.0, 0.0
		for i := range gp {
			if IsLowPrecision(gp[i].Param) {
				assert.False(t, gp[i].Param.HasGrad(), gp[i].Name)
				continue
			}
			g, w := Floats(gp[i].Param.Grad()), Floats(wp[i].Param.Grad())
			var dot, ng, nw float64
			for j := range g {
				dot += float64(g[j]) * float64(w[j])
				ng += float64(g[j]) * float64(g[j])
				nw += float64(w[j]) * float64(w[j])
			}
			if nw == 0 {
				continue
			}
			cos, norm := dot/math.Sqrt(ng*nw), math.Abs(math.Sqrt(ng/nw)-1)
			worstCos, worstNorm = min(worstCos, cos), max(worstNorm, norm)
			assert.Greater(t, cos, 0.99, "%s %s", dir, gp[i].Name)
			assert.Less(t, norm, 0.05, "%s %s", dir, gp[i].Name)
		}
		t.Logf("%s: logits %.2e of %.2f apart at most; loss %.6f vs %.6f; gradients: cosine ≥ %.5f, norms within %.3f%%",
			dir, worst, top, fg, fw, worstCos, 100*worstNorm)
	}
}

// TestBF16AMXUnsupported: where the CPU or OS lacks the tiles, asking for WeightBF16AMX
// is an error naming the type, not a crash; where it has them, no error.
func TestBF16AMXUnsupported(t *testing.T) {
	err := WeightBF16AMX.CheckSupported()
	if kernels.HaveAMX() {
		require.NoError(t, err)
		return
	}
	require.ErrorContains(t, err, "bf16_amx")
	_, err = NewAs(DefaultConfig(), nil, WeightBF16AMX)
	require.ErrorContains(t, err, "AMX")
}
