package lora

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/transformer"
	"github.com/llmtune/llmtune/transformer/safetensors"
)

// fuzzAdapter is one adapter_model.safetensors that FuzzLoad pairs with a fuzzed
// adapter_config.json, and the model it fits.
type fuzzAdapter struct {
	dir     string             // holds the weights; the fuzzed config is written beside them
	model   *transformer.Model // adapted by Load, restored after each input
	weights map[string][]float32
}

// fuzzAdapters returns FuzzLoad's adapters, each in its own directory under f's, with
// the seed configs that come with them: PEFT's own GPT-2 adapters (fused c_attn and
// mlp.c_proj of rank 3; a regex target_modules with RSLoRA and one layer), PEFT's Llama
// adapter (q_proj, v_proj, down_proj), and two that Save wrote (GPT-2 q/v as c_attn of
// rank 4 beside rank-2 modules, so with rank_pattern and alpha_pattern, on layer 1 with
// RSLoRA; Llama all-linear on layer 0).
func fuzzAdapters(f *testing.F) ([]fuzzAdapter, [][]byte) {
	gpt2 := filepath.Join(refDir, "tiny-f32")
	llama := filepath.Join(llamaDir, "tiny-llama")
	load := func(dir string) *transformer.Model {
		m, err := transformer.Load(dir)
		require.NoError(f, err)
		return m
	}
	var ads []fuzzAdapter
	var configs [][]byte
	add := func(model, src string) {
		dir := filepath.Join(f.TempDir(), filepath.Base(src))
		require.NoError(f, os.MkdirAll(dir, 0o755))
		config, err := os.ReadFile(filepath.Join(src, ConfigFile))
		require.NoError(f, err)
		weights, err := os.ReadFile(filepath.Join(src, WeightsFile))
		require.NoError(f, err)
		require.NoError(f, os.WriteFile(filepath.Join(dir, WeightsFile), weights, 0o644))
		ads = append(ads, fuzzAdapter{dir: dir, model: load(model), weights: readWeights(f, filepath.Join(dir, WeightsFile))})
		configs = append(configs, config)
	}
	add(gpt2, filepath.Join(refDir, "peft-r3"))
	add(gpt2, filepath.Join(refDir, "peft-r2-rslora"))
	add(llama, peftLlama)
	for i, c := range []struct {
		model string
		cfg   Config
	}{
		{gpt2, Config{Rank: 2, Alpha: 3, RSLoRA: true, Targets: []string{"q", "v", "o", "fc"}, Layers: []int{1}}},
		{llama, Config{Rank: 3, Alpha: 5, Dropout: 0.1, Targets: []string{"all-linear"}, Layers: []int{0}}},
	} {
		m := load(c.model)
		ad, err := Apply(m, c.cfg, rand.New(rand.NewPCG(uint64(i), 9)))
		require.NoError(f, err)
		rng := rand.New(rand.NewPCG(7, uint64(i)))
		for _, p := range ad.Params() {
			for j := range transformer.Floats(p.Param) {
				transformer.Floats(p.Param)[j] = float32(rng.NormFloat64())
			}
		}
		src := filepath.Join(f.TempDir(), "saved")
		require.NoError(f, ad.Save(src))
		add(c.model, src)
	}
	return ads, configs
}

// readWeights reads every tensor of a safetensors file.
func readWeights(tb testing.TB, path string) map[string][]float32 {
	tb.Helper()
	sf, err := safetensors.Open(path)
	require.NoError(tb, err)
	defer sf.Close()
	out := map[string][]float32{}
	for _, ti := range sf.Tensors() {
		out[ti.Name] = make([]float32, ti.NumElements())
		require.NoError(tb, sf.ReadFloat32(ti.Name, out[ti.Name]))
	}
	return out
}

// peftKeys are the adapter_config.json keys Load's errors name.
var peftKeys = []string{"peft_type", "r = ", "use_dora", "bias", "modules_to_save", "layer_replication",
	"target_modules", "layers_to_transform", "rank_pattern", "alpha_pattern", "lora_alpha", "lora_dropout"}

// FuzzLoad writes an arbitrary adapter_config.json beside a valid adapter_model.safetensors
// (one of fuzzAdapters, chosen by which) and loads the directory onto its model. It checks
// that Load never panics; that an error starts with "lora: load adapter DIR: ", names the
// config or weights file on its first line and a file or a config key on each other line,
// all printable text,
// and leaves the model unadapted; and that an adapter it accepts holds every tensor of the
// file (Load never drops one silently) with finite scalings, and is written by Save to a
// directory that Load reads back to the same layers, targets, weights and scalings. Seeded
// with the adapters' own configs; go test runs the seeds, go test -fuzz FuzzLoad searches
// for more.
func FuzzLoad(f *testing.F) {
	ads, configs := fuzzAdapters(f)
	for i, c := range configs {
		f.Add(uint8(i), c)
	}
	for _, s := range []string{
		`{"peft_type": "LORA", "r": 3, "lora_alpha": 6, "target_modules": "all-linear", "layers_to_transform": 0, "rank_pattern": {"h.1.mlp.c_proj": 3}, "alpha_pattern": {"c_attn": -2}}`,
		`{"peft_type": "LORA", "r": 3, "lora_alpha": 6, "target_modules": ["c_attn", "c_proj"], "layers_to_transform": [1, 0, 1], "alpha_pattern": {"h\\.0\\.attn\\.c_attn": 12}}`,
		`{"peft_type": "LORA", "r": 4, "lora_alpha": 1e300, "lora_dropout": 2, "target_modules": "model\\.layers\\.\\d+\\.(self_attn\\.[qv]|mlp\\.down)_proj", "use_rslora": true}`,
		`{"peft_type": "LORA", "r": 4, "target_modules": ["q_proj", "v_proj", "down_proj"], "rank_pattern": {"(": 2}, "layers_to_transform": []}`,
		`{"peft_type": "PREFIX_TUNING", "r": 0, "use_dora": true, "bias": "all", "modules_to_save": ["lm_head"], "layer_replication": [[0, 1]], "target_modules": 7, "layers_to_transform": "x"}`,
		`{"r": "3"}`, `null`, `[]`, `{`, "",
	} {
		for i := range ads {
			f.Add(uint8(i), []byte(s))
		}
	}

	f.Fuzz(func(t *testing.T, which uint8, config []byte) {
		fa := ads[int(which)%len(ads)]
		require.NoError(t, os.WriteFile(filepath.Join(fa.dir, ConfigFile), config, 0o644))
		ad, err := Load(fa.model, fa.dir)
		if err != nil {
			checkLoadError(t, fa, err)
			return
		}
		defer ad.remove()
		got := checkLoaded(t, fa, ad)

		// Save writes what Load read; Load reads it back the same.
		out := t.TempDir()
		if err := ad.Save(out); err != nil {
			t.Fatalf("Save of a loaded adapter: %v", err)
		}
		saved, _ := os.ReadFile(filepath.Join(out, ConfigFile))
		ad.remove()
		back, err := Load(fa.model, out)
		if err != nil {
			t.Fatalf("Load of what Save wrote: %v\nconfig %s\nwritten %s", err, config, saved)
		}
		defer back.remove()
		if !slices.Equal(back.Config.Targets, ad.Config.Targets) || !slices.Equal(back.Config.Layers, ad.Config.Layers) ||
			back.Config.RSLoRA != ad.Config.RSLoRA {
			t.Fatalf("config %+v written back as %+v\nconfig %s\nwritten %s", ad.Config, back.Config, config, saved)
		}
		again := loadedLayers(back)
		if len(again) != len(got) {
			t.Fatalf("%d layers written back as %d", len(got), len(again))
		}
		for i, l := range got {
			a := again[i]
			if a.proj != l.proj || !slices.Equal(a.a, l.a) || !slices.Equal(a.b, l.b) ||
				math.Abs(a.scaling-l.scaling) > 1e-12*math.Abs(l.scaling) {
				t.Fatalf("%v (scaling %g) written back as %v (scaling %g)\nconfig %s\nwritten %s", l.proj, l.scaling, a.proj, a.scaling, config, saved)
			}
		}
	})
}

// loadedLayer is what an adapter holds for one projection.
type loadedLayer struct {
	proj    transformer.Proj
	a, b    []float32
	scaling float64
}

// loadedLayers returns the layers of ad, each of one part as Load makes them, with copies
// of their weights.
func loadedLayers(ad *Adapter) []loadedLayer {
	var out []loadedLayer
	for _, l := range ad.Layers {
		for _, p := range l.Parts {
			out = append(out, loadedLayer{l.Proj, slices.Clone(transformer.Floats(p.A)), slices.Clone(transformer.Floats(p.B)), p.Scaling})
		}
	}
	return out
}

// checkLoaded checks an adapter Load accepted against the weights file, and returns its
// layers.
func checkLoaded(t *testing.T, fa fuzzAdapter, ad *Adapter) []loadedLayer {
	t.Helper()
	layers := loadedLayers(ad)
	if len(ad.Layers) == 0 || 2*len(layers) != len(fa.weights) {
		t.Fatalf("%d adapted projections (%d parts) from a file of %d tensors", len(ad.Layers), len(layers), len(fa.weights))
	}
	if ad.Config.Rank < 1 || len(ad.Config.Targets) == 0 {
		t.Fatalf("loaded config %+v", ad.Config)
	}
	prefix := peftPrefix + modulePrefix(fa.model.Config.IsLlama())
	for _, l := range layers {
		if math.IsNaN(l.scaling) || math.IsInf(l.scaling, 0) {
			t.Fatalf("%v: scaling %g", l.proj, l.scaling)
		}
		a, b := fa.weights[prefix+l.proj.String()+".lora_A.weight"], fa.weights[prefix+l.proj.String()+".lora_B.weight"]
		if !slices.Equal(a, l.a) || !slices.Equal(b, l.b) {
			t.Fatalf("%v: the loaded weights are not the file's", l.proj)
		}
	}
	return layers
}

// checkLoadError checks an error of Load: it names the directory, then the file on its
// first line, and a file or config key on each other; the model is left unadapted.
func checkLoadError(t *testing.T, fa fuzzAdapter, err error) {
	t.Helper()
	if checkUnadapted(fa.model) != nil {
		t.Fatalf("a failed Load (%v) left a LoRA layer in the model", err)
	}
	msg := err.Error()
	cfgPath, weightsPath := filepath.Join(fa.dir, ConfigFile), filepath.Join(fa.dir, WeightsFile)
	if !strings.HasPrefix(msg, "lora: load adapter "+fa.dir+": ") {
		t.Fatalf("error %q does not start with the directory", msg)
	}
	for i, line := range strings.Split(msg, "\n") {
		if strings.ContainsFunc(line, func(r rune) bool { return !strconv.IsPrint(r) }) {
			t.Fatalf("error line %q is not printable text (whole error: %s)", line, msg)
		}
		file := strings.Contains(line, cfgPath) || strings.Contains(line, weightsPath)
		key := slices.ContainsFunc(peftKeys, func(k string) bool { return strings.Contains(line, k) })
		if !file && (i == 0 || !key) {
			t.Fatalf("error line %q names no file%s (whole error: %s)", line, map[bool]string{true: "", false: " or config key"}[i == 0], msg)
		}
	}
}
