package transformer

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/internal/numtest"
	"github.com/llmtune/llmtune/transformer/safetensors"
)

func tinyConfig() Config {
	c := DefaultConfig()
	c.NumLayers, c.NumHeads, c.EmbedDim, c.MaxPositions, c.VocabSize = 2, 4, 16, 32, 50
	c.BOSTokenID, c.EOSTokenID = 49, 49
	return c
}

func TestNewGPT2SmallParamCount(t *testing.T) {
	// The shape of GPT-2 124M: 124,439,808 parameters with the LM head tied to wte.
	m, err := newZero(DefaultConfig())
	require.NoError(t, err)
	assert.Equal(t, 124_439_808, m.NumParams())
	assert.Len(t, m.Params(), 2+12*12+2)
}

func TestNewInit(t *testing.T) {
	cfg := tinyConfig()
	cfg.NumLayers = 8
	cfg.EmbedDim, cfg.VocabSize = 64, 500
	m, err := New(cfg, rand.New(rand.NewPCG(1, 2)))
	require.NoError(t, err)
	std := func(x []float32) float64 {
		var s float64
		for _, v := range x {
			s += float64(v) * float64(v)
		}
		return math.Sqrt(s / float64(len(x)))
	}
	assert.InDelta(t, 0.02, std(Floats(m.WTE)), 0.001)
	assert.InDelta(t, 0.02, std(Floats(BaseConv1D(m.Blocks[0].MLP.CFc).Weight)), 0.001)
	assert.InDelta(t, 0.02/4, std(Floats(BaseConv1D(m.Blocks[0].Attn.CProj).Weight)), 0.0005) // 0.02/√(2·8)
	assert.Equal(t, float32(1), Floats(m.LNF.(*LayerNorm).Weight)[3])
	assert.Equal(t, float32(0), Floats(BaseConv1D(m.Blocks[1].Attn.CAttn).Bias)[5])
	_, err = New(Config{}, rand.New(rand.NewPCG(1, 2)))
	assert.ErrorContains(t, err, "n_layer = 0")
}

func TestSaveLoadRoundTrip(t *testing.T) {
	m, err := New(tinyConfig(), rand.New(rand.NewPCG(3, 4)))
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "out")
	require.NoError(t, m.Save(dir))
	m2, err := Load(dir)
	require.NoError(t, err)
	assert.Equal(t, m.Config, m2.Config)
	ps, ps2 := m.Params(), m2.Params()
	require.Equal(t, len(ps), len(ps2))
	for i := range ps {
		assert.Equal(t, Floats(ps[i].Param), Floats(ps2[i].Param), ps[i].Name)
	}
	ids := []int{1, 5, 9, 49, 0}
	numtest.AssertClose(t, "logits after round trip", flatten(m2.Logits(ids)), flatten(m.Logits(ids)), 0)

	// The file is what GPT2LMHeadModel.save_pretrained writes: prefixed keys, 1-D
	// biases, no lm_head, metadata format "pt".
	f, err := safetensors.Open(filepath.Join(dir, WeightsFile))
	require.NoError(t, err)
	defer f.Close()
	info, ok := f.Tensor("transformer.h.1.attn.c_attn.weight")
	require.True(t, ok)
	assert.Equal(t, []int{16, 48}, info.Shape)
	assert.Equal(t, safetensors.F32, info.DType)
	info, ok = f.Tensor("transformer.h.0.ln_1.bias")
	require.True(t, ok)
	assert.Equal(t, []int{16}, info.Shape)
	_, ok = f.Tensor("lm_head.weight")
	assert.False(t, ok)
	assert.Equal(t, "pt", f.Metadata()["format"])
	raw, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	require.NoError(t, err)
	for _, want := range []string{`"model_type": "gpt2"`, `"n_inner": null`, `"n_embd": 16`, `"GPT2LMHeadModel"`, `"tie_word_embeddings": true`} {
		assert.Contains(t, string(raw), want)
	}
}

func TestSaveAsHalf(t *testing.T) {
	m, err := New(tinyConfig(), rand.New(rand.NewPCG(3, 4)))
	require.NoError(t, err)
	f32 := filepath.Join(t.TempDir(), "f32")
	require.NoError(t, m.Save(f32))
	for _, tc := range []struct {
		dtype safetensors.DType
		round func(float32) float32
	}{
		{safetensors.BF16, func(v float32) float32 { return safetensors.BFloat16ToFloat32(safetensors.Float32ToBFloat16(v)) }},
		{safetensors.F16, func(v float32) float32 { return safetensors.Float16ToFloat32(safetensors.Float32ToFloat16(v)) }},
	} {
		dir := filepath.Join(t.TempDir(), string(tc.dtype))
		require.NoError(t, m.SaveAs(dir, tc.dtype))
		f, err := safetensors.Open(filepath.Join(dir, WeightsFile))
		require.NoError(t, err)
		info, ok := f.Tensor("transformer.wte.weight")
		require.True(t, ok)
		assert.Equal(t, tc.dtype, info.DType)
		require.NoError(t, f.Close())
		half, err := os.Stat(filepath.Join(dir, WeightsFile))
		require.NoError(t, err)
		full, err := os.Stat(filepath.Join(f32, WeightsFile))
		require.NoError(t, err)
		assert.Less(t, half.Size(), full.Size()*6/10, "%s file is about half the F32 one", tc.dtype)

		// Load gives back each weight rounded to the dtype, exactly.
		m2, err := Load(dir)
		require.NoError(t, err)
		ps, ps2 := m.Params(), m2.Params()
		require.Equal(t, len(ps), len(ps2))
		for i := range ps {
			want := slices.Clone(Floats(ps[i].Param))
			for j, v := range want {
				want[j] = tc.round(v)
			}
			assert.Equal(t, want, Floats(ps2[i].Param), "%s %s", tc.dtype, ps[i].Name)
		}
	}
	assert.ErrorContains(t, m.SaveAs(t.TempDir(), safetensors.I32), "want F32, F16 or BF16")
}

func TestSaveLoadUntied(t *testing.T) {
	cfg := tinyConfig()
	cfg.UntiedLMHead = true
	cfg.InnerDim = 40
	m, err := New(cfg, rand.New(rand.NewPCG(5, 6)))
	require.NoError(t, err)
	require.NotNil(t, m.LMHead)
	dir := t.TempDir()
	require.NoError(t, m.Save(dir))
	m2, err := Load(dir)
	require.NoError(t, err)
	assert.Equal(t, 40, m2.Config.Inner())
	require.NotNil(t, m2.LMHead)
	assert.Equal(t, Floats(m.LMHead), Floats(m2.LMHead))
	ids := []int{3, 1, 4}
	numtest.AssertClose(t, "untied logits", flatten(m2.Logits(ids)), flatten(m.Logits(ids)), 0)
}

// checkpoint writes a copy of the reference F32 checkpoint into a temp dir after edit
// changes its tensors, and returns the dir.
func checkpoint(t *testing.T, edit func(ts []safetensors.Tensor) []safetensors.Tensor) string {
	t.Helper()
	src := filepath.Join(refDir, "tiny-f32")
	f, err := safetensors.Open(filepath.Join(src, WeightsFile))
	require.NoError(t, err)
	defer f.Close()
	var ts []safetensors.Tensor
	for _, info := range f.Tensors() {
		d := make([]float32, info.NumElements())
		require.NoError(t, f.ReadFloat32(info.Name, d))
		ts = append(ts, safetensors.Tensor{Name: info.Name, Shape: info.Shape, Data: d})
	}
	dir := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join(src, ConfigFile))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, ConfigFile), cfg, 0o644))
	require.NoError(t, safetensors.Write(filepath.Join(dir, WeightsFile), edit(ts), nil, safetensors.F16))
	return dir
}

func TestLoadF16AndUnprefixed(t *testing.T) {
	dir := checkpoint(t, func(ts []safetensors.Tensor) []safetensors.Tensor {
		for i := range ts {
			ts[i].Name = strings.TrimPrefix(ts[i].Name, "transformer.")
		}
		return ts
	})
	m, err := Load(dir)
	require.NoError(t, err)
	ref, err := Load(filepath.Join(refDir, "tiny-f32"))
	require.NoError(t, err)
	// F16 keeps 11 significant bits: the weights agree to about 1e-3 relative.
	numtest.AssertCloseRel(t, "wte from F16", Floats(m.WTE), Floats(ref.WTE), 1e-3)
}

func TestLoadBadCheckpoints(t *testing.T) {
	drop := func(name string) func([]safetensors.Tensor) []safetensors.Tensor {
		return func(ts []safetensors.Tensor) []safetensors.Tensor {
			return slices.DeleteFunc(ts, func(x safetensors.Tensor) bool { return x.Name == name })
		}
	}
	for _, c := range []struct {
		name string
		edit func([]safetensors.Tensor) []safetensors.Tensor
		want []string
	}{
		{"missing key", drop("transformer.h.1.mlp.c_fc.bias"), []string{"tensor h.1.mlp.c_fc.bias is missing"}},
		{"unknown key", func(ts []safetensors.Tensor) []safetensors.Tensor {
			return append(ts, safetensors.Tensor{Name: "transformer.h.0.attn.q_proj.weight", Shape: []int{2}, Data: []float32{1, 2}})
		}, []string{"tensor transformer.h.0.attn.q_proj.weight: unexpected"}},
		{"wrong shape", func(ts []safetensors.Tensor) []safetensors.Tensor {
			for i := range ts {
				if ts[i].Name == "transformer.h.0.attn.c_attn.weight" {
					ts[i].Shape = []int{192, 64} // transposed, as an nn.Linear would store it
				}
			}
			return ts
		}, []string{"tensor transformer.h.0.attn.c_attn.weight: shape [192 64], want [64 192]"}},
		{"duplicate with and without prefix", func(ts []safetensors.Tensor) []safetensors.Tensor {
			return append(ts, safetensors.Tensor{Name: "wpe.weight", Shape: []int{128, 64}, Data: make([]float32, 128*64)})
		}, []string{"duplicates"}},
		{"several problems at once", func(ts []safetensors.Tensor) []safetensors.Tensor {
			return drop("transformer.ln_f.bias")(drop("transformer.wte.weight")(ts))
		}, []string{"tensor wte.weight is missing", "tensor ln_f.bias is missing"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(checkpoint(t, c.edit))
			require.Error(t, err)
			assert.Contains(t, err.Error(), WeightsFile)
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestLoadCorruptFiles(t *testing.T) {
	good, err := os.ReadFile(filepath.Join(refDir, "tiny-f32", WeightsFile))
	require.NoError(t, err)
	cfg, err := os.ReadFile(filepath.Join(refDir, "tiny-f32", ConfigFile))
	require.NoError(t, err)
	hlen := binary.LittleEndian.Uint64(good)
	for _, c := range []struct {
		name    string
		weights []byte
		config  []byte
		want    string
	}{
		{"truncated data", good[:len(good)-100], cfg, "model.safetensors"},
		{"truncated header", good[:8+hlen/2], cfg, "model.safetensors"},
		{"empty file", nil, cfg, "model.safetensors"},
		{"corrupt header", append(append(slices.Clone(good[:8]), []byte("{not json")...), good[17:]...), cfg, "model.safetensors"},
		{"huge header length", append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, good[8:]...), cfg, "model.safetensors"},
		{"config not json", good, []byte("n_layer: 2"), "config.json"},
		{"config bad values", good, []byte(`{"n_layer": 2, "n_head": 5, "n_embd": 64, "vocab_size": 512, "n_positions": 128}`), "n_embd = 64 is not a multiple of n_head = 5"},
		{"config unsupported", good, []byte(`{"n_layer": 2, "n_head": 4, "n_embd": 64, "vocab_size": 512, "n_positions": 128, "activation_function": "relu"}`), `activation_function "relu" is not supported`},
		{"config other shape", good, []byte(`{"n_layer": 2, "n_head": 4, "n_embd": 64, "vocab_size": 500, "n_positions": 128}`), "tensor transformer.wte.weight: shape [512 64], want [500 64]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, WeightsFile), c.weights, 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(dir, ConfigFile), c.config, 0o644))
			_, err := Load(dir)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
	_, err = Load(filepath.Join(t.TempDir(), "nothing-here"))
	assert.ErrorContains(t, err, "config.json")
}

func TestParseConfigDefaults(t *testing.T) {
	c, err := ParseConfig([]byte(`{"n_layer": 3, "resid_pdrop": 0.1, "some_new_key": [1]}`))
	require.NoError(t, err)
	want := DefaultConfig()
	want.NumLayers = 3
	assert.Equal(t, want, c)
	assert.Equal(t, 3072, c.Inner())
	c, err = ParseConfig([]byte(`{"n_inner": 100, "tie_word_embeddings": false}`))
	require.NoError(t, err)
	assert.Equal(t, 100, c.Inner())
	assert.True(t, c.UntiedLMHead)
	_, err = ParseConfig([]byte(`{"scale_attn_by_inverse_layer_idx": true, "n_head": 0}`))
	require.Error(t, err)
	for _, w := range []string{"scale_attn_by_inverse_layer_idx", "n_head = 0"} {
		assert.Contains(t, err.Error(), w)
	}
	_, err = ParseConfig([]byte(`{"model_type": "mistral"}`))
	assert.ErrorContains(t, err, `model_type "mistral" is not supported`)
}
