package transformer

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// smolLM2 is SmolLM2-135M's config.json as the hub has it (abridged of keys that do not
// change the network).
const smolLM2 = `{
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 0, "eos_token_id": 0, "hidden_act": "silu", "hidden_size": 576,
  "initializer_range": 0.041666666666666664, "intermediate_size": 1536, "is_llama_config": true,
  "max_position_embeddings": 8192, "model_type": "llama", "num_attention_heads": 9,
  "num_hidden_layers": 30, "num_key_value_heads": 3, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
  "rope_interleaved": false, "rope_scaling": null, "rope_theta": 100000, "tie_word_embeddings": true,
  "torch_dtype": "bfloat16", "transformers_version": "4.40.1", "use_cache": true, "vocab_size": 49152
}`

// llama32 is Llama-3.2-1B-Instruct's config.json (abridged likewise).
const llama32 = `{
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "bos_token_id": 128000,
  "eos_token_id": [128001, 128008, 128009], "head_dim": 64, "hidden_act": "silu", "hidden_size": 2048,
  "intermediate_size": 8192, "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama",
  "num_attention_heads": 32, "num_hidden_layers": 16, "num_key_value_heads": 8, "pretraining_tp": 1,
  "rms_norm_eps": 1e-05, "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
  "original_max_position_embeddings": 8192, "rope_type": "llama3"}, "rope_theta": 500000.0,
  "tie_word_embeddings": true, "torch_dtype": "bfloat16", "vocab_size": 128256
}`

// qwen25 is Qwen2.5-0.5B's config.json (abridged likewise).
const qwen25 = `{
  "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
  "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 896, "intermediate_size": 4864,
  "max_position_embeddings": 32768, "max_window_layers": 24, "model_type": "qwen2",
  "num_attention_heads": 14, "num_hidden_layers": 24, "num_key_value_heads": 2, "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": true,
  "torch_dtype": "bfloat16", "use_sliding_window": false, "vocab_size": 151936
}`

// tinyLlama is TinyLlama-1.1B-Chat-v1.0's config.json (abridged likewise): no
// tie_word_embeddings key, so untied.
const tinyLlama = `{
  "architectures": ["LlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
  "hidden_size": 2048, "initializer_range": 0.02, "intermediate_size": 5632, "max_position_embeddings": 2048,
  "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 22, "num_key_value_heads": 4,
  "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": null, "rope_theta": 10000.0,
  "torch_dtype": "bfloat16", "vocab_size": 32000
}`

func TestParseLlamaConfigs(t *testing.T) {
	tests := []struct {
		name, json string
		want       Config
	}{
		{"SmolLM2-135M", smolLM2, Config{Arch: Llama, NumLayers: 30, NumHeads: 9, NumKVHeads: 3, EmbedDim: 576,
			InnerDim: 1536, MaxPositions: 8192, VocabSize: 49152, LayerNormEps: 1e-5, Activation: "silu",
			RopeTheta: 1e5}},
		{"Llama-3.2-1B", llama32, Config{Arch: Llama, NumLayers: 16, NumHeads: 32, NumKVHeads: 8, HeadSize: 64,
			EmbedDim: 2048, InnerDim: 8192, MaxPositions: 131072, VocabSize: 128256, LayerNormEps: 1e-5,
			Activation: "silu", RopeTheta: 5e5, BOSTokenID: 128000, EOSTokenID: 128001,
			EOSTokenIDs: []int{128001, 128008, 128009},
			RopeScaling: RopeScaling{Type: "llama3", Factor: 32, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 8192}}},
		{"Qwen2.5-0.5B", qwen25, Config{Arch: Qwen2, NumLayers: 24, NumHeads: 14, NumKVHeads: 2, EmbedDim: 896,
			InnerDim: 4864, MaxPositions: 32768, VocabSize: 151936, LayerNormEps: 1e-6, Activation: "silu",
			RopeTheta: 1e6, BOSTokenID: 151643, EOSTokenID: 151643, QKVBias: true}},
		{"TinyLlama-1.1B", tinyLlama, Config{Arch: Llama, NumLayers: 22, NumHeads: 32, NumKVHeads: 4, EmbedDim: 2048,
			InnerDim: 5632, MaxPositions: 2048, VocabSize: 32000, LayerNormEps: 1e-5, Activation: "silu",
			RopeTheta: 1e4, BOSTokenID: 1, EOSTokenID: 2, UntiedLMHead: true}},
	}
	for _, tt := range tests {
		c, err := ParseConfig([]byte(tt.json))
		require.NoError(t, err, "ParseConfig(%s)", tt.name)
		assert.Equal(t, tt.want, c, "ParseConfig(%s)", tt.name)
		// What MarshalJSON writes parses back to the same configuration.
		raw, err := json.Marshal(c)
		require.NoError(t, err)
		c2, err := ParseConfig(raw)
		require.NoError(t, err, "ParseConfig(MarshalJSON(%s)): %s", tt.name, raw)
		if c.NumKVHeads == 0 {
			c.NumKVHeads = c.NumHeads // written out explicitly
		}
		if c.HeadSize == 0 {
			c.HeadSize = c.HeadDim()
		}
		assert.Equal(t, c, c2, "round trip of %s", tt.name)
	}
	c, _ := ParseConfig([]byte(smolLM2))
	assert.Equal(t, 64, c.HeadDim())
	assert.Equal(t, 3*64, c.KVDim())
	assert.Equal(t, 1536, c.Inner())
}

func TestParseLlamaConfigErrors(t *testing.T) {
	tests := []struct{ json, want string }{
		{`{"architectures": ["MistralForCausalLM"]}`, `architecture "MistralForCausalLM" is not supported`},
		{`{"model_type": "qwen2", "use_sliding_window": true}`, "use_sliding_window = true is not supported"},
		{`{"model_type": "llama", "hidden_act": "gelu"}`, `hidden_act "gelu" is not supported`},
		{`{"model_type": "llama", "rope_scaling": {"rope_type": "yarn", "factor": 4}}`, `rope_scaling type "yarn" is not supported`},
		{`{"model_type": "llama", "rope_scaling": {"type": "dynamic", "factor": 4}}`, `rope_scaling type "dynamic" is not supported`},
		{`{"model_type": "llama", "num_attention_heads": 6, "num_key_value_heads": 4}`, "num_key_value_heads = 4 does not divide num_attention_heads = 6"},
		{`{"model_type": "llama", "pretraining_tp": 2}`, "pretraining_tp = 2 is not supported"},
		{`{"model_type": "llama", "eos_token_id": "x"}`, "eos_token_id"},
	}
	for _, tt := range tests {
		_, err := ParseConfig([]byte(tt.json))
		assert.ErrorContains(t, err, tt.want, "ParseConfig(%s)", tt.json)
	}
	// rope_parameters (Transformers v5) and the old "type" key are read too.
	c, err := ParseConfig([]byte(`{"model_type": "llama", "rope_parameters": {"rope_type": "linear", "factor": 2, "rope_theta": 20000}}`))
	require.NoError(t, err)
	assert.Equal(t, RopeScaling{Type: "linear", Factor: 2}, c.RopeScaling)
	assert.Equal(t, 20000.0, c.RopeTheta)
	c, err = ParseConfig([]byte(`{"model_type": "llama", "rope_scaling": {"type": "linear", "factor": 4}}`))
	require.NoError(t, err)
	assert.Equal(t, "linear", c.RopeScaling.Type)
	// Only the keys of the type are kept, so that MarshalJSON's config reads back the same
	// (found by FuzzParseConfig).
	c, err = ParseConfig([]byte(`{"model_type": "llama", "rope_scaling": {"rope_type": "default", "factor": 8, "original_max_position_embeddings": 1}}`))
	require.NoError(t, err)
	assert.Equal(t, RopeScaling{}, c.RopeScaling)
	c, err = ParseConfig([]byte(`{"model_type": "llama", "rope_scaling": {"type": "linear", "factor": 4, "low_freq_factor": 1}}`))
	require.NoError(t, err)
	assert.Equal(t, RopeScaling{Type: "linear", Factor: 4}, c.RopeScaling)
}

// TestRopeInvFreqLlama3 checks the llama3 rescaling band by band on Llama-3.2's values:
// high frequencies (short wavelengths) kept, low ones divided by the factor, the middle
// interpolated.
func TestRopeInvFreqLlama3(t *testing.T) {
	c, err := ParseConfig([]byte(llama32))
	require.NoError(t, err)
	got := c.ropeInvFreq()
	require.Len(t, got, 32)
	plain := c
	plain.RopeScaling = RopeScaling{}
	base := plain.ropeInvFreq()
	var kept, divided, smoothed int
	for i, f := range got {
		b := float64(base[i])
		wave := 2 * math.Pi / b
		switch {
		case wave < 8192.0/4:
			assert.Equal(t, base[i], f, "frequency %d (wavelength %.0f) is kept", i, wave)
			kept++
		case wave > 8192.0/1:
			assert.InDelta(t, b/32, float64(f), 1e-7*b, "frequency %d (wavelength %.0f) is divided by 32", i, wave)
			divided++
		default:
			assert.True(t, float64(f) < b && float64(f) > b/32, "frequency %d (wavelength %.0f) is interpolated", i, wave)
			smoothed++
		}
	}
	assert.Positive(t, kept)
	assert.Positive(t, divided)
	assert.Positive(t, smoothed)
	assert.InDelta(t, 1.0, float64(base[0]), 0)
	assert.InDelta(t, math.Pow(5e5, -2.0/64), float64(base[1]), 1e-7)
}
