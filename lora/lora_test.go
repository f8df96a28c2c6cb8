package lora

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nlpodyssey/spago/ag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/llmtune/llmtune/internal/numtest"
	"github.com/llmtune/llmtune/internal/reftest"
	"github.com/llmtune/llmtune/transformer"
)

// The golden files come from testdata/gen_reference.py (PyTorch).
var refDir = reftest.Dir()

var flatten = reftest.Flatten

// batch is the reference training batch.
func batch(t *testing.T, g *reftest.Golden) transformer.Batch {
	return transformer.Batch(g.Batch(t))
}

func loadTiny(t *testing.T) *transformer.Model {
	t.Helper()
	m, err := transformer.Load(filepath.Join(refDir, "tiny-f32"))
	require.NoError(t, err)
	return m
}

// goldenAdapter applies r=4, alpha=8 LoRA on q and v to the reference model and sets its
// weights to the reference's initial A and B.
func goldenAdapter(t *testing.T, g *reftest.Golden) (*transformer.Model, *Adapter) {
	t.Helper()
	m := loadTiny(t)
	ad, err := Apply(m, Config{Rank: 4, Alpha: 8}, rand.New(rand.NewPCG(1, 1)))
	require.NoError(t, err)
	require.Len(t, ad.Params(), 8)
	for _, p := range ad.Params() {
		copy(transformer.Floats(p.Param), g.Tensor(t, "lora_init."+p.Name))
	}
	return m, ad
}

func TestGoldenLoRA(t *testing.T) {
	g := reftest.Load(t)
	m, ad := goldenAdapter(t, g)
	want := g.Tensor(t, "lora_logits.T33")
	numtest.AssertClose(t, "lora logits", flatten(m.Logits(g.Ints(t, "ids.T33"))), want, 2e-5)

	loss, err := m.Loss(batch(t, g))
	require.NoError(t, err)
	assert.InDelta(t, g.Float(t, "lora_loss"), float64(loss.Value().Item().F32()), 1e-5, "lora loss")
	require.NoError(t, ag.Backward(loss))
	for _, p := range ad.Params() {
		require.True(t, p.Param.HasGrad(), "%s has no gradient", p.Name)
		numtest.AssertCloseRel(t, "grad "+p.Name, transformer.Floats(p.Param.Grad()), g.Tensor(t, "lora_grad."+p.Name), 1e-4)
	}
	for _, p := range m.Params() {
		assert.False(t, p.Param.HasGrad(), "frozen base parameter %s got a gradient", p.Name)
	}

	// Greedy decoding with the adapter reproduces the reference ids.
	var greedy struct{ Prompt, IDs []int }
	g.Decode(t, "lora_greedy", &greedy)
	seq := append([]int(nil), greedy.Prompt...)
	for range greedy.IDs {
		last := m.Logits(seq)[len(seq)-1]
		best := 0
		for i, v := range last {
			if v > last[best] {
				best = i
			}
		}
		seq = append(seq, best)
	}
	assert.Equal(t, greedy.IDs, seq[len(greedy.Prompt):], "greedy ids")
}

func TestGoldenMergeUnmerge(t *testing.T) {
	g := reftest.Load(t)
	m, ad := goldenAdapter(t, g)
	base := map[string][]float32{}
	for _, p := range m.Params() {
		base[p.Name] = append([]float32(nil), transformer.Floats(p.Param)...)
	}
	unmerged := flatten(m.Logits(g.Ints(t, "ids.T33")))

	require.NoError(t, ad.Merge())
	assert.True(t, ad.Merged())
	assert.Error(t, ad.Merge(), "merging twice")
	for i := range 2 {
		name := "h." + string(rune('0'+i)) + ".attn.c_attn.weight"
		c := transformer.BaseConv1D(m.Blocks[i].Attn.CAttn)
		numtest.AssertClose(t, "merged "+name, transformer.Floats(c.Weight), g.Tensor(t, "lora_merged."+name), 1e-6)
	}
	numtest.AssertClose(t, "merged logits", flatten(m.Logits(g.Ints(t, "ids.T33"))), unmerged, 1e-5)
	numtest.AssertClose(t, "merged logits vs reference", flatten(m.Logits(g.Ints(t, "ids.T33"))), g.Tensor(t, "lora_logits.T33"), 2e-5)

	require.NoError(t, ad.Unmerge())
	assert.Error(t, ad.Unmerge(), "unmerging twice")
	for _, p := range m.Params() {
		numtest.AssertClose(t, "unmerged "+p.Name, transformer.Floats(p.Param), base[p.Name], 1e-6)
	}
	numtest.AssertClose(t, "unmerged logits", flatten(m.Logits(g.Ints(t, "ids.T33"))), unmerged, 1e-5)
}

func TestMergeRefusesNaN(t *testing.T) {
	g := reftest.Load(t)
	m, ad := goldenAdapter(t, g)
	transformer.Floats(ad.Layers[1].Parts[1].B)[3] = float32(math.NaN())
	before := append([]float32(nil), transformer.Floats(transformer.BaseConv1D(m.Blocks[0].Attn.CAttn).Weight)...)
	err := ad.Merge()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "h.1.attn.c_attn")
	assert.Contains(t, err.Error(), "NaN")
	assert.False(t, ad.Merged())
	assert.Equal(t, before, transformer.Floats(transformer.BaseConv1D(m.Blocks[0].Attn.CAttn).Weight), "a failed merge changed weights")
}

// TestParamCount pins PEFT's count for GPT-2 124M with r=4 on q and v.
func TestParamCount(t *testing.T) {
	m, err := transformer.New(transformer.DefaultConfig(), nil)
	require.NoError(t, err)
	ad, err := Apply(m, Config{Rank: 4, Alpha: 8}, rand.New(rand.NewPCG(1, 2)))
	require.NoError(t, err)
	assert.Equal(t, 147_456, ad.NumTrainable())
	assert.Equal(t, "trainable params: 147,456 || all params: 124,587,264 || trainable%: 0.1184", ad.Report()) // PEFT rounds 0.118356 with {:.4f}
}

func TestApplyInit(t *testing.T) {
	m := loadTiny(t)
	before := flatten(m.Logits([]int{1, 2, 3}))
	ad, err := Apply(m, Config{Rank: 8, Alpha: 16, Targets: []string{"q", "k", "v", "o", "fc", "proj"}, Layers: []int{1}}, rand.New(rand.NewPCG(3, 4)))
	require.NoError(t, err)
	require.Len(t, ad.Layers, 4) // c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj of block 1
	assert.Equal(t, transformer.Proj{Layer: 1, Kind: transformer.AttnCAttn}, ad.Layers[0].Proj)
	require.Len(t, ad.Layers[0].Parts, 3)
	assert.Equal(t, [2]int{64, 128}, [2]int{ad.Layers[0].Parts[1].Lo, ad.Layers[0].Parts[1].Hi}) // k
	// A ~ U(−1/√in, 1/√in), B = 0: the output is unchanged.
	a := transformer.Floats(ad.Layers[2].Parts[0].A) // mlp.c_fc: in = 64
	maxA := 0.0
	for _, v := range a {
		maxA = math.Max(maxA, math.Abs(float64(v)))
	}
	assert.LessOrEqual(t, maxA, 1/math.Sqrt(64))
	assert.Greater(t, maxA, 0.9/math.Sqrt(64))
	numtest.AssertClose(t, "logits with B = 0", flatten(m.Logits([]int{1, 2, 3})), before, 0)
	for _, p := range m.Params() {
		assert.False(t, p.Param.RequiresGrad(), "%s is not frozen", p.Name)
	}
	_, err = Apply(m, Config{Rank: 8, Alpha: 16}, rand.New(rand.NewPCG(3, 4)))
	assert.ErrorIs(t, err, ErrAlreadyAdapted)
}

func TestConfigValidate(t *testing.T) {
	allowed := "(allowed: q, k, v, o, fc, proj, c_attn, attn.c_attn, c_proj, attn.c_proj, c_fc, mlp.c_fc, mlp.c_proj, " +
		"q_proj, self_attn.q_proj, k_proj, self_attn.k_proj, v_proj, self_attn.v_proj, o_proj, self_attn.o_proj, " +
		"gate_proj, mlp.gate_proj, up_proj, mlp.up_proj, down_proj, mlp.down_proj, all-linear)"
	valid := Config{Rank: 4, Alpha: 8}
	for _, tt := range []struct {
		name string
		edit func(c *Config)
		want []string // every message, in order; none means valid
	}{
		{"minimal", func(c *Config) {}, nil},
		{"every option", func(c *Config) {
			*c = Config{Rank: 1, Alpha: 0.5, Dropout: 0.99, Targets: []string{"c_attn", "o", "fc", "proj"}, RSLoRA: true, Layers: []int{3, 0}}
		}, nil},
		{"llama names", func(c *Config) {
			c.Targets = []string{"q_proj", "self_attn.k_proj", "v", "o_proj", "gate_proj", "mlp.up_proj", "down_proj"}
		}, nil},
		{"all-linear", func(c *Config) { c.Targets = []string{"all-linear"} }, nil},
		{"names of both families", func(c *Config) { c.Targets = []string{"c_attn", "q_proj"} }, nil}, // Apply checks the family
		{"all-linear and more", func(c *Config) { c.Targets = []string{"o", "all-linear"} },
			[]string{"target_modules: all-linear already adapts every linear layer; list it alone"}},
		{"all-linear twice", func(c *Config) { c.Targets = []string{"all-linear", "all-linear"} },
			[]string{`target_modules: module "all-linear" listed twice`}},
		{"rank", func(c *Config) { c.Rank = 0 }, []string{"r: must be ≥ 1, got 0"}},
		{"alpha", func(c *Config) { c.Alpha = -1 }, []string{"alpha: must be > 0, got -1"}},
		{"alpha NaN", func(c *Config) { c.Alpha = math.NaN() }, []string{"alpha: must be > 0, got NaN"}},
		{"alpha Inf", func(c *Config) { c.Alpha = math.Inf(1) }, []string{"alpha: must be > 0, got +Inf"}},
		{"dropout", func(c *Config) { c.Dropout = 1 }, []string{"dropout: must be in [0, 1), got 1"}},
		{"unknown target", func(c *Config) { c.Targets = []string{"q", "query"} },
			[]string{`target_modules: unknown module "query" ` + allowed}},
		{"target twice", func(c *Config) { c.Targets = []string{"q", "v", "q"} },
			[]string{`target_modules: module "q" listed twice`}},
		{"c_attn and q", func(c *Config) { c.Targets = []string{"v", "c_attn"} },
			[]string{"target_modules: c_attn and q/k/v overlap: c_attn already adapts q, k and v together"}},
		{"negative layer", func(c *Config) { c.Layers = []int{-1} }, []string{"layers_to_transform: layer -1: must be ≥ 0"}},
		{"layer twice", func(c *Config) { c.Layers = []int{1, 0, 1} }, []string{"layers_to_transform: layer 1 listed twice"}},
		{"all at once", func(c *Config) {
			*c = Config{Rank: 0, Alpha: 0, Dropout: -0.5, Targets: []string{"q", "c_attn", "query"}, Layers: []int{0, 0}}
		}, []string{
			"r: must be ≥ 1, got 0",
			"alpha: must be > 0, got 0",
			"dropout: must be in [0, 1), got -0.5",
			`target_modules: unknown module "query" ` + allowed,
			"target_modules: c_attn and q/k/v overlap: c_attn already adapts q, k and v together",
			"layers_to_transform: layer 0 listed twice",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.edit(&c)
			err := c.Validate()
			if tt.want == nil {
				assert.NoError(t, err, "%+v.Validate()", c)
				return
			}
			if assert.Error(t, err, "%+v.Validate()", c) {
				assert.Equal(t, strings.Join(tt.want, "\n"), err.Error(), "%+v.Validate()", c)
			}
		})
	}
	assert.InDelta(t, 2.0, Config{Rank: 4, Alpha: 8}.Scaling(), 0, "Scaling of r 4, alpha 8")
	assert.InDelta(t, 4.0, Config{Rank: 4, Alpha: 8, RSLoRA: true}.Scaling(), 0, "Scaling of r 4, alpha 8 with RSLoRA")
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	assert.Equal(t, Config{Rank: 8, Alpha: 8, Targets: []string{"q", "v"}}, c, "DefaultConfig()")
	assert.NoError(t, c.Validate(), "DefaultConfig().Validate()")
	c.Targets[0] = "k"
	assert.Equal(t, []string{"q", "v"}, DefaultTargets, "changing DefaultConfig().Targets changed DefaultTargets")
}

// TestConfigYAML decodes an adapter mapping as a recipe writes it over DefaultConfig.
func TestConfigYAML(t *testing.T) {
	c := DefaultConfig()
	doc := "r: 16\nalpha: 32\ndropout: 0.05\ntarget_modules: [q, k, v, o]\nrslora: true\nlayers_to_transform: [0, 2]\n"
	require.NoError(t, yaml.Unmarshal([]byte(doc), &c))
	assert.Equal(t, Config{Rank: 16, Alpha: 32, Dropout: 0.05, Targets: []string{"q", "k", "v", "o"}, RSLoRA: true, Layers: []int{0, 2}}, c,
		"yaml.Unmarshal(%q, &DefaultConfig())", doc)
	out, err := yaml.Marshal(c)
	require.NoError(t, err)
	var back Config
	require.NoError(t, yaml.Unmarshal(out, &back))
	assert.Equal(t, c, back, "yaml.Unmarshal(yaml.Marshal(%+v))", c)
}

// TestApplyRefusesBadConfig: Apply reports what Validate reports and the layers the
// model does not have, and leaves the model as it was.
func TestApplyRefusesBadConfig(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{Rank: 4, Alpha: 8, Layers: []int{1, 2, 5}},
			"lora: apply: layers_to_transform: layer 2 is outside the model's 2 blocks\nlayers_to_transform: layer 5 is outside the model's 2 blocks"},
		{Config{Rank: 0, Alpha: 8, Layers: []int{2}}, "lora: apply: r: must be ≥ 1, got 0\nlayers_to_transform: layer 2 is outside the model's 2 blocks"},
	} {
		m := loadTiny(t)
		_, err := Apply(m, tt.cfg, rand.New(rand.NewPCG(1, 1)))
		assert.EqualError(t, err, tt.want, "Apply(m, %+v, rng)", tt.cfg)
		for _, p := range m.Projections() {
			assert.IsType(t, &transformer.Conv1D{}, m.Linear(p), "after a failed Apply(m, %+v, rng): m.Linear(%v)", tt.cfg, p)
		}
	}
}

func TestDropout(t *testing.T) {
	g := reftest.Load(t)
	m := loadTiny(t)
	ad, err := Apply(m, Config{Rank: 4, Alpha: 8, Dropout: 0.5}, rand.New(rand.NewPCG(1, 1)))
	require.NoError(t, err)
	for _, p := range ad.Params() {
		copy(transformer.Floats(p.Param), g.Tensor(t, "lora_init."+p.Name))
	}
	ids := g.Ints(t, "ids.T33")
	eval := flatten(m.Logits(ids))
	numtest.AssertClose(t, "dropout off in evaluation", eval, g.Tensor(t, "lora_logits.T33"), 2e-5)
	ad.SetTraining(true)
	train := flatten(m.Logits(ids))
	d, _ := numtest.Compare(train, eval, 0, false)
	assert.Greater(t, d.MaxAbs, 1e-3, "dropout changed nothing in training")
	ad.SetTraining(false)
	numtest.AssertClose(t, "dropout off again", flatten(m.Logits(ids)), eval, 0)

	// In training, gradients still flow only to the adapter and are finite.
	ad.SetTraining(true)
	loss, err := m.Loss(batch(t, g))
	require.NoError(t, err)
	require.NoError(t, ag.Backward(loss))
	for _, p := range ad.Params() {
		require.True(t, p.Param.HasGrad())
		for _, v := range transformer.Floats(p.Param.Grad()) {
			require.False(t, math.IsNaN(float64(v)))
		}
	}
}

// TestDropoutState: restoring the generator state repeats the same masks.
func TestDropoutState(t *testing.T) {
	m := loadTiny(t)
	ad, err := Apply(m, Config{Rank: 2, Alpha: 2, Dropout: 0.3}, rand.New(rand.NewPCG(9, 9)))
	require.NoError(t, err)
	for _, p := range ad.Params() {
		for i := range transformer.Floats(p.Param) {
			transformer.Floats(p.Param)[i] = 0.1
		}
	}
	ad.SetTraining(true)
	ids := []int{1, 2, 3, 4}
	m.Logits(ids)
	st, err := ad.DropoutState()
	require.NoError(t, err)
	a := flatten(m.Logits(ids))
	b := flatten(m.Logits(ids))
	d, _ := numtest.Compare(a, b, 0, false)
	assert.Greater(t, d.MaxAbs, 0.0, "two draws of dropout gave the same output")
	require.NoError(t, ad.SetDropoutState(st))
	numtest.AssertClose(t, "after restoring the dropout state", flatten(m.Logits(ids)), a, 0)
}
