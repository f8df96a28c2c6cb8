package tokenizer

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStyle: what Style, Kind and Merges say of each kind of tokenizer, which GGUF export turns into llama.cpp's
// tokenizer.ggml.* keys.
func TestStyle(t *testing.T) {
	gpt2, err := Load("../testdata/tokenizer/gpt2")
	require.NoError(t, err)
	assert.Equal(t, Style{ByteLevel: true, PreTokenizer: "gpt2", Unk: -1, PAD: -1}, gpt2.Style())
	assert.Equal(t, SpecialToken, gpt2.Kind(50256))
	assert.Equal(t, NormalToken, gpt2.Kind(0))
	assert.Equal(t, NoToken, gpt2.Kind(50257))
	m := gpt2.Merges()
	assert.Len(t, m, 50000)
	assert.Equal(t, [2]string{"Ġ", "t"}, m[0])

	mistral, err := Load("../testdata/tokenizer/hf/mistral-7b")
	require.NoError(t, err)
	st := mistral.Style()
	assert.True(t, st.ByteFallback)
	assert.False(t, st.ByteLevel)
	assert.Equal(t, "metaspace", st.Normalizer)
	assert.Equal(t, "", st.PreTokenizer)
	assert.Equal(t, []int{1}, st.Before)
	assert.Equal(t, 0, st.Unk)
	assert.Equal(t, SpecialToken, mistral.Kind(1))
	assert.Equal(t, ByteToken, mistral.Kind(3)) // <0x00>
	assert.Equal(t, NormalToken, mistral.Kind(259))
	assert.Equal(t, [2]string{"▁", "t"}, mistral.Merges()[0])

	qwen, err := Load("../testdata/tokenizer/hf/qwen3")
	require.NoError(t, err)
	st = qwen.Style()
	assert.Equal(t, "qwen2", st.PreTokenizer)
	assert.Equal(t, "nfc", st.Normalizer)
	id, _ := qwen.ID("<|endoftext|>")
	assert.Equal(t, id, st.PAD)
	think, ok := qwen.ID("<think>")
	require.True(t, ok)
	assert.Equal(t, UserToken, qwen.Kind(think))

	for dir, want := range map[string]string{"llama3": "llama3", "smollm": "digits+gpt2", "spm": ""} {
		tok, err := Load("../testdata/gguf/" + dir)
		require.NoError(t, err)
		assert.Equal(t, want, tok.Style().PreTokenizer, dir)
	}
	llama3, err := Load("../testdata/gguf/llama3")
	require.NoError(t, err)
	assert.True(t, llama3.Style().IgnoreMerges)
}
