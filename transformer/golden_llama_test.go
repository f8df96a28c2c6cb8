package transformer

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nlpodyssey/spago/ag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/internal/numtest"
	"github.com/llmtune/llmtune/internal/reftest"
)

// The Llama-family golden files come from testdata/llama/gen_reference.py (PyTorch,
// written from Hugging Face's modeling_llama.py and modeling_qwen2.py): a tiny Llama with
// grouped-query attention, llama3 RoPE scaling over all three bands and a tied head; a
// tiny Qwen2 with q/k/v biases, one key/value head, an untied head, stored in BF16.

// llamaModels are the families under test, their golden-file prefix and checkpoint.
var llamaModels = []struct{ name, dir string }{
	{"llama", "tiny-llama"},
	{"qwen2", "tiny-qwen2"},
}

// hfName is a parameter's name as the golden files key it: with the "model." prefix,
// except lm_head.
func hfName(name string) string {
	if name == "lm_head.weight" {
		return name
	}
	return "model." + name
}

func TestGoldenLlamaLogits(t *testing.T) { bothPaths(t, testGoldenLlamaLogits) }

func testGoldenLlamaLogits(t *testing.T) {
	g := reftest.LoadDir(t, reftest.LlamaDir())
	for _, lm := range llamaModels {
		m, err := Load(filepath.Join(reftest.LlamaDir(), lm.dir))
		require.NoError(t, err)
		for _, T := range []int{1, 7, 40} {
			name := fmt.Sprintf("%s.logits.T%d", lm.name, T)
			numtest.AssertClose(t, name, flatten(m.Logits(g.Ints(t, fmt.Sprintf("%s.ids.T%d", lm.name, T)))), g.Tensor(t, name), logitsTol)
		}
	}
}

func TestGoldenLlamaLossAndGradients(t *testing.T) { bothPaths(t, testGoldenLlamaLossAndGradients) }

func testGoldenLlamaLossAndGradients(t *testing.T) {
	g := reftest.LoadDir(t, reftest.LlamaDir())
	for _, lm := range llamaModels {
		m, err := Load(filepath.Join(reftest.LlamaDir(), lm.dir))
		require.NoError(t, err)
		loss, err := m.Loss(Batch(g.BatchAt(t, lm.name+".batch")))
		require.NoError(t, err)
		assert.InDelta(t, g.Float(t, lm.name+".loss"), float64(Floats(loss)[0]), lossTol, "%s loss", lm.name)
		require.NoError(t, ag.Backward(loss))
		for _, p := range m.Params() {
			name := lm.name + ".grad." + hfName(p.Name)
			require.True(t, p.Param.HasGrad(), "%s has no gradient", name)
			numtest.AssertCloseRel(t, name, Floats(p.Param.Grad()), g.Tensor(t, name), gradTol)
		}
	}
}

// TestGoldenLlamaRoPE compares the inverse frequencies, llama3-rescaled for the Llama
// model, with PyTorch's.
func TestGoldenLlamaRoPE(t *testing.T) {
	g := reftest.LoadDir(t, reftest.LlamaDir())
	for _, lm := range llamaModels {
		m, err := Load(filepath.Join(reftest.LlamaDir(), lm.dir))
		require.NoError(t, err)
		numtest.AssertCloseRel(t, lm.name+".rope.inv_freq", m.invFreq, g.Tensor(t, lm.name+".rope.inv_freq"), 1e-6)
	}
}

// TestLoadLlamaSharded loads the sharded copy of the tiny Llama (an index, two shards, an
// old rotary_emb.inv_freq buffer to ignore) and finds the same weights.
func TestLoadLlamaSharded(t *testing.T) {
	one, err := Load(filepath.Join(reftest.LlamaDir(), "tiny-llama"))
	require.NoError(t, err)
	sharded, err := Load(filepath.Join(reftest.LlamaDir(), "tiny-llama-sharded"))
	require.NoError(t, err)
	a, b := one.Params(), sharded.Params()
	require.Equal(t, len(a), len(b))
	for i := range a {
		assert.Equal(t, a[i].Name, b[i].Name)
		assert.Equal(t, Floats(a[i].Param), Floats(b[i].Param), a[i].Name)
	}
}

// TestSaveLoadLlama saves each Llama-family model and loads it back: the same
// configuration, the same weights, HF key names with the "model." prefix.
func TestSaveLoadLlama(t *testing.T) {
	for _, lm := range llamaModels {
		m, err := Load(filepath.Join(reftest.LlamaDir(), lm.dir))
		require.NoError(t, err)
		dir := t.TempDir()
		require.NoError(t, m.Save(dir))
		m2, err := Load(dir)
		require.NoError(t, err)
		assert.Equal(t, m.Config.Family(), m2.Config.Family())
		a, b := m.Params(), m2.Params()
		require.Equal(t, len(a), len(b))
		for i := range a {
			assert.Equal(t, Floats(a[i].Param), Floats(b[i].Param), a[i].Name)
		}
		for _, p := range a {
			assert.False(t, strings.HasPrefix(p.Name, "model."), p.Name)
		}
	}
}

// TestLlamaNextLogitsMatchesLogits feeds the 40-token sequence through the KV cache in
// chunks (a prefill, single tokens, several at once) and compares each step's logits
// with the full forward pass: RoPE positions continue from the cache, and the cache
// holds only the key/value heads.
func TestLlamaNextLogitsMatchesLogits(t *testing.T) { bothPaths(t, testLlamaNextLogits) }

func testLlamaNextLogits(t *testing.T) {
	g := reftest.LoadDir(t, reftest.LlamaDir())
	for _, lm := range llamaModels {
		m, err := Load(filepath.Join(reftest.LlamaDir(), lm.dir))
		require.NoError(t, err)
		seq := g.Ints(t, lm.name+".ids.T40")
		full := m.Logits(seq)
		cache, err := NewKVCache(m.Config, len(seq))
		require.NoError(t, err)
		assert.Len(t, cache.k[0], len(seq)*m.Config.KVDim(), "%s: the cache holds the key/value heads only", lm.name)
		pos := 0
		for _, n := range []int{5, 1, 1, 3, 7, 1, 22} {
			logits, err := m.NextLogits(cache, seq[pos:pos+n])
			require.NoError(t, err)
			pos += n
			numtest.AssertClose(t, fmt.Sprintf("%s NextLogits after %d ids", lm.name, pos), logits, full[pos-1], logitsTol)
		}
		require.Equal(t, len(seq), pos)
	}
}

// TestSaveLlamaSharded saves the tiny Llama with a small shard limit: the weights are
// split into shards with an index, as save_pretrained splits them, and load back.
func TestSaveLlamaSharded(t *testing.T) {
	m, err := Load(filepath.Join(reftest.LlamaDir(), "tiny-llama"))
	require.NoError(t, err)
	prev := maxShardBytes
	maxShardBytes = 100_000
	defer func() { maxShardBytes = prev }()
	dir := t.TempDir()
	require.NoError(t, m.Save(dir))
	assert.FileExists(t, filepath.Join(dir, "model.safetensors.index.json"))
	assert.NoFileExists(t, filepath.Join(dir, "model.safetensors"))
	m2, err := Load(dir)
	require.NoError(t, err)
	a, b := m.Params(), m2.Params()
	for i := range a {
		assert.Equal(t, Floats(a[i].Param), Floats(b[i].Param), a[i].Name)
	}
}

// TestLlamaGradientsDeterministic: two backward passes of fresh copies of the model give
// bit-identical gradients. ag.Backward runs the backward steps concurrently and adds a
// node's gradients in the order they arrive; without graphPass.share the input of q, k
// and v had three readers and its gradient depended on scheduling (resume was inexact).
func TestLlamaGradientsDeterministic(t *testing.T) {
	g := reftest.LoadDir(t, reftest.LlamaDir())
	b := Batch(g.BatchAt(t, "llama.batch"))
	grads := func() [][]float32 {
		m, err := Load(filepath.Join(reftest.LlamaDir(), "tiny-llama"))
		require.NoError(t, err)
		loss, err := m.Loss(b)
		require.NoError(t, err)
		require.NoError(t, ag.Backward(loss))
		var out [][]float32
		for _, p := range m.Params() {
			out = append(out, slices.Clone(Floats(p.Param.Grad())))
		}
		return out
	}
	want := grads()
	for run := range 6 {
		got := grads()
		for i := range want {
			require.Equal(t, want[i], got[i], "run %d, parameter %d", run+1, i)
		}
	}
}
