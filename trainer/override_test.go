package trainer

import (
	"testing"

	"github.com/llmtune/llmtune/lora"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withAdapter is minimal with a LoRA adapter.
const withAdapter = minimal + `adapter:
  r: 8
  target_modules: [q, v]
train:
  learning_rate: 1.0e-4
`

func TestOverrides(t *testing.T) {
	tests := []struct {
		name      string
		base      string
		overrides []string
		check     func(t *testing.T, r *Recipe)
	}{
		{"set scalar", withAdapter, []string{"train.learning_rate=1e-3", "output_dir=runs/y", "seed=7"}, func(t *testing.T, r *Recipe) {
			assert.Equal(t, 1e-3, r.Train.LearningRate)
			assert.Equal(t, "runs/y", r.OutputDir)
			assert.Equal(t, uint64(7), r.Seed)
		}},
		{"set absent nested key", minimal, []string{"generation.top_k=40", "data.packing=true"}, func(t *testing.T, r *Recipe) {
			assert.Equal(t, 40, r.Generation.TopK)
			assert.True(t, r.Data.Packing)
			assert.Equal(t, 1.0, r.Generation.TopP, "the other generation defaults stay")
		}},
		{"create adapter", minimal, []string{"adapter.r=16"}, func(t *testing.T, r *Recipe) {
			require.NotNil(t, r.Adapter)
			assert.Equal(t, AdapterConfig{Type: AdapterLoRA, Config: lora.Config{Rank: 16, Alpha: 8, Targets: []string{"q", "v"}}}, *r.Adapter)
		}},
		{"list", withAdapter, []string{"adapter.target_modules=[q,k,v]"}, func(t *testing.T, r *Recipe) {
			assert.Equal(t, []string{"q", "k", "v"}, r.Adapter.Targets)
		}},
		{"list element", withAdapter, []string{"adapter.target_modules.1=k", "adapter.target_modules.2=o"}, func(t *testing.T, r *Recipe) {
			assert.Equal(t, []string{"q", "k", "o"}, r.Adapter.Targets)
		}},
		{"remove list element", withAdapter, []string{"~adapter.target_modules.0"}, func(t *testing.T, r *Recipe) {
			assert.Equal(t, []string{"v"}, r.Adapter.Targets)
		}},
		{"remove adapter: full fine-tuning", withAdapter, []string{"~adapter"}, func(t *testing.T, r *Recipe) {
			assert.Nil(t, r.Adapter)
		}},
		{"remove restores the default", withAdapter, []string{"~train.learning_rate"}, func(t *testing.T, r *Recipe) {
			assert.Equal(t, 2e-4, r.Train.LearningRate)
		}},
		{"string verbatim", minimal, []string{"data.format=source_target", "data.template=EN: {source} ES: {target}"}, func(t *testing.T, r *Recipe) {
			assert.Equal(t, "EN: {source} ES: {target}", r.Data.Template)
		}},
		{"quoted string", minimal, []string{"data.format=source_target", `data.template="EN: {source}\nES: {target}"`}, func(t *testing.T, r *Recipe) {
			assert.Equal(t, "EN: {source}\nES: {target}", r.Data.Template)
		}},
		{"empty string", minimal, []string{"train.resume_from_checkpoint=auto", "train.resume_from_checkpoint="}, func(t *testing.T, r *Recipe) {
			assert.Equal(t, "", r.Train.ResumeFromCheckpoint)
		}},
		{"mapping", minimal, []string{"adapter={r: 4, alpha: 32}"}, func(t *testing.T, r *Recipe) {
			require.NotNil(t, r.Adapter)
			assert.Equal(t, 4, r.Adapter.Rank)
			assert.Equal(t, 32.0, r.Adapter.Alpha)
		}},
		{"later wins", minimal, []string{"seed=1", "seed=2"}, func(t *testing.T, r *Recipe) {
			assert.Equal(t, uint64(2), r.Seed)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRecipe([]byte(tt.base), "r.yaml", tt.overrides...)
			require.NoError(t, err, "ParseRecipe with %q", tt.overrides)
			tt.check(t, r)
		})
	}
}

func TestOverrideErrors(t *testing.T) {
	tests := []struct {
		override string
		want     string
	}{
		{"train.lerning_rate=1", `override "train.lerning_rate=1": unknown key "train.lerning_rate" (known keys in train: ` +
			`epochs, max_steps, batch_size, gradient_accumulation_steps, learning_rate, lr_scheduler, warmup_steps, ` +
			`warmup_ratio, weight_decay, adam_beta1, adam_beta2, adam_epsilon, max_grad_norm, log_steps, eval_steps, save_steps, save_total_limit, resume_from_checkpoint)`},
		{"lr=1", `override "lr=1": unknown key "lr" (known keys: base_model, from_scratch, base_dtype, output_dir, overwrite_output_dir, seed, adapter, data, train, eval, generation)`},
		{"seed.value=1", `override "seed.value=1": seed is a single value, not a mapping: it has no key "value"`},
		{"adapter.target_modules.x=q", `override "adapter.target_modules.x=q": adapter.target_modules is a list: the key after it must be the last, an index 0, 1, …, got "x"`},
		{"adapter.target_modules.5=q", `override "adapter.target_modules.5=q": index 5 is out of range: adapter.target_modules has 2 items`},
		{"eval.metrics.0=loss", `override "eval.metrics.0=loss": eval.metrics is not a list in the recipe`},
		{"train..epochs=1", `override "train..epochs=1": empty key in path "train..epochs"`},
		{"train.epochs", `override "train.epochs": want key.path=value, or ~key.path to remove a key`},
		{"~train.epochs=1", `override "~train.epochs=1": ~ removes a key and takes no value: write ~train.epochs`},
		{"~train.epochs", `override "~train.epochs": train.epochs is not set in the recipe`},
		{"~eval.max_examples", `override "~eval.max_examples": eval is not set in the recipe`},
		{"train.learning_rate=fast", `override "train.learning_rate=fast": train.learning_rate: cannot unmarshal !!str ` + "`fast`" + ` into float64`},
		{"train.lr_scheduler=step", `override "train.lr_scheduler=step": train.lr_scheduler: unknown value "step" (allowed: constant, linear, cosine)`},
		{"adapter.target_modules=[q", `override "adapter.target_modules=[q": value is not valid YAML: line 1: did not find expected ',' or ']'`},
		{"train=3", `override "train=3": train: want a mapping of keys, got int "3"`},
		{"train.batch_size=0", "invalid recipe r.yaml:\ntrain.batch_size: must be ≥ 1, got 0"},
	}
	for _, tt := range tests {
		_, err := ParseRecipe([]byte(withAdapter), "r.yaml", tt.override)
		assert.EqualError(t, err, tt.want, "ParseRecipe with override %q", tt.override)
	}
}
