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

// peftLlama is the PEFT adapter gen_reference.py wrote for tiny-llama: r 4, alpha 8 on
// q_proj, v_proj, down_proj, with llama.lora_init's A and B.
var peftLlama = filepath.Join(llamaDir, "peft-llama-r4")

func TestLoadPEFTLlama(t *testing.T) { bothPaths(t, testLoadPEFTLlama) }

// testLoadPEFTLlama loads PEFT's own adapter files onto tiny-llama and reproduces
// PyTorch's logits, unmerged and merged.
func testLoadPEFTLlama(t *testing.T) {
	g := reftest.LoadDir(t, llamaDir)
	m := loadLlama(t, "tiny-llama")
	ad, err := Load(m, peftLlama)
	require.NoError(t, err)
	require.Len(t, ad.Layers, 6)
	assert.Equal(t, Config{Rank: 4, Alpha: 8, Targets: []string{"q_proj", "v_proj", "down_proj"}}, ad.Config, "Load(tiny-llama, %s).Config", peftLlama)
	assert.Equal(t, "tiny-llama", ad.BaseModel)
	for _, l := range ad.Layers {
		assert.InDelta(t, 2, l.Parts[0].Scaling, 0, "%v scaling", l.Proj)
	}
	ids := g.Ints(t, "llama.ids.T7")
	want := g.Tensor(t, "llama.peft_logits.T7")
	numtest.AssertClose(t, "llama.peft_logits.T7", flatten(m.Logits(ids)), want, logitsTol)
	require.NoError(t, ad.Merge())
	numtest.AssertClose(t, "llama.peft_logits.T7 merged", flatten(m.Logits(ids)), want, logitsTol)
	for _, p := range m.Params() {
		assert.False(t, p.Param.RequiresGrad(), "%s not frozen", p.Name)
	}
}

// TestSaveLlamaIsPEFT saves the golden Llama adapter (the same A and B as peft-llama-r4)
// and finds PEFT's files: every key of adapter_config.json that Save writes has PEFT's
// value, and the tensors are PEFT's, names, shapes and values.
func TestSaveLlamaIsPEFT(t *testing.T) {
	g := reftest.LoadDir(t, llamaDir)
	_, ad := goldenLlamaAdapter(t, g, "llama", "tiny-llama")
	ad.BaseModel = "tiny-llama"
	dir := t.TempDir()
	require.NoError(t, ad.Save(dir))

	var got, want map[string]any
	raw, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &got))
	raw, err = os.ReadFile(filepath.Join(peftLlama, ConfigFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &want))
	assert.Equal(t, []any{"q_proj", "v_proj", "down_proj"}, got["target_modules"])
	assert.Equal(t, false, got["fan_in_fan_out"])
	for k, v := range got {
		w, ok := want[k]
		if !assert.True(t, ok, "Save wrote %s, which PEFT does not", k) {
			continue
		}
		assert.Equal(t, w, v, "adapter_config.json %s", k)
	}

	ours, theirs := readAll(t, filepath.Join(dir, WeightsFile)), readAll(t, filepath.Join(peftLlama, WeightsFile))
	byName := map[string]safetensors.Tensor{}
	for _, ts := range theirs {
		byName[ts.Name] = ts
	}
	require.Len(t, ours, len(theirs))
	for _, o := range ours {
		p, ok := byName[o.Name]
		if assert.True(t, ok, "Save wrote tensor %s, which PEFT does not", o.Name) {
			assert.Equal(t, p.Shape, o.Shape, o.Name)
			assert.Equal(t, p.Data, o.Data, o.Name)
		}
	}
	assert.Contains(t, byName, "base_model.model.model.layers.1.mlp.down_proj.lora_A.weight")
	assert.Equal(t, []int{4, 96}, byName["base_model.model.model.layers.1.mlp.down_proj.lora_A.weight"].Shape)
	assert.Equal(t, []int{32, 4}, byName["base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"].Shape) // 2 KV heads of 16
}

// TestSaveLoadLlama: Load of PEFT's adapter, Save and Load again gives the same adapter;
// an all-linear RSLoRA adapter on one Qwen2 block round-trips with its layers and targets.
func TestSaveLoadLlama(t *testing.T) {
	g := reftest.LoadDir(t, llamaDir)
	ids := g.Ints(t, "llama.ids.T7")
	m := loadLlama(t, "tiny-llama")
	ad, err := Load(m, peftLlama)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, ad.Save(dir))
	m2 := loadLlama(t, "tiny-llama")
	ad2, err := Load(m2, dir)
	require.NoError(t, err)
	assert.Equal(t, ad.Config, ad2.Config)
	assert.Equal(t, "tiny-llama", ad2.BaseModel)
	a, b := ad.Params(), ad2.Params()
	require.Equal(t, len(a), len(b))
	for i := range a {
		assert.Equal(t, a[i].Name, b[i].Name)
		assert.Equal(t, transformer.Floats(a[i].Param), transformer.Floats(b[i].Param), a[i].Name)
	}
	numtest.AssertClose(t, "logits after Load, Save, Load", flatten(m2.Logits(ids)), g.Tensor(t, "llama.peft_logits.T7"), logitsTol)

	q := loadLlama(t, "tiny-qwen2")
	qad, err := Apply(q, Config{Rank: 2, Alpha: 3, RSLoRA: true, Targets: []string{"all-linear"}, Layers: []int{1}}, rand.New(rand.NewPCG(5, 6)))
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(7, 8))
	for _, p := range qad.Params() {
		for i := range transformer.Floats(p.Param) {
			transformer.Floats(p.Param)[i] = float32(rng.NormFloat64() * 0.1)
		}
	}
	want := flatten(q.Logits(ids))
	dir = t.TempDir()
	require.NoError(t, qad.Save(dir))
	var cfg map[string]any
	raw, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &cfg))
	assert.Equal(t, []any{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}, cfg["target_modules"])
	assert.Equal(t, []any{1.0}, cfg["layers_to_transform"])
	assert.Equal(t, map[string]any{}, cfg["rank_pattern"])
	q2 := loadLlama(t, "tiny-qwen2")
	qad2, err := Load(q2, dir)
	require.NoError(t, err)
	assert.Equal(t, []int{1}, qad2.Config.Layers)
	assert.Equal(t, []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}, qad2.Config.Targets)
	numtest.AssertClose(t, "qwen2 all-linear after save/load", flatten(q2.Logits(ids)), want, 1e-5)
}

// TestLoadPEFTLlamaOptions: what PEFT's adapter_config.json may say for a Llama model
// and how it changes what Load builds.
func TestLoadPEFTLlamaOptions(t *testing.T) {
	for _, c := range []struct {
		name    string
		config  func(map[string]any)
		tensors func([]safetensors.Tensor) []safetensors.Tensor
		check   func(t *testing.T, ad *Adapter)
	}{
		{"regex target_modules", func(c map[string]any) { c["target_modules"] = `model\.layers\.\d+\.(self_attn\.[qv]|mlp\.down)_proj` }, nil,
			func(t *testing.T, ad *Adapter) { assert.Len(t, ad.Layers, 6) }},
		{"all-linear", func(c map[string]any) { c["target_modules"] = "all-linear" }, nil,
			func(t *testing.T, ad *Adapter) { assert.Len(t, ad.Layers, 6) }},
		{"full module paths", func(c map[string]any) {
			c["target_modules"] = []string{"self_attn.q_proj", "self_attn.v_proj", "mlp.down_proj"}
		}, nil, func(t *testing.T, ad *Adapter) { assert.Len(t, ad.Layers, 6) }},
		{"alpha_pattern", func(c map[string]any) { c["alpha_pattern"] = map[string]any{"v_proj": 16} }, nil,
			func(t *testing.T, ad *Adapter) {
				for _, l := range ad.Layers {
					want := 2.0
					if l.Proj.Kind == transformer.SelfAttnVProj {
						want = 4
					}
					assert.InDelta(t, want, l.Parts[0].Scaling, 0, "%v scaling", l.Proj)
				}
			}},
		{"layers_to_transform", func(c map[string]any) { c["layers_to_transform"] = 1 }, func(ts []safetensors.Tensor) []safetensors.Tensor {
			var out []safetensors.Tensor
			for _, t := range ts {
				if strings.Contains(t.Name, ".layers.1.") {
					out = append(out, t)
				}
			}
			return out
		}, func(t *testing.T, ad *Adapter) {
			assert.Len(t, ad.Layers, 3)
			assert.Equal(t, []int{1}, ad.Config.Layers)
		}},
		{"keys without model.", nil, func(ts []safetensors.Tensor) []safetensors.Tensor {
			for i := range ts {
				ts[i].Name = strings.Replace(ts[i].Name, "base_model.model.model.", "base_model.model.", 1)
			}
			return ts
		}, func(t *testing.T, ad *Adapter) { assert.Len(t, ad.Layers, 6) }},
		{"fan_in_fan_out true", func(c map[string]any) { c["fan_in_fan_out"] = true }, nil, // PEFT resets it for nn.Linear
			func(t *testing.T, ad *Adapter) { assert.Len(t, ad.Layers, 6) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeAdapter(t, peftLlama, c.config, c.tensors)
			ad, err := Load(loadLlama(t, "tiny-llama"), dir)
			require.NoError(t, err)
			c.check(t, ad)
		})
	}
}

// TestLoadBadLlamaAdapters: an adapter of the other family, or one that does not fit a
// Llama model, is an error naming the file and the tensor, and leaves the model as it was.
func TestLoadBadLlamaAdapters(t *testing.T) {
	for _, c := range []struct {
		name    string
		src     string
		model   func(t *testing.T) *transformer.Model
		config  func(map[string]any)
		tensors func([]safetensors.Tensor) []safetensors.Tensor
		want    string
	}{
		{"gpt2 adapter on llama", filepath.Join(refDir, "peft-r3"), func(t *testing.T) *transformer.Model { return loadLlama(t, "tiny-llama") }, nil, nil,
			"tensor base_model.model.transformer.h.0.attn.c_attn.lora_A.weight: an adapter of a GPT-2 module, but this is a llama model\n" +
				filepath.Join("DIR", WeightsFile) + ": and 7 more tensors of GPT-2 modules"},
		{"llama adapter on gpt2", peftLlama, loadTiny, nil, nil,
			"tensor base_model.model.model.layers.0.mlp.down_proj.lora_A.weight: an adapter of a Llama-family module, but this is a gpt2 model\n" +
				filepath.Join("DIR", WeightsFile) + ": and 11 more tensors of Llama-family modules"},
		{"llama adapter on qwen2", peftLlama, func(t *testing.T) *transformer.Model { return loadLlama(t, "tiny-qwen2") }, nil, nil,
			"module layers.0.mlp.down_proj: lora_A [4 96] and lora_B [64 4], want [4 128] and [64 4]"},
		{"rank_pattern", peftLlama, nil, func(c map[string]any) { c["rank_pattern"] = map[string]any{"down_proj": 2} }, nil,
			"module layers.1.mlp.down_proj: lora_A [4 96] and lora_B [64 4], want [2 96] and [64 2] (r = 2; base 96 → 64)"},
		{"not in target_modules", peftLlama, nil, func(c map[string]any) { c["target_modules"] = []string{"q_proj", "v_proj"} }, nil,
			"module layers.0.mlp.down_proj is not selected by target_modules/layers_to_transform"},
		{"regex not matching", peftLlama, nil, func(c map[string]any) { c["target_modules"] = `.*\.q_proj` }, nil,
			"module layers.0.self_attn.v_proj is not selected"},
		{"layers_to_transform", peftLlama, nil, func(c map[string]any) { c["layers_to_transform"] = []int{0} }, nil,
			"tensor base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight: module layers.1.self_attn.q_proj is not selected"},
		{"gpt2 path before llama module", peftLlama, nil, nil, func(ts []safetensors.Tensor) []safetensors.Tensor {
			ts[0].Name = strings.Replace(ts[0].Name, "base_model.model.model.", "base_model.model.transformer.", 1)
			return ts
		}, "unexpected (want base_model.model.model.layers.{i}.{self_attn.q_proj|self_attn.k_proj|self_attn.v_proj|self_attn.o_proj|mlp.gate_proj|mlp.up_proj|mlp.down_proj}.lora_{A|B}.weight)"},
		{"layer beyond model", peftLlama, nil, nil, func(ts []safetensors.Tensor) []safetensors.Tensor {
			for i := range ts {
				ts[i].Name = strings.Replace(ts[i].Name, ".layers.1.", ".layers.5.", 1)
			}
			return ts
		}, "layer 5, but the model has 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeAdapter(t, c.src, c.config, c.tensors)
			load := c.model
			if load == nil {
				load = func(t *testing.T) *transformer.Model { return loadLlama(t, "tiny-llama") }
			}
			m := load(t)
			_, err := Load(m, dir)
			require.Error(t, err)
			assert.Contains(t, err.Error(), strings.ReplaceAll(c.want, "DIR", dir))
			assert.Contains(t, err.Error(), filepath.Join(dir, WeightsFile))
			assert.NoError(t, checkUnadapted(m), "a failed Load left a LoRA layer in the model")
		})
	}
}

// writeAdapter copies the adapter in src to a new directory, changing its config and
// tensors with the functions that are not nil, and returns the directory.
func writeAdapter(t *testing.T, src string, config func(map[string]any), tensors func([]safetensors.Tensor) []safetensors.Tensor) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(src, ConfigFile))
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, json.Unmarshal(raw, &cfg))
	if config != nil {
		config(cfg)
	}
	out, err := json.Marshal(cfg)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, ConfigFile), out, 0o644))
	ts := readAll(t, filepath.Join(src, WeightsFile))
	if tensors != nil {
		ts = tensors(ts)
	}
	require.NoError(t, safetensors.Write(filepath.Join(dir, WeightsFile), ts, nil, safetensors.F32))
	return dir
}
