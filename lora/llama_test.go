package lora

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/nn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/internal/numtest"
	"github.com/llmtune/llmtune/internal/reftest"
	"github.com/llmtune/llmtune/trainer/optim"
	"github.com/llmtune/llmtune/transformer"
)

// The Llama-family golden files come from testdata/llama/gen_reference.py (PyTorch, from
// Hugging Face's modeling_llama.py and modeling_qwen2.py): LoRA r=4, alpha=8 on q_proj,
// v_proj and down_proj of a tiny Llama (grouped-query attention, tied head) and a tiny
// Qwen2 (q/k/v biases, BF16 checkpoint), with B drawn non-zero so that A has a gradient.
var llamaDir = reftest.LlamaDir()

// llamaModels are the Llama-family models under test: their golden-file prefix and
// checkpoint directory.
var llamaModels = []struct{ name, dir string }{
	{"llama", "tiny-llama"},
	{"qwen2", "tiny-qwen2"},
}

// Tolerances against PyTorch: logits and losses absolute, gradients and AdamW weights
// relative to the largest element of each tensor, merged weights absolute.
const (
	logitsTol = 2e-5
	lossTol   = 1e-5
	gradTol   = 1e-4
	adamTol   = 1e-3
	mergedTol = 1e-6
)

var bothPaths = reftest.BothPaths

func loadLlama(t *testing.T, dir string) *transformer.Model {
	t.Helper()
	m, err := transformer.Load(filepath.Join(llamaDir, dir))
	require.NoError(t, err)
	return m
}

// llamaLoRA is the golden adapter's configuration as expected.json records it.
type llamaLoRA struct {
	R       int      `json:"r"`
	Alpha   float64  `json:"alpha"`
	Targets []string `json:"target_modules"`
	Modules []string `json:"modules"` // HF module names, "model.layers.0.self_attn.q_proj"
}

// goldenLlamaAdapter loads the model of prefix name from dir, applies the reference's
// LoRA (r 4, alpha 8 on q_proj, v_proj, down_proj) and sets A and B to the reference's
// initial values.
func goldenLlamaAdapter(t *testing.T, g *reftest.Golden, name, dir string) (*transformer.Model, *Adapter) {
	t.Helper()
	var ref llamaLoRA
	g.Decode(t, name+".lora", &ref)
	m := loadLlama(t, dir)
	ad, err := Apply(m, Config{Rank: ref.R, Alpha: ref.Alpha, Targets: ref.Targets}, rand.New(rand.NewPCG(1, 1)))
	require.NoError(t, err)
	var mods []string
	for _, l := range ad.Layers {
		mods = append(mods, "model."+l.Proj.String())
		require.IsType(t, &transformer.Dense{}, l.Base(), "base of %v", l.Proj)
	}
	require.Equal(t, ref.Modules, mods, "adapted modules of %s", name)
	for _, p := range ad.Params() {
		copy(transformer.Floats(p.Param), g.Tensor(t, name+".lora_init.model."+p.Name))
	}
	return m, ad
}

func TestGoldenLlamaLoRA(t *testing.T) { bothPaths(t, testGoldenLlamaLoRA) }

// testGoldenLlamaLoRA: logits, loss and every adapter gradient against PyTorch; the base
// stays frozen; greedy decoding reproduces the reference ids.
func testGoldenLlamaLoRA(t *testing.T) {
	g := reftest.LoadDir(t, llamaDir)
	for _, lm := range llamaModels {
		t.Run(lm.name, func(t *testing.T) {
			m, ad := goldenLlamaAdapter(t, g, lm.name, lm.dir)
			ids := g.Ints(t, lm.name+".ids.T7")
			numtest.AssertClose(t, lm.name+".lora_logits.T7", flatten(m.Logits(ids)), g.Tensor(t, lm.name+".lora_logits.T7"), logitsTol)

			loss, err := m.Loss(transformer.Batch(g.BatchAt(t, lm.name+".batch")))
			require.NoError(t, err)
			assert.InDelta(t, g.Float(t, lm.name+".lora_loss"), float64(transformer.Floats(loss)[0]), lossTol, "%s lora loss", lm.name)
			require.NoError(t, ag.Backward(loss))
			for _, p := range ad.Params() {
				require.True(t, p.Param.HasGrad(), "%s has no gradient", p.Name)
				name := lm.name + ".lora_grad.model." + p.Name
				numtest.AssertCloseRel(t, name, transformer.Floats(p.Param.Grad()), g.Tensor(t, name), gradTol)
			}
			for _, p := range m.Params() {
				assert.False(t, p.Param.HasGrad(), "frozen base parameter %s got a gradient", p.Name)
			}

			var greedy struct{ Prompt, IDs []int }
			g.Decode(t, lm.name+".lora_greedy", &greedy)
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
			assert.Equal(t, greedy.IDs, seq[len(greedy.Prompt):], "%s greedy ids", lm.name)
		})
	}
}

func TestGoldenLlamaMergeUnmerge(t *testing.T) { bothPaths(t, testGoldenLlamaMergeUnmerge) }

// testGoldenLlamaMergeUnmerge: W (out, in) += s·B·A gives PyTorch's merged weights and the
// same logits; Unmerge restores the weights up to float32 rounding.
func testGoldenLlamaMergeUnmerge(t *testing.T) {
	g := reftest.LoadDir(t, llamaDir)
	for _, lm := range llamaModels {
		t.Run(lm.name, func(t *testing.T) {
			m, ad := goldenLlamaAdapter(t, g, lm.name, lm.dir)
			base := map[string][]float32{}
			for _, p := range m.Params() {
				base[p.Name] = append([]float32(nil), transformer.Floats(p.Param)...)
			}
			ids := g.Ints(t, lm.name+".ids.T7")
			want := g.Tensor(t, lm.name+".lora_logits.T7")
			unmerged := flatten(m.Logits(ids))

			require.NoError(t, ad.Merge())
			assert.True(t, ad.Merged())
			assert.Error(t, ad.Merge(), "merging twice")
			for _, l := range ad.Layers {
				name := lm.name + ".lora_merged.model." + l.Proj.String() + ".weight"
				numtest.AssertClose(t, name, transformer.Floats(l.Base().(*transformer.Dense).Weight), g.Tensor(t, name), mergedTol)
			}
			numtest.AssertClose(t, "merged logits", flatten(m.Logits(ids)), unmerged, 1e-5)
			numtest.AssertClose(t, "merged logits vs reference", flatten(m.Logits(ids)), want, logitsTol)

			require.NoError(t, ad.Unmerge())
			assert.False(t, ad.Merged())
			assert.Error(t, ad.Unmerge(), "unmerging twice")
			for _, p := range m.Params() {
				numtest.AssertClose(t, "unmerged "+p.Name, transformer.Floats(p.Param), base[p.Name], 1e-6)
			}
			numtest.AssertClose(t, "unmerged logits", flatten(m.Logits(ids)), want, logitsTol)
		})
	}
}

func TestGoldenLlamaAdamW(t *testing.T) { bothPaths(t, testGoldenLlamaAdamW) }

// testGoldenLlamaAdamW runs 3 AdamW steps on the adapter as gen_reference.py does (lr,
// betas, eps and weight decay from expected.json) and compares the losses before each
// step and after the last, and the adapter's weights after 3 steps.
func testGoldenLlamaAdamW(t *testing.T) {
	g := reftest.LoadDir(t, llamaDir)
	for _, lm := range llamaModels {
		t.Run(lm.name, func(t *testing.T) {
			var adam struct {
				LR          float64   `json:"lr"`
				Betas       []float64 `json:"betas"`
				Eps         float64   `json:"eps"`
				WeightDecay float64   `json:"weight_decay"`
			}
			g.Decode(t, lm.name+".adamw", &adam)
			var losses []float64
			g.Decode(t, lm.name+".lora_adamw_losses", &losses)
			require.Len(t, losses, 4)

			m, ad := goldenLlamaAdapter(t, g, lm.name, lm.dir)
			batch := transformer.Batch(g.BatchAt(t, lm.name+".batch"))
			var params []*nn.Param
			for _, p := range ad.Params() {
				params = append(params, p.Param)
			}
			opt := optim.NewAdamW(params, optim.Config{AdamBeta1: adam.Betas[0], AdamBeta2: adam.Betas[1], AdamEpsilon: adam.Eps, WeightDecay: adam.WeightDecay})
			for step := range 4 {
				opt.ZeroGrad()
				loss, err := m.Loss(batch)
				require.NoError(t, err)
				assert.InDelta(t, losses[step], float64(transformer.Floats(loss)[0]), lossTol, "%s loss before step %d", lm.name, step+1)
				if step == 3 {
					break
				}
				require.NoError(t, ag.Backward(loss))
				opt.Step(adam.LR)
			}
			for _, p := range ad.Params() {
				name := lm.name + ".lora_adamw3.model." + p.Name
				numtest.AssertCloseRel(t, name, transformer.Floats(p.Param), g.Tensor(t, name), adamTol)
			}
		})
	}
}

func TestMergeRefusesNaNDense(t *testing.T) {
	g := reftest.LoadDir(t, llamaDir)
	m, ad := goldenLlamaAdapter(t, g, "llama", "tiny-llama")
	transformer.Floats(ad.Layers[4].Parts[0].A)[5] = float32(math.Inf(-1)) // layers.1.self_attn.v_proj
	q0 := transformer.Base(m.Linear(transformer.Proj{Layer: 0, Kind: transformer.SelfAttnQProj})).(*transformer.Dense)
	before := append([]float32(nil), transformer.Floats(q0.Weight)...)
	err := ad.Merge()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "layers.1.self_attn.v_proj")
	assert.Contains(t, err.Error(), "Inf")
	assert.False(t, ad.Merged())
	assert.Equal(t, before, transformer.Floats(q0.Weight), "a failed merge changed weights")
}

// TestApplyLlamaTargets: what each target name adapts in a Llama-family model.
func TestApplyLlamaTargets(t *testing.T) {
	q, k, v, o := transformer.SelfAttnQProj, transformer.SelfAttnKProj, transformer.SelfAttnVProj, transformer.SelfAttnOProj
	gate, up, down := transformer.MLPGateProj, transformer.MLPUpProj, transformer.MLPDownProj
	for _, tt := range []struct {
		targets []string
		want    []transformer.ProjKind // in each block
	}{
		{nil, []transformer.ProjKind{q, v}}, // DefaultTargets: PEFT's q_proj, v_proj
		{[]string{"q", "k", "v", "o"}, []transformer.ProjKind{q, k, v, o}},
		{[]string{"down_proj", "q_proj", "self_attn.v_proj"}, []transformer.ProjKind{q, v, down}},
		{[]string{"q", "q_proj", "self_attn.q_proj"}, []transformer.ProjKind{q}},
		{[]string{"mlp.gate_proj", "up_proj", "o_proj", "self_attn.k_proj", "mlp.down_proj"}, []transformer.ProjKind{k, o, gate, up, down}},
		{[]string{"all-linear"}, []transformer.ProjKind{q, k, v, o, gate, up, down}},
	} {
		m := loadLlama(t, "tiny-qwen2")
		cfg := Config{Rank: 2, Alpha: 4, Targets: tt.targets}
		ad, err := Apply(m, cfg, rand.New(rand.NewPCG(1, 2)))
		require.NoError(t, err, "Apply(qwen2, %+v, rng)", cfg)
		var got []transformer.Proj
		for _, l := range ad.Layers {
			got = append(got, l.Proj)
			require.Len(t, l.Parts, 1)
			assert.Equal(t, [2]int{0, l.OutDim()}, [2]int{l.Parts[0].Lo, l.Parts[0].Hi}, "Apply(qwen2, %+v, rng): %v part", cfg, l.Proj)
		}
		var want []transformer.Proj
		for i := range m.Config.NumLayers {
			for _, k := range tt.want {
				want = append(want, transformer.Proj{Layer: i, Kind: k})
			}
		}
		assert.Equal(t, want, got, "Apply(qwen2, %+v, rng): adapted projections", cfg)
	}
}

// TestApplyGPT2AllLinear: all-linear in GPT-2 is c_attn (whole), attn.c_proj, mlp.c_fc
// and mlp.c_proj, PEFT's linear layers but the head.
func TestApplyGPT2AllLinear(t *testing.T) {
	m := loadTiny(t)
	ad, err := Apply(m, Config{Rank: 2, Alpha: 4, Targets: []string{"all-linear"}, Layers: []int{1}}, rand.New(rand.NewPCG(1, 2)))
	require.NoError(t, err)
	var got []string
	for _, l := range ad.Layers {
		got = append(got, l.Proj.String())
		require.Len(t, l.Parts, 1)
		assert.Equal(t, "", l.Parts[0].Name, "%v part", l.Proj)
	}
	assert.Equal(t, []string{"h.1.attn.c_attn", "h.1.attn.c_proj", "h.1.mlp.c_fc", "h.1.mlp.c_proj"}, got)
}

// TestApplyWrongFamily: a target of one family only on a model of the other is an error
// naming it and the model's family, reported with every other problem, changing nothing.
func TestApplyWrongFamily(t *testing.T) {
	for _, tt := range []struct {
		name string
		load func(t *testing.T) *transformer.Model
		cfg  Config
		want string
	}{
		{"gpt2 names on llama", func(t *testing.T) *transformer.Model { return loadLlama(t, "tiny-llama") },
			Config{Rank: 4, Alpha: 8, Targets: []string{"o", "c_attn", "fc", "mlp.c_proj"}},
			"lora: apply: " + `target_modules: "c_attn" is a GPT-2 module; this is a llama model` + "\n" +
				`target_modules: "fc" is a GPT-2 module; this is a llama model` + "\n" +
				`target_modules: "mlp.c_proj" is a GPT-2 module; this is a llama model`},
		{"gpt2 name on qwen2", func(t *testing.T) *transformer.Model { return loadLlama(t, "tiny-qwen2") },
			Config{Rank: 4, Alpha: 8, Targets: []string{"proj"}, Layers: []int{2}},
			"lora: apply: " + `target_modules: "proj" is a GPT-2 module; this is a qwen2 model` + "\n" +
				"layers_to_transform: layer 2 is outside the model's 2 blocks"},
		{"llama names on gpt2", loadTiny,
			Config{Rank: 0, Alpha: 8, Targets: []string{"v", "q_proj", "mlp.down_proj"}},
			"lora: apply: r: must be ≥ 1, got 0\n" +
				`target_modules: "q_proj" is a Llama-family module; this is a gpt2 model` + "\n" +
				`target_modules: "mlp.down_proj" is a Llama-family module; this is a gpt2 model`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.load(t)
			_, err := Apply(m, tt.cfg, rand.New(rand.NewPCG(1, 1)))
			assert.EqualError(t, err, tt.want, "Apply(m, %+v, rng)", tt.cfg)
			assert.NoError(t, checkUnadapted(m), "after a failed Apply(m, %+v, rng)", tt.cfg)
		})
	}
}

// TestApplyInitDense: on Dense projections A ~ U(−1/√in, 1/√in) and B = 0 leave the
// output unchanged, the base is frozen, and a second Apply is refused.
func TestApplyInitDense(t *testing.T) {
	m := loadLlama(t, "tiny-llama")
	ids := []int{1, 2, 3, 4}
	before := flatten(m.Logits(ids))
	ad, err := Apply(m, Config{Rank: 8, Alpha: 16, Targets: []string{"all-linear"}}, rand.New(rand.NewPCG(3, 4)))
	require.NoError(t, err)
	require.Len(t, ad.Layers, 14)
	down := ad.Layers[6] // layers.0.mlp.down_proj: in = 96
	require.Equal(t, transformer.Proj{Layer: 0, Kind: transformer.MLPDownProj}, down.Proj)
	assert.Equal(t, []int{8, 96}, down.Parts[0].A.Shape())
	assert.Equal(t, []int{64, 8}, down.Parts[0].B.Shape())
	maxA := 0.0
	for _, v := range transformer.Floats(down.Parts[0].A) {
		maxA = math.Max(maxA, math.Abs(float64(v)))
	}
	assert.LessOrEqual(t, maxA, 1/math.Sqrt(96))
	assert.Greater(t, maxA, 0.9/math.Sqrt(96))
	numtest.AssertClose(t, "logits with B = 0", flatten(m.Logits(ids)), before, 0)
	for _, p := range m.Params() {
		assert.False(t, p.Param.RequiresGrad(), "%s is not frozen", p.Name)
	}
	assert.Equal(t, "layers.0.mlp.down_proj.lora_A.weight", ad.Params()[12].Name)
	_, err = Apply(m, Config{Rank: 8, Alpha: 16}, rand.New(rand.NewPCG(3, 4)))
	assert.ErrorIs(t, err, ErrAlreadyAdapted)
}

// TestParamCountLlama pins PEFT's count for SmolLM2-135M (a LlamaForCausalLM: 30 layers,
// hidden 576, 9 heads over 3 KV heads, tied head) with r=8 on the default targets, q_proj
// and v_proj.
func TestParamCountLlama(t *testing.T) {
	cfg := transformer.Config{Arch: transformer.Llama, NumLayers: 30, NumHeads: 9, NumKVHeads: 3, EmbedDim: 576, InnerDim: 1536,
		MaxPositions: 8192, VocabSize: 49152, LayerNormEps: 1e-5, Activation: "silu", RopeTheta: 1e5}
	m, err := transformer.New(cfg, nil)
	require.NoError(t, err)
	ad, err := Apply(m, DefaultConfig(), rand.New(rand.NewPCG(1, 2)))
	require.NoError(t, err)
	assert.Equal(t, 460_800, ad.NumTrainable())
	assert.Equal(t, "trainable params: 460,800 || all params: 134,975,808 || trainable%: 0.3414", ad.Report())
}
