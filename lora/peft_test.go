package lora

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/internal/numtest"
	"github.com/llmtune/llmtune/internal/reftest"
	"github.com/llmtune/llmtune/transformer"
	"github.com/llmtune/llmtune/transformer/safetensors"
)

// TestLoadPEFT loads the adapters PyTorch wrote in PEFT's format (fused c_attn, another
// rank; a regex target_modules with RSLoRA and layers_to_transform) and reproduces the
// reference logits, unmerged and merged.
func TestLoadPEFT(t *testing.T) {
	g := reftest.Load(t)
	for _, c := range []struct {
		dir, logits string
		layers      int
		scaling     float64
	}{
		{"peft-r3", "peft_r3_logits.T33", 4, 2},
		{"peft-r2-rslora", "peft_r2_rslora_logits.T33", 1, 4 / 1.4142135623730951},
	} {
		t.Run(c.dir, func(t *testing.T) {
			m := loadTiny(t)
			ad, err := Load(m, filepath.Join(refDir, c.dir))
			require.NoError(t, err)
			require.Len(t, ad.Layers, c.layers)
			assert.InDelta(t, c.scaling, ad.Layers[0].Parts[0].Scaling, 1e-12)
			want := g.Tensor(t, c.logits)
			numtest.AssertClose(t, c.dir+" logits", flatten(m.Logits(g.Ints(t, "ids.T33"))), want, 2e-5)
			require.NoError(t, ad.Merge())
			numtest.AssertClose(t, c.dir+" merged logits", flatten(m.Logits(g.Ints(t, "ids.T33"))), want, 2e-5)
			for _, p := range m.Params() {
				assert.False(t, p.Param.RequiresGrad(), "%s not frozen", p.Name)
			}
		})
	}
}

// TestSaveQVAsFusedCAttn checks that a q/v adapter of rank r is written exactly as PEFT's
// c_attn adapter of rank 2r with lora_alpha 2α, and that Load of it gives the same logits.
func TestSaveQVAsFusedCAttn(t *testing.T) {
	g := reftest.Load(t)
	m, ad := goldenAdapter(t, g)
	ad.BaseModel = "testdata/reference/tiny-f32"
	dir := t.TempDir()
	require.NoError(t, ad.Save(dir))

	var cfg map[string]any
	raw, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &cfg))
	assert.Equal(t, "LORA", cfg["peft_type"])
	assert.Equal(t, "CAUSAL_LM", cfg["task_type"])
	assert.Equal(t, 8.0, cfg["r"])
	assert.Equal(t, 16.0, cfg["lora_alpha"])
	assert.Equal(t, []any{"c_attn"}, cfg["target_modules"])
	assert.Equal(t, true, cfg["fan_in_fan_out"])
	assert.Equal(t, "none", cfg["bias"])
	assert.Equal(t, false, cfg["use_rslora"])
	assert.Equal(t, "testdata/reference/tiny-f32", cfg["base_model_name_or_path"])

	f, err := safetensors.Open(filepath.Join(dir, WeightsFile))
	require.NoError(t, err)
	defer f.Close()
	require.Len(t, f.Tensors(), 4)
	C := 64
	for i := range 2 {
		key := "base_model.model.transformer.h." + string(rune('0'+i)) + ".attn.c_attn."
		a, b := make([]float32, 8*C), make([]float32, 3*C*8)
		infoA, ok := f.Tensor(key + "lora_A.weight")
		require.True(t, ok)
		assert.Equal(t, []int{8, C}, infoA.Shape)
		infoB, ok := f.Tensor(key + "lora_B.weight")
		require.True(t, ok)
		assert.Equal(t, []int{3 * C, 8}, infoB.Shape)
		require.NoError(t, f.ReadFloat32(infoA.Name, a))
		require.NoError(t, f.ReadFloat32(infoB.Name, b))
		q, v := ad.Layers[i].Parts[0], ad.Layers[i].Parts[1]
		assert.Equal(t, transformer.Floats(q.A), a[:4*C], "A' rows 0..r = A_q")
		assert.Equal(t, transformer.Floats(v.A), a[4*C:], "A' rows r..2r = A_v")
		for row := range 3 * C {
			for col := range 8 {
				var want float32
				switch {
				case row < C && col < 4:
					want = transformer.Floats(q.B)[row*4+col]
				case row >= 2*C && col >= 4:
					want = transformer.Floats(v.B)[(row-2*C)*4+col-4]
				}
				require.Equal(t, want, b[row*8+col], "B'[%d][%d]", row, col)
			}
		}
	}

	m2 := loadTiny(t)
	ad2, err := Load(m2, dir)
	require.NoError(t, err)
	assert.Equal(t, "testdata/reference/tiny-f32", ad2.BaseModel)
	numtest.AssertClose(t, "logits after save/load", flatten(m2.Logits(g.Ints(t, "ids.T33"))), flatten(m.Logits(g.Ints(t, "ids.T33"))), 1e-5)
}

// TestSaveLoadMixedTargets round-trips an adapter whose c_attn rank differs from the
// other modules' (rank_pattern/alpha_pattern), with RSLoRA and a subset of layers.
func TestSaveLoadMixedTargets(t *testing.T) {
	m := loadTiny(t)
	ad, err := Apply(m, Config{Rank: 2, Alpha: 3, RSLoRA: true, Targets: []string{"q", "v", "o", "fc"}, Layers: []int{1}}, rand.New(rand.NewPCG(5, 6)))
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(7, 8))
	for _, p := range ad.Params() {
		for i := range transformer.Floats(p.Param) {
			transformer.Floats(p.Param)[i] = float32(rng.NormFloat64() * 0.1)
		}
	}
	ids := []int{5, 4, 3, 2, 1, 100, 200}
	want := flatten(m.Logits(ids))
	dir := t.TempDir()
	require.NoError(t, ad.Save(dir))
	raw, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	require.NoError(t, err)
	for _, s := range []string{`"rank_pattern": {` + "\n" + `    "c_attn": 4`, `"layers_to_transform": [` + "\n" + `    1`, `"use_rslora": true`} {
		assert.Contains(t, string(raw), s)
	}
	m2 := loadTiny(t)
	ad2, err := Load(m2, dir)
	require.NoError(t, err)
	assert.Equal(t, []int{1}, ad2.Config.Layers)
	assert.Equal(t, []string{"c_attn", "attn.c_proj", "c_fc"}, ad2.Config.Targets)
	numtest.AssertClose(t, "mixed targets after save/load", flatten(m2.Logits(ids)), want, 1e-5)
}

// TestSaveLayerSpecificPattern: an adapter loaded with an alpha_pattern for one layer's
// module keeps each layer's scaling through Save and Load (found by FuzzLoad: Save keyed
// the pattern by the target name, giving every layer the last layer's alpha).
func TestSaveLayerSpecificPattern(t *testing.T) {
	dir := writeAdapter(t, filepath.Join(refDir, "peft-r3"), func(c map[string]any) {
		c["alpha_pattern"] = map[string]any{`h\.0\.attn\.c_attn`: 12}
	}, nil)
	m := loadTiny(t)
	ad, err := Load(m, dir)
	require.NoError(t, err)
	scalings := func(ad *Adapter) map[string]float64 {
		out := map[string]float64{}
		for _, l := range ad.Layers {
			out[l.Proj.String()] = l.Parts[0].Scaling
		}
		return out
	}
	want := map[string]float64{"h.0.attn.c_attn": 4, "h.0.mlp.c_proj": 2, "h.1.attn.c_attn": 2, "h.1.mlp.c_proj": 2}
	require.Equal(t, want, scalings(ad))
	ids := []int{5, 4, 3, 2, 1, 100, 200}
	logits := flatten(m.Logits(ids))
	out := t.TempDir()
	require.NoError(t, ad.Save(out))
	m2 := loadTiny(t)
	ad2, err := Load(m2, out)
	require.NoError(t, err)
	assert.Equal(t, want, scalings(ad2))
	numtest.AssertClose(t, "logits after save/load", flatten(m2.Logits(ids)), logits, 1e-6)
}

// TestLoadBadAdapters: an adapter that does not fit the model, or uses what is not
// supported, is an error saying so, and leaves the model as it was.
func TestLoadBadAdapters(t *testing.T) {
	src := filepath.Join(refDir, "peft-r3")
	raw, err := os.ReadFile(filepath.Join(src, ConfigFile))
	require.NoError(t, err)
	for _, c := range []struct {
		name    string
		config  func(map[string]any)
		tensors func([]safetensors.Tensor) []safetensors.Tensor
		want    string
	}{
		{"dora", func(c map[string]any) { c["use_dora"] = true }, nil, "DoRA"},
		{"bias", func(c map[string]any) { c["bias"] = "lora_only" }, nil, `bias "lora_only" is not supported`},
		{"prefix tuning", func(c map[string]any) { c["peft_type"] = "PREFIX_TUNING" }, nil, `peft_type "PREFIX_TUNING"`},
		{"modules_to_save", func(c map[string]any) { c["modules_to_save"] = []string{"lm_head"} }, nil, "modules_to_save"},
		{"rank mismatch", func(c map[string]any) { c["r"] = 4 }, nil, "lora_A [3 64] and lora_B [192 3], want [4 64] and [192 4]"},
		{"target not selected", func(c map[string]any) { c["target_modules"] = []string{"c_attn"} }, nil, "module h.0.mlp.c_proj is not selected"},
		{"bad regex", func(c map[string]any) { c["target_modules"] = "(" }, nil, "target_modules"},
		{"layer beyond model", nil, func(ts []safetensors.Tensor) []safetensors.Tensor {
			for i := range ts {
				ts[i].Name = strings.Replace(ts[i].Name, "h.1.", "h.7.", 1)
			}
			return ts
		}, "layer 7, but the model has 2"},
		{"unexpected tensor", nil, func(ts []safetensors.Tensor) []safetensors.Tensor {
			return append(ts, safetensors.Tensor{Name: "base_model.model.lm_head.weight", Shape: []int{1}, Data: []float32{0}})
		}, "tensor base_model.model.lm_head.weight: unexpected"},
		{"missing B", nil, func(ts []safetensors.Tensor) []safetensors.Tensor {
			return ts[:len(ts)-1]
		}, "has lora_A or lora_B but not both"},
		{"wrong base width", nil, func(ts []safetensors.Tensor) []safetensors.Tensor {
			for i := range ts {
				if strings.HasSuffix(ts[i].Name, "h.0.attn.c_attn.lora_A.weight") {
					ts[i].Shape, ts[i].Data = []int{3, 32}, ts[i].Data[:96]
				}
			}
			return ts
		}, "want [3 64]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			var cfg map[string]any
			require.NoError(t, json.Unmarshal(raw, &cfg))
			if c.config != nil {
				c.config(cfg)
			}
			out, err := json.Marshal(cfg)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, ConfigFile), out, 0o644))
			ts := readAll(t, filepath.Join(src, WeightsFile))
			if c.tensors != nil {
				ts = c.tensors(ts)
			}
			require.NoError(t, safetensors.Write(filepath.Join(dir, WeightsFile), ts, nil, safetensors.F32))
			m := loadTiny(t)
			_, err = Load(m, dir)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			assert.Contains(t, err.Error(), dir)
			for _, b := range m.Blocks {
				_, plain := b.Attn.CAttn.(*transformer.Conv1D)
				assert.True(t, plain, "a failed Load left a LoRA layer in the model")
			}
		})
	}
	_, err = Load(loadTiny(t), t.TempDir())
	assert.ErrorContains(t, err, ConfigFile)
}

func readAll(t *testing.T, path string) []safetensors.Tensor {
	t.Helper()
	f, err := safetensors.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var ts []safetensors.Tensor
	for _, info := range f.Tensors() {
		d := make([]float32, info.NumElements())
		require.NoError(t, f.ReadFloat32(info.Name, d))
		ts = append(ts, safetensors.Tensor{Name: info.Name, Shape: info.Shape, Data: d})
	}
	return ts
}

func TestParseKey(t *testing.T) {
	cAttn0 := transformer.Proj{Layer: 0, Kind: transformer.AttnCAttn}
	for _, tt := range []struct {
		key  string
		proj transformer.Proj
		ab   string
		ok   bool
	}{
		{"base_model.model.transformer.h.0.attn.c_attn.lora_A.weight", cAttn0, "A", true},
		{"base_model.model.h.0.attn.c_attn.lora_B.weight", cAttn0, "B", true},
		{"base_model.model.transformer.h.0.attn.c_attn.lora_A.default.weight", cAttn0, "A", true},
		{"base_model.model.transformer.h.12.mlp.c_proj.lora_B.weight", transformer.Proj{Layer: 12, Kind: transformer.MLPCProj}, "B", true},
		{"base_model.model.transformer.h.0.attn.c_attn.lora_C.weight", transformer.Proj{}, "", false},
		{"base_model.model.transformer.h.0.attn.c_attn.lora_A.bias", transformer.Proj{}, "", false},
		{"base_model.model.transformer.h.0.attn.c_attn.weight", transformer.Proj{}, "", false},
		{"base_model.model.transformer.h.x.attn.c_attn.lora_A.weight", transformer.Proj{}, "", false},
		{"model.transformer.h.0.attn.c_attn.lora_A.weight", transformer.Proj{}, "", false},
		{"base_model.model.lm_head.weight", transformer.Proj{}, "", false},
		{"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", transformer.Proj{Layer: 0, Kind: transformer.SelfAttnQProj}, "A", true},
		{"base_model.model.layers.3.mlp.down_proj.lora_B.default.weight", transformer.Proj{Layer: 3, Kind: transformer.MLPDownProj}, "B", true},
		{"base_model.model.model.layers.1.mlp.gate_proj.lora_B.weight", transformer.Proj{Layer: 1, Kind: transformer.MLPGateProj}, "B", true},
		{"base_model.model.transformer.layers.0.self_attn.q_proj.lora_A.weight", transformer.Proj{}, "", false},
		{"base_model.model.model.h.0.attn.c_attn.lora_A.weight", transformer.Proj{}, "", false},
		{"base_model.model.model.h.0.self_attn.q_proj.lora_A.weight", transformer.Proj{}, "", false},
		{"base_model.model.model.layers.0.q_proj.lora_A.weight", transformer.Proj{}, "", false},
	} {
		proj, ab, ok := parseKey(tt.key)
		assert.Equal(t, tt.ok, ok, "parseKey(%q) ok", tt.key)
		if tt.ok {
			assert.Equal(t, tt.proj, proj, "parseKey(%q) projection", tt.key)
			assert.Equal(t, tt.ab, ab, "parseKey(%q) matrix", tt.key)
		}
	}
}
