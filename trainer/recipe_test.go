package trainer

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/internal/reftest"
	"github.com/llmtune/llmtune/lora"
	"github.com/llmtune/llmtune/trainer/dataset"
	"github.com/llmtune/llmtune/trainer/optim"
	"github.com/llmtune/llmtune/transformer"
	"github.com/llmtune/llmtune/transformer/generate"
)

// minimal is the least a recipe must say.
const minimal = `base_model: models/gpt2
output_dir: runs/x
data:
  train: data/train.jsonl
`

// TestLoadRecipeDesign loads testdata/trainer/recipe.yaml, the documented schema with
// every key set, and checks every key arrived.
func TestLoadRecipeDesign(t *testing.T) {
	r, err := LoadRecipe(filepath.Join("..", "testdata", "trainer", "recipe.yaml"))
	require.NoError(t, err)
	want := Recipe{
		BaseModel: "testdata/models/tiny-en-es",
		BaseDType: transformer.WeightBF16,
		OutputDir: "runs/translate",
		Seed:      42,
		Adapter: &AdapterConfig{Type: AdapterLoRA, Config: lora.Config{Rank: 8, Alpha: 16, Dropout: 0.05,
			Targets: []string{"q", "v"}, Layers: []int{0, 1}}},
		Data: dataset.Config{Train: "testdata/translate/train.jsonl", Eval: "testdata/translate/valid.jsonl",
			Format: dataset.FormatSourceTarget, Template: "English: {source}\nSpanish: {target}",
			MaxSeqLen: 128, Packing: true, ShuffleBuffer: 10000},
		Train: TrainConfig{Epochs: 3, BatchSize: 8, GradientAccumulationSteps: 1,
			Config: optim.Config{LearningRate: 2e-3, LRScheduler: optim.SchedulerCosine, WarmupSteps: 20,
				AdamBeta1: 0.9, AdamBeta2: 0.999, AdamEpsilon: 1e-8, MaxGradNorm: 1},
			LogSteps: 10, EvalSteps: 50, SaveSteps: 100, SaveTotalLimit: 3},
		Eval: EvalConfig{Metrics: []Metric{MetricLoss, MetricPerplexity, MetricBLEU, MetricChrF}, MaxExamples: 200},
		Generation: generate.Options{MaxNewTokens: 64, TopP: 1, RepetitionPenalty: 1,
			Stop: []string{"\n"}},
	}
	assert.Equal(t, &want, r)
}

func TestParseRecipeDefaults(t *testing.T) {
	r, err := ParseRecipe([]byte(minimal), "r.yaml")
	require.NoError(t, err)
	want := DefaultRecipe()
	want.BaseModel, want.OutputDir, want.Data.Train = "models/gpt2", "runs/x", "data/train.jsonl"
	assert.Equal(t, &want, r)
	assert.Nil(t, r.Adapter, "no adapter key: full fine-tuning")

	tests := []struct {
		adapter string
		want    *AdapterConfig
	}{
		{"adapter: {}", &AdapterConfig{Type: AdapterLoRA, Config: lora.Config{Rank: 8, Alpha: 8, Targets: []string{"q", "v"}}}},
		{"adapter:\n  r: 4\n  target_modules: [c_attn]", &AdapterConfig{Type: AdapterLoRA, Config: lora.Config{Rank: 4, Alpha: 8, Targets: []string{"c_attn"}}}},
		{"adapter: null", nil},
		{"adapter:", nil},
	}
	for _, tt := range tests {
		r, err := ParseRecipe([]byte(minimal+tt.adapter+"\n"), "r.yaml")
		require.NoError(t, err, "ParseRecipe(%q)", tt.adapter)
		assert.Equal(t, tt.want, r.Adapter, "ParseRecipe(%q).Adapter", tt.adapter)
	}
}

// TestParseRecipeErrors: strict decoding reports every unknown key, bad enum value and
// wrong type at once, each with file and line.
func TestParseRecipeErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // lines of the error, in order
	}{
		{"unknown key", minimal + "train:\n  learnin_rate: 1e-3\n", []string{
			`r.yaml:6: unknown key "train.learnin_rate" (known keys in train: epochs, max_steps, batch_size, ` +
				`gradient_accumulation_steps, learning_rate, lr_scheduler, warmup_steps, warmup_ratio, weight_decay, ` +
				`adam_beta1, adam_beta2, adam_epsilon, max_grad_norm, log_steps, eval_steps, save_steps, save_total_limit, resume_from_checkpoint)`}},
		{"unknown top-level key", "lora_r: 8\n" + minimal, []string{
			`r.yaml:1: unknown key "lora_r" (known keys: base_model, from_scratch, base_dtype, output_dir, overwrite_output_dir, seed, adapter, data, train, eval, generation)`}},
		{"bad enums", minimal + "  format: jsonl\ntrain:\n  lr_scheduler: cosine_with_restarts\neval:\n  metrics: [loss, rouge]\n", []string{
			`r.yaml:5: data.format: unknown value "jsonl" (allowed: text, prompt_completion, source_target, messages)`,
			`r.yaml:7: train.lr_scheduler: unknown value "cosine_with_restarts" (allowed: constant, linear, cosine)`,
			`r.yaml:9: eval.metrics: unknown value "rouge" (allowed: loss, perplexity, bleu, chrf)`}},
		{"adapter type", minimal + "adapter:\n  type: ia3\n", []string{
			`r.yaml:6: adapter.type: unknown value "ia3" (allowed: lora)`}},
		{"wrong types", minimal + "seed: -1\ntrain:\n  batch_size: eight\n  epochs: 1.5\nadapter:\n  target_modules: q\n", []string{
			"r.yaml:5: seed: cannot unmarshal !!int `-1` into uint64",
			"r.yaml:7: train.batch_size: cannot unmarshal !!str `eight` into int",
			"r.yaml:8: train.epochs: cannot unmarshal !!float `1.5` into int",
			"r.yaml:10: adapter.target_modules: cannot unmarshal !!str `q` into []string"}},
		{"not a mapping", minimal + "train: fast\n", []string{
			`r.yaml:5: train: want a mapping of keys, got str "fast"`}},
		{"duplicate key", minimal + "seed: 1\nseed: 2\n", []string{
			`r.yaml:6: duplicate key "seed" (first at line 5)`}},
		{"top level", "- a\n- b\n", []string{`r.yaml:1: recipe must be a mapping of keys, got a list`}},
		{"two documents", minimal + "---\nseed: 1\n", []string{`recipe r.yaml: more than one YAML document`}},
		{"syntax", "base_model: [a\n", []string{`recipe r.yaml: yaml: line 1: did not find expected ',' or ']'`}},
	}
	for _, tt := range tests {
		_, err := ParseRecipe([]byte(tt.yaml), "r.yaml")
		require.Error(t, err, "ParseRecipe(%s)", tt.name)
		assert.Equal(t, strings.Join(tt.want, "\n"), err.Error(), "ParseRecipe(%s)", tt.name)
	}
}

// TestLoadRecipeErrors: errors from a file name its path.
func TestLoadRecipeErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(path, []byte(minimal+"adapter:\n  rank: 8\n"), 0o644))
	_, err := LoadRecipe(path)
	assert.EqualError(t, err, path+`:6: unknown key "adapter.rank" (known keys in adapter: type, r, alpha, dropout, target_modules, rslora, layers_to_transform)`)
	_, err = LoadRecipe(filepath.Join(t.TempDir(), "missing.yaml"))
	assert.ErrorContains(t, err, "load recipe: open ")
}

// TestValidate: every problem is reported at once, each naming its key.
func TestValidate(t *testing.T) {
	r := DefaultRecipe()
	r.Data.Train = "train.csv"
	r.Data.Format = dataset.FormatText
	r.Data.Template = "{source}"
	r.Data.ValSetSize = 2.5
	r.Train.LearningRate = -1
	r.Train.BatchSize = 0
	r.Train.LRScheduler = "step"
	r.Train.WarmupSteps, r.Train.WarmupRatio = 10, 0.1
	r.Adapter = &AdapterConfig{Type: AdapterLoRA, Config: lora.Config{Rank: 0, Alpha: 8, Dropout: 1, Targets: []string{"q", "query", "q"}}}
	r.Eval.Metrics = []Metric{MetricBLEU}
	r.Generation.TopP = 0
	err := r.Validate()
	require.Error(t, err)
	want := []string{
		"base_model: is required (a Hugging Face checkpoint directory: GPT-2, Llama or Qwen2)",
		"output_dir: is required",
		"adapter.r: must be ≥ 1, got 0",
		"adapter.dropout: must be in [0, 1), got 1",
		`adapter.target_modules: unknown module "query" (allowed: q, k, v, o, fc, proj, c_attn, attn.c_attn, c_proj, attn.c_proj, c_fc, mlp.c_fc, mlp.c_proj, q_proj, self_attn.q_proj, k_proj, self_attn.k_proj, v_proj, self_attn.v_proj, o_proj, self_attn.o_proj, gate_proj, mlp.gate_proj, up_proj, mlp.up_proj, down_proj, mlp.down_proj, all-linear)`,
		`adapter.target_modules: module "q" listed twice`,
		"data.train: train.csv: want a .txt or .jsonl file",
		"data.val_set_size: a count must be a whole number, got 2.5",
		"data.template: applies only to formats prompt_completion and source_target",
		"train.batch_size: must be ≥ 1, got 0",
		"train.learning_rate: must be > 0, got -1",
		`train.lr_scheduler: unknown value "step" (allowed: constant, linear, cosine)`,
		"train.warmup_ratio: set either warmup_steps or warmup_ratio, not both",
		"eval.metrics: bleu needs references: use data.format prompt_completion or source_target",
		"generation.top_p: must be in (0, 1], got 0",
	}
	assert.Equal(t, strings.Join(want, "\n"), err.Error())

	ok := DefaultRecipe()
	ok.BaseModel, ok.OutputDir, ok.Data.Train = "m", "o", "t.txt"
	assert.NoError(t, ok.Validate(), "Validate of a default recipe with the required fields")

	_, err = ParseRecipe([]byte(minimal+"train: {batch_size: 0}\n"), "r.yaml")
	assert.EqualError(t, err, "invalid recipe r.yaml:\ntrain.batch_size: must be ≥ 1, got 0")

	ok.BaseDType = transformer.WeightBF16 // full fine-tuning trains the weights bf16 would freeze
	assert.EqualError(t, ok.Validate(), "base_dtype: bf16 freezes the base's projection weights, and full fine-tuning (no adapter) trains them: use f32, or add an adapter")
	_, err = ParseRecipe([]byte(minimal+"base_dtype: f16\n"), "r.yaml")
	assert.ErrorContains(t, err, `"f16": want f32, bf16, q8_0 or bf16_amx`)
}

// TestRecipeYAML: the merged config written out parses back to the same recipe.
func TestRecipeYAML(t *testing.T) {
	for _, path := range []string{filepath.Join("..", "testdata", "trainer", "recipe.yaml"), ""} {
		var r *Recipe
		var err error
		if path == "" {
			r, err = ParseRecipe([]byte(minimal), "minimal.yaml", "data.template=a: {prompt} b: {completion}", "data.format=prompt_completion")
		} else {
			r, err = LoadRecipe(path, "adapter.rslora=true", "generation.stop=[\"\\n\", \"###\"]")
		}
		require.NoError(t, err)
		out, err := r.YAML()
		require.NoError(t, err)
		back, err := ParseRecipe(out, "config.yaml")
		require.NoError(t, err, "ParseRecipe(YAML()):\n%s", out)
		again, err := back.YAML()
		require.NoError(t, err)
		assert.Equal(t, string(out), string(again), "YAML() after a round trip")
		back.Generation.Stop, r.Generation.Stop = nil, nil // nil and [] both write "stop: []"
		assert.Equal(t, r, back, "ParseRecipe(YAML()) for %s", path)
	}
}

// TestRecipeData wires a recipe to its data: dataset.Open and the loader configs.
func TestRecipeData(t *testing.T) {
	dir := t.TempDir()
	train := filepath.Join(dir, "train.jsonl")
	require.NoError(t, os.WriteFile(train, []byte(`{"source": "cat", "target": "gato"}`+"\n"+`{"source": "dog", "target": "perro"}`+"\n"), 0o644))
	r, err := ParseRecipe([]byte(fmt.Sprintf(`
base_model: m
output_dir: o
data:
  train: %s
  format: source_target
  template: "English: {source}\nSpanish: {target}"
  max_seq_len: 64
  packing: true
  shuffle_buffer: 1
train: {batch_size: 2, max_steps: 10}
`, train)), "r.yaml")
	require.NoError(t, err)
	assert.Equal(t, dataset.LoaderConfig{BatchSize: 2, Packing: true, ShuffleBuffer: 1, Seed: 42}, r.TrainLoaderConfig())
	assert.Equal(t, dataset.LoaderConfig{BatchSize: 2, Packing: true, Seed: 42, Epochs: 1}, r.EvalLoaderConfig())
	tr, ev, err := dataset.Open(r.Data, r.Seed, reftest.ByteTokenizer{})
	require.NoError(t, err)
	assert.Nil(t, ev)
	l, err := tr.Loader(r.TrainLoaderConfig(), dataset.DataState{})
	require.NoError(t, err)
	defer l.Close()
	b, err := l.Next()
	require.NoError(t, err)
	require.Len(t, b.IDs, 1, "both examples packed in one row")
	p1, p2 := len("English: cat\nSpanish: "), len("English: dog\nSpanish: ")
	n1 := p1 + len("gato") + 1
	for t2, tgt := range b.Targets[0] {
		inPrompt := t2+1 < p1 || (t2 >= n1 && t2+1-n1 < p2)
		if inPrompt || t2 == n1-1 || t2 == len(b.Targets[0])-1 {
			assert.Equal(t, transformer.IgnoreIndex, tgt, "target %d (prompt or example end)", t2)
		} else {
			assert.Equal(t, b.IDs[0][t2+1], tgt, "target %d", t2)
		}
	}
	assert.Equal(t, reftest.ByteEOS, b.Targets[0][n1-2], "the EOS of the first example is a target")
}
