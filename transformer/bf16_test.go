package transformer

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nlpodyssey/spago/ag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/internal/reftest"
	"github.com/llmtune/llmtune/transformer/safetensors"
)

// roundedF32 returns the model in dir loaded in float32 with every weight matrix of
// dtypeWeights (projections, token embedding, untied LM head) rounded to bfloat16 in
// place: what a WeightBF16 model must compute, bit for bit.
func roundedF32(t *testing.T, dir string) *Model {
	m, err := Load(dir)
	require.NoError(t, err)
	for _, p := range m.dtypeWeights() {
		copy(Floats(p), toBF16(Floats(p)))
	}
	return m
}

// toBF16 returns the values of x rounded to bfloat16 (nearest, ties to even).
func toBF16(x []float32) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = safetensors.BFloat16ToFloat32(safetensors.Float32ToBFloat16(v))
	}
	return out
}

// bf16Dirs are checkpoints of each family: GPT-2 (Conv1D), Llama (GQA, tied) and Qwen2
// (biases, untied, stored in BF16).
func bf16Dirs() []string {
	return []string{
		filepath.Join(reftest.Dir(), "tiny-f32"),
		filepath.Join(reftest.LlamaDir(), "tiny-llama"),
		filepath.Join(reftest.LlamaDir(), "tiny-qwen2"),
	}
}

// TestBF16MatchesRoundedF32: a model loaded with WeightBF16 gives the logits, loss and
// gradients (of every parameter it trains: embeddings, norms, biases) of the float32
// model whose projection weights were rounded to bfloat16, bit for bit, on every kernel
// path; its projection weights are frozen and take half the memory.
func TestBF16MatchesRoundedF32(t *testing.T) { bothPaths(t, testBF16MatchesRoundedF32) }

func testBF16MatchesRoundedF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, dir := range bf16Dirs() {
		want := roundedF32(t, dir)
		got, err := LoadAs(dir, WeightBF16)
		require.NoError(t, err)
		assert.Equal(t, WeightBF16, got.WeightDType(), dir)
		assert.Equal(t, WeightF32, want.WeightDType(), dir)
		for _, p := range got.dtypeWeights() {
			require.True(t, IsBF16(p))
			assert.False(t, p.RequiresGrad())
		}
		b := randomBatch(rng, got.Config.VocabSize)
		assert.Equal(t, want.Logits(b.IDs[0]), got.Logits(b.IDs[0]), "%s logits", dir)
		// One position: the graph's products take one row (kernels.VecMatBF16, MatVecBF16).
		assert.Equal(t, want.Logits(b.IDs[0][:1]), got.Logits(b.IDs[0][:1]), "%s logits of one position", dir)
		requireSameLossAndGrads(t, dir, want, got, b)
	}
}

// randomBatch returns two rows of 9 random ids below V, each row's targets its ids
// shifted by one (the last ignored).
func randomBatch(rng *rand.Rand, V int) Batch {
	var b Batch
	for range 2 {
		ids := make([]int, 9)
		for i := range ids {
			ids[i] = rng.IntN(V)
		}
		b.IDs = append(b.IDs, ids)
		b.Targets = append(b.Targets, append(slices.Clone(ids[1:]), IgnoreIndex))
	}
	return b
}

// requireSameLossAndGrads makes every parameter of want and got (the same model, got's
// weight matrices in fewer bits, which stay frozen) trainable and requires the same loss
// on b and the same gradient of every parameter that takes one, bit for bit.
func requireSameLossAndGrads(t *testing.T, dir string, want, got *Model, b Batch) {
	t.Helper()
	got.SetTrainable(true) // the low-precision weights stay frozen
	want.SetTrainable(true)
	for _, p := range got.dtypeWeights() {
		assert.False(t, p.RequiresGrad())
	}
	lw, err := want.Loss(b)
	require.NoError(t, err)
	lg, err := got.Loss(b)
	require.NoError(t, err)
	require.Equal(t, Floats(lw), Floats(lg), "%s loss", dir)
	require.NoError(t, ag.Backward(lw))
	require.NoError(t, ag.Backward(lg))
	gp, wp := got.Params(), want.Params()
	for i := range gp {
		if IsLowPrecision(gp[i].Param) {
			assert.False(t, gp[i].Param.HasGrad(), gp[i].Name)
			continue
		}
		require.True(t, gp[i].Param.HasGrad(), gp[i].Name)
		require.Equal(t, Floats(wp[i].Param.Grad()), Floats(gp[i].Param.Grad()), "%s %s gradient", dir, gp[i].Name)
	}
}

// TestBF16Decode: decoding through the KV cache with bfloat16 weights (one-row steps
// read them in bfloat16: kernels.VecMatBF16, MatVecBF16) gives the rounded float32
// model's logits bit for bit, on every kernel path.
func TestBF16Decode(t *testing.T) { bothPaths(t, testBF16Decode) }

func testBF16Decode(t *testing.T) {
	for _, dir := range bf16Dirs() {
		got, err := LoadAs(dir, WeightBF16)
		require.NoError(t, err)
		decodeBoth(t, roundedF32(t, dir), got, func(after int, lw, lg []float32) {
			require.Equal(t, lw, lg, "%s after %d ids", dir, after)
		})
	}
}

// decodeBoth feeds want and got the same sequence through their KV caches (a prefill of
// 3 ids, then one id at a time) and calls check with the logits of each after every step.
func decodeBoth(t *testing.T, want, got *Model, check func(after int, lw, lg []float32)) {
	t.Helper()
	seq := []int{1, 5, 9, 2, 7, 3, 11, 4}
	cw, err := NewKVCache(want.Config, len(seq))
	require.NoError(t, err)
	cg, err := NewKVCache(got.Config, len(seq))
	require.NoError(t, err)
	for pos, n := 0, 3; pos < len(seq); pos, n = pos+n, 1 {
		lw, err := want.NextLogits(cw, seq[pos:pos+n])
		require.NoError(t, err)
		lg, err := got.NextLogits(cg, seq[pos:pos+n])
		require.NoError(t, err)
		check(pos+n, lw, lg)
	}
}

// TestBF16SaveLoad: a WeightBF16 model saves the values it holds (in F32 exactly the
// rounded weights; in BF16 the same bits), NewAs draws the values New draws, rounded, and
// SetWeightDType converts both ways.
func TestBF16SaveLoad(t *testing.T) {
	dir := filepath.Join(reftest.LlamaDir(), "tiny-llama")
	want := roundedF32(t, dir)
	m, err := LoadAs(dir, WeightBF16)
	require.NoError(t, err)
	for _, dt := range []safetensors.DType{safetensors.F32, safetensors.BF16} {
		out := t.TempDir()
		require.NoError(t, m.SaveAs(out, dt))
		back, err := Load(out)
		require.NoError(t, err)
		wp, bp := want.Params(), back.Params()
		for i := range wp {
			w := slices.Clone(Floats(wp[i].Param))
			if dt == safetensors.BF16 { // every tensor is rounded, the rounded ones to themselves
				w = toBF16(w)
			}
			require.Equal(t, w, Floats(bp[i].Param), "%s saved as %s", wp[i].Name, dt)
		}
	}

	cfg := want.Config
	f, err := New(cfg, rand.New(rand.NewPCG(3, 4)))
	require.NoError(t, err)
	h, err := NewAs(cfg, rand.New(rand.NewPCG(3, 4)), WeightBF16)
	require.NoError(t, err)
	fp, hp := f.Params(), h.Params()
	for i := range fp {
		wantV := slices.Clone(Floats(fp[i].Param))
		if IsBF16(hp[i].Param) {
			wantV = toBF16(wantV)
		}
		require.Equal(t, wantV, WeightValues(hp[i].Param), fp[i].Name)
	}

	f.SetWeightDType(WeightBF16)
	assert.Equal(t, WeightBF16, f.WeightDType())
	for i := range fp {
		require.Equal(t, WeightValues(hp[i].Param), WeightValues(fp[i].Param), fp[i].Name)
	}
	f.SetWeightDType(WeightF32)
	assert.Equal(t, WeightF32, f.WeightDType())
	for _, p := range f.dtypeWeights() {
		assert.False(t, p.RequiresGrad(), "widened weights stay frozen")
	}
}

// TestBF16Rounding pins the conversion: nearest, ties to even, exact widening, NaN kept.
func TestBF16Rounding(t *testing.T) {
	in := []float32{1, 1 + 1.0/256, 1 + 3.0/256, -2.5e-3, 3.4e38, float32(math.Inf(-1)), float32(math.NaN())}
	w := newBF16Weight(in, 1, len(in))
	got := WeightValues(w)
	assert.Equal(t, []float32{1, 1, 1 + 4.0/256}, got[:3]) // ties to even: 1+1/256 → 1, 1+3/256 → 1+4/256
	assert.InDelta(t, -2.5e-3, got[3], 2.5e-3/256)
	assert.True(t, math.IsInf(float64(got[4]), 1), "3.4e38 rounds past the largest bfloat16")
	assert.True(t, math.IsInf(float64(got[5]), -1))
	assert.True(t, math.IsNaN(float64(got[6])))
	assert.Panics(t, func() { Floats(w) }, "a bfloat16 weight has no float32 data")
	assert.Panics(t, func() { w.SetRequiresGrad(true) })
}
