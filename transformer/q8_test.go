package transformer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/internal/numtest"
	"github.com/llmtune/llmtune/internal/reftest"
	"github.com/llmtune/llmtune/transformer/safetensors"
)

// q8Ref returns the values of the (rows, cols) weight f after ggml's Q8_0 round trip,
// written here from its definition: along the input dimension (rows when inRows, a
// Conv1D weight; else cols), each block of 32 gets d = max|x|/127 rounded to float16,
// and each value becomes round(x·(1/d)) (ties away from zero) times that d.
func q8Ref(f []float32, rows, cols int, inRows bool) []float32 {
	out := slices.Clone(f)
	at := func(o, i int) *float32 { // input i of output o
		if inRows {
			return &out[i*cols+o]
		}
		return &out[o*cols+i]
	}
	nOut, nIn := rows, cols
	if inRows {
		nOut, nIn = cols, rows
	}
	for o := range nOut {
		for b := 0; b < nIn; b += 32 {
			var amax float32
			for i := b; i < b+32; i++ {
				amax = max(amax, float32(math.Abs(float64(*at(o, i)))))
			}
			d := amax / 127
			id := float32(0)
			if d != 0 {
				id = 1 / d
			}
			dh := safetensors.Float16ToFloat32(safetensors.Float32ToFloat16(d))
			for i := b; i < b+32; i++ {
				*at(o, i) = float32(math.Round(float64(*at(o, i)*id))) * dh
			}
		}
	}
	return out
}

// quantizedF32 returns the model in dir loaded in float32 with every weight matrix of
// dtypeWeights replaced by its Q8_0 values (q8Ref): what a WeightQ8 model computes, up
// to the order of the float32 sums.
func quantizedF32(t *testing.T, dir string) *Model {
	m, err := Load(dir)
	require.NoError(t, err)
	for _, w := range m.dtypeWeightsIn() {
		s := w.p.Shape()
		copy(Floats(w.p), q8Ref(Floats(w.p), s[0], s[1], w.inRows))
	}
	return m
}

// TestQ8MatchesQuantizedF32: a model loaded with WeightQ8 holds the Q8_0 values of its
// weight matrices exactly, frozen, and gives the logits, loss and gradients of the
// float32 model holding those values: the same bits for the products of several rows
// and their gradients (kernels.SgemmQ8B widens the weights exactly as it packs them),
// within float32 rounding for one row
// (kernels.MatVecQ8 sums in its own order); on every kernel path.
func TestQ8MatchesQuantizedF32(t *testing.T) { bothPaths(t, testQ8MatchesQuantizedF32) }

func testQ8MatchesQuantizedF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, dir := range bf16Dirs() {
		want := quantizedF32(t, dir)
		got, err := LoadAs(dir, WeightQ8)
		require.NoError(t, err)
		assert.Equal(t, WeightQ8, got.WeightDType(), dir)
		gw, ww := got.dtypeWeightsIn(), want.dtypeWeightsIn()
		for i, w := range gw {
			q, ok := w.p.Value().(*q8Weight)
			require.True(t, ok, dir)
			assert.Equal(t, w.inRows, q.transposed)
			assert.Equal(t, ww[i].p.Shape(), w.p.Shape())
			assert.False(t, w.p.RequiresGrad())
			require.Equal(t, Floats(ww[i].p), WeightValues(w.p), "%s: weight %d", dir, i)
		}
		b := randomBatch(rng, got.Config.VocabSize)
		assert.Equal(t, want.Logits(b.IDs[0]), got.Logits(b.IDs[0]), "%s logits", dir)
		// One position: the graph's products take one row (kernels.MatVecQ8).
		numtest.AssertCloseRel(t, dir+" logits of one position", got.Logits(b.IDs[0][:1])[0], want.Logits(b.IDs[0][:1])[0], 1e-5)
		requireSameLossAndGrads(t, dir, want, got, b)
	}
}

// TestQ8Decode: decoding through the KV cache with 8-bit weights (one-row steps read the
// blocks through kernels.MatVecQ8) gives the logits of the float32 model holding the
// Q8_0 values, within float32 rounding, on every kernel path.
func TestQ8Decode(t *testing.T) { bothPaths(t, testQ8Decode) }

func testQ8Decode(t *testing.T) {
	for _, dir := range bf16Dirs() {
		got, err := LoadAs(dir, WeightQ8)
		require.NoError(t, err)
		decodeBoth(t, quantizedF32(t, dir), got, func(after int, lw, lg []float32) {
			numtest.AssertCloseRel(t, fmt.Sprintf("%s logits after %d ids", filepath.Base(dir), after), lg, lw, 1e-5)
		})
	}
}

// TestQ8Convert: SetWeightDType(WeightQ8) quantizes a float32 model to what LoadAs
// holds, NewAs draws New's values quantized, WeightF32 widens them back exactly (still
// frozen), and a weight whose input dimension is not a multiple of 32 stays float32.
func TestQ8Convert(t *testing.T) {
	dir := filepath.Join(reftest.LlamaDir(), "tiny-qwen2")
	loaded, err := LoadAs(dir, WeightQ8)
	require.NoError(t, err)
	m, err := Load(dir)
	require.NoError(t, err)
	m.SetWeightDType(WeightQ8)
	lp, mp := loaded.Params(), m.Params()
	for i := range lp {
		require.Equal(t, WeightValues(lp[i].Param), WeightValues(mp[i].Param), lp[i].Name)
	}
	m.SetWeightDType(WeightF32)
	assert.Equal(t, WeightF32, m.WeightDType())
	for i, p := range m.Params() {
		require.Equal(t, WeightValues(lp[i].Param), Floats(p.Param), p.Name)
	}
	for _, p := range m.dtypeWeights() {
		assert.False(t, p.RequiresGrad(), "widened weights stay frozen")
	}

	cfg := loaded.Config
	f, err := New(cfg, rand.New(rand.NewPCG(3, 4)))
	require.NoError(t, err)
	q, err := NewAs(cfg, rand.New(rand.NewPCG(3, 4)), WeightQ8)
	require.NoError(t, err)
	fw, qp := f.dtypeWeightsIn(), q.dtypeWeights()
	for i, w := range fw {
		s := w.p.Shape()
		require.Equal(t, q8Ref(Floats(w.p), s[0], s[1], w.inRows), WeightValues(qp[i]))
	}

	// GPT-2 with n_embd = 48: the projections' input dimensions are 48 (c_attn, c_fc,
	// attn.c_proj) or 192 (mlp.c_proj), the embedding's 48.
	cfg = Config{NumLayers: 1, NumHeads: 4, EmbedDim: 48, MaxPositions: 16, VocabSize: 64, LayerNormEps: 1e-5, Activation: "gelu_new"}
	g, err := NewAs(cfg, rand.New(rand.NewPCG(5, 6)), WeightQ8)
	require.NoError(t, err)
	for _, w := range g.dtypeWeightsIn() {
		s := w.p.Shape()
		in := s[1]
		if w.inRows {
			in = s[0]
		}
		_, isQ8 := w.p.Value().(*q8Weight)
		assert.Equal(t, in%32 == 0, isQ8, "shape %v", s)
	}
	_ = g.Logits([]int{1, 2, 3})
}
