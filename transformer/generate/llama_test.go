package generate

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/internal/reftest"
	"github.com/llmtune/llmtune/transformer"
)

// TestGenerateLlamaGolden decodes greedily through the KV cache (RoPE positions
// continuing from it, key/value heads only) and must reproduce the ids PyTorch got by a
// full forward pass per token, for the tiny Llama and Qwen2 of testdata/llama.
func TestGenerateLlamaGolden(t *testing.T) {
	g := reftest.LoadDir(t, reftest.LlamaDir())
	for _, lm := range []struct{ name, dir string }{{"llama", "tiny-llama"}, {"qwen2", "tiny-qwen2"}} {
		var greedy struct{ Prompt, IDs []int }
		g.Decode(t, lm.name+".greedy", &greedy)
		require.NotEmpty(t, greedy.IDs)
		m, err := transformer.Load(filepath.Join(reftest.LlamaDir(), lm.dir))
		require.NoError(t, err)
		ids, err := Generate(context.Background(), m, Request{Prompt: greedy.Prompt}, opts(len(greedy.IDs)))
		require.NoError(t, err)
		assert.Equal(t, greedy.IDs, ids, "%s greedy ids", lm.name)
	}
}
