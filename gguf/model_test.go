package gguf

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/tokenizer"
	"github.com/llmtune/llmtune/transformer"
)

func TestModelRefusals(t *testing.T) {
	m, err := transformer.Load("../testdata/llama/tiny-qwen2")
	require.NoError(t, err)
	tok, err := tokenizer.Load("../testdata/gguf/qwen2")
	require.NoError(t, err)
	_, err = Model(m, tok, Options{Type: Type(2)})
	assert.ErrorContains(t, err, "type Type(2) is not supported")
	_, err = Model(m, nil, Options{Type: F16})
	assert.ErrorContains(t, err, "no tokenizer")
	m.Config.RopeScaling = transformer.RopeScaling{Type: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 32}
	_, err = Model(m, tok, Options{Type: F16})
	assert.ErrorContains(t, err, "rope_scaling llama3 on a qwen2 model")
	m.Config.RopeScaling = transformer.RopeScaling{Type: "linear", Factor: 2}
	f, err := Model(m, tok, Options{Type: F16})
	require.NoError(t, err)
	var keys []string
	for _, kv := range f.KV {
		keys = append(keys, kv.Key)
	}
	assert.Contains(t, keys, "qwen2.rope.scaling.type")
	assert.Contains(t, keys, "qwen2.rope.scaling.factor")
	m.Config.Arch = "mpt"
	_, err = Model(m, tok, Options{Type: F16})
	assert.ErrorContains(t, err, `model family "mpt" is not supported`)

	_, err = projName(transformer.Proj{Layer: 1, Kind: transformer.ProjKind(99)})
	assert.ErrorContains(t, err, "has no llama.cpp tensor")
	_, err = tensorName("h.0.attn.bias")
	assert.ErrorContains(t, err, "parameter h.0.attn.bias has no llama.cpp name")
	for hf, want := range map[string]string{
		"wte.weight": "token_embd.weight", "h.1.ln_2.bias": "blk.1.ffn_norm.bias", "h.0.mlp.c_fc.weight": "blk.0.ffn_up.weight",
		"layers.3.self_attn.o_proj.weight": "blk.3.attn_output.weight", "layers.0.post_attention_layernorm.weight": "blk.0.ffn_norm.weight",
		"norm.weight": "output_norm.weight", "lm_head.weight": "output.weight", "layers.2.mlp.gate_proj.weight": "blk.2.ffn_gate.weight",
	} {
		got, err := tensorName(hf)
		require.NoError(t, err)
		assert.Equal(t, want, got, hf)
	}
}

// TestRopeFactors: Llama 3's rope_freqs for tiny-llama (head_dim 16, θ 10000, factor 8, low 1, high 4, original
// context 32): wavelengths 2π·10000^(i/8) are 6.3 (below 32/4: kept, 1), 19.9 (between: s = (32/19.9 − 1)/3,
// 1/((1−s)/8 + s) = 3.30) and from 62.8 on (above 32: divided by 8).
func TestRopeFactors(t *testing.T) {
	m, err := transformer.Load("../testdata/llama/tiny-llama")
	require.NoError(t, err)
	f := ropeFactors(m.Config)
	require.Len(t, f, 8)
	assert.Equal(t, float32(1), f[0])
	assert.InDelta(t, 3.2995, f[1], 1e-4)
	assert.Equal(t, []float32{8, 8, 8, 8, 8, 8}, f[2:])
}

// TestQ8ModelExportsItsBlocks: a model loaded in 8-bit blocks (transformer.WeightQ8) holds exactly the values of
// llama.cpp's Q8_0 blocks of its weights, so exporting it as Q8_0 writes the very file that exporting the
// float32 model does, byte for byte (its blocks quantize back to themselves), for GPT-2 (Conv1D weights,
// transposed on export), Llama (q and k rows permuted) and Qwen2 (biases, untied head).
func TestQ8ModelExportsItsBlocks(t *testing.T) {
	for _, c := range []struct{ model, tok string }{
		{"../testdata/tiny", "../testdata/tiny"},
		{"../testdata/llama/tiny-llama", "../testdata/gguf/llama3"},
		{"../testdata/llama/tiny-qwen2", "../testdata/gguf/qwen2"},
	} {
		tok, err := tokenizer.Load(c.tok)
		require.NoError(t, err)
		var files [2][]byte
		for i, dt := range []transformer.WeightDType{transformer.WeightF32, transformer.WeightQ8} {
			m, err := transformer.LoadAs(c.model, dt)
			require.NoError(t, err)
			require.Equal(t, dt, m.WeightDType())
			f, err := Model(m, tok, Options{Type: Q8_0})
			require.NoError(t, err)
			path := filepath.Join(t.TempDir(), "m.gguf")
			require.NoError(t, f.WriteFile(path))
			files[i], err = os.ReadFile(path)
			require.NoError(t, err)
		}
		assert.True(t, bytes.Equal(files[0], files[1]), "%s: the exports of the float32 and the Q8_0 model differ", c.model)
	}
}
