package generate_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/internal/reftest"
	"github.com/llmtune/llmtune/lora"
	"github.com/llmtune/llmtune/transformer"
	"github.com/llmtune/llmtune/transformer/generate"
)

// TestGenerateLoRAGolden decodes greedily with the KV cache through a LoRA adapter (r=4,
// alpha=8 on q and v, PyTorch's initial A and B from expected.safetensors) and must
// reproduce PyTorch's ids (expected.json lora_greedy); without the adapter the ids
// differ, so the adapter is really in the path.
func TestGenerateLoRAGolden(t *testing.T) {
	g := reftest.Load(t)
	var greedy struct{ Prompt, IDs []int }
	g.Decode(t, "lora_greedy", &greedy)
	want := greedy.IDs
	require.NotEmpty(t, want)

	m, err := transformer.Load(reftest.Path("tiny-f32"))
	require.NoError(t, err)
	opt := generate.DefaultOptions()
	opt.MaxNewTokens = len(want)
	req := generate.Request{Prompt: greedy.Prompt}
	base, err := generate.Generate(context.Background(), m, req, opt)
	require.NoError(t, err)

	ad, err := lora.Apply(m, lora.Config{Rank: 4, Alpha: 8}, rand.New(rand.NewPCG(1, 1)))
	require.NoError(t, err)
	require.Len(t, ad.Params(), 8)
	for _, p := range ad.Params() {
		copy(transformer.Floats(p.Param), g.Tensor(t, "lora_init."+p.Name))
	}
	got, err := generate.Generate(context.Background(), m, req, opt)
	require.NoError(t, err)
	assert.Equal(t, want, got, "greedy ids with the LoRA adapter")
	assert.NotEqual(t, want, base, "the adapter changes nothing: the test proves nothing")

	// Merged into the base weights, the adapter gives the same ids on the plain path.
	require.NoError(t, ad.Merge())
	merged, err := generate.Generate(context.Background(), m, req, opt)
	require.NoError(t, err)
	assert.Equal(t, want, merged, "greedy ids with the adapter merged")
}

// Generate decodes greedily by default; OnToken streams the ids as they come.
func ExampleGenerate() {
	m, err := transformer.Load(filepath.Join("..", "..", "testdata", "reference", "tiny-f32"))
	if err != nil {
		panic(err)
	}
	prompt := []int{196, 25, 502, 67, 211, 407, 103}
	fmt.Print("streamed:")
	opt := generate.DefaultOptions()
	opt.MaxNewTokens = 8
	ids, err := generate.Generate(context.Background(), m, generate.Request{
		Prompt:  prompt,
		StopIDs: []int{m.Config.EOSTokenID},
		OnToken: func(id int) bool { fmt.Print(" ", id); return true },
	}, opt)
	fmt.Println()
	fmt.Println("returned:", ids, err)
	// Output:
	// streamed: 155 10 10 138 388 416 182 332
	// returned: [155 10 10 138 388 416 182 332] <nil>
}
