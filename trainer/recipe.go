package trainer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/llmtune/llmtune/lora"
	"github.com/llmtune/llmtune/trainer/dataset"
	"github.com/llmtune/llmtune/trainer/optim"
	"github.com/llmtune/llmtune/transformer"
	"github.com/llmtune/llmtune/transformer/generate"
)

// Recipe is one fine-tuning run: the base model, the adapter, the data, the optimisation,
// evaluation and generation settings, with the YAML key names of axolotl, PEFT, torchtune
// and HF TrainingArguments. Each section is the config of the package that owns it (see
// docs/ARCHITECTURE.md, "One config per concept").
//
// Relative paths (base_model, output_dir, data.train, data.eval) are used as written, that
// is relative to the current working directory of the process, as in axolotl and
// torchtune, not to the recipe file: the recipes under recipes/ are meant to be run from
// the repository root.
//
// The zero value is not a valid recipe; start from DefaultRecipe when building one in Go.
// Every field's default below is what DefaultRecipe, LoadRecipe and ParseRecipe use for a
// key the recipe leaves out.
type Recipe struct {
	// BaseModel is the Hugging Face checkpoint directory (GPT-2, Llama or Qwen2: config.json,
	// model.safetensors, tokenizer files). Required.
	BaseModel string `yaml:"base_model"`
	// FromScratch starts from the family's random initialisation (seeded by Seed) of the
	// architecture in base_model/config.json instead of loading its weights: how the demo
	// base model is pretrained. base_model then needs only config.json and the tokenizer
	// files. Default false.
	FromScratch bool `yaml:"from_scratch"`
	// BaseDType is how the frozen base's weight matrices (attention and MLP projections,
	// token embedding, untied LM head; not GPT-2's position embedding, the norms or the
	// biases) are held while an adapter trains: f32; bf16 (each weight rounded to
	// bfloat16 as it is loaded, and widened to float32 as a product reads it: half their
	// memory, the math float32); q8_0 (ggml's 8-bit blocks, widened a few hundred rows
	// at a time as a product reads them: a quarter of the memory, slower steps); or
	// bf16_amx (bf16, and the products by them run in mixed precision on Intel AMX
	// tiles, the activations and gradients they multiply rounded to bfloat16 as
	// torch.autocast does: about twice as fast a step where the CPU has AMX-BF16, an
	// error where it has not; see transformer.WeightBF16AMX). Needs an adapter: full
	// fine-tuning trains those weights. Default f32.
	BaseDType transformer.WeightDType `yaml:"base_dtype"`
	// OutputDir receives adapter/, checkpoints/, metrics.jsonl and config.yaml. Required.
	// One run at a time holds it (Run locks it), and a run that starts afresh refuses
	// one that already holds a run unless OverwriteOutputDir is set.
	OutputDir string `yaml:"output_dir"`
	// OverwriteOutputDir lets a run that starts afresh (train.resume_from_checkpoint
	// empty, or auto finding no checkpoint to resume) use an output_dir that already holds
	// a run (checkpoints/, adapter/, model/ or metrics.jsonl): the previous run's
	// checkpoints/, adapter/, model/, metrics.jsonl and loss.png are removed first.
	// Without it, such a run stops before touching anything. A run that resumes from a
	// checkpoint leaves everything in place whatever it says. Default false (HF
	// TrainingArguments).
	OverwriteOutputDir bool `yaml:"overwrite_output_dir"`
	// Seed seeds every random choice of the run: adapter initialisation, dropout, data
	// shuffling and the validation split. Default 42 (HF TrainingArguments).
	Seed uint64 `yaml:"seed"`
	// Adapter is the LoRA adapter to train; nil (the key absent or null) means full
	// fine-tuning of every weight. A present but empty `adapter:` mapping is LoRA with the
	// defaults of AdapterConfig.
	Adapter *AdapterConfig `yaml:"adapter,omitempty"`
	// Data says where the examples come from and how they become batches (see
	// dataset.Config).
	Data dataset.Config `yaml:"data"`
	// Train holds the optimisation settings.
	Train TrainConfig `yaml:"train"`
	// Eval holds the evaluation settings.
	Eval EvalConfig `yaml:"eval"`
	// Generation holds the sampling settings used by evaluation and `llmtune generate`
	// (see generate.Options).
	Generation generate.Options `yaml:"generation"`
}

// AdapterConfig is the adapter section of a recipe: its type and, inlined, the LoRA
// settings of lora.Config (r, alpha, dropout, target_modules, rslora,
// layers_to_transform), whose defaults are PEFT's (lora.DefaultConfig).
type AdapterConfig struct {
	// Type is the adapter kind; only "lora" exists. Default lora.
	Type AdapterType `yaml:"type"`
	// Config holds the LoRA settings (see lora.Config).
	lora.Config `yaml:",inline"`
}

// TrainConfig holds a recipe's optimisation settings. Defaults are HF TrainingArguments'
// unless stated.
type TrainConfig struct {
	// Epochs is the number of passes over the training data. Default 3 (HF).
	Epochs int `yaml:"epochs"`
	// MaxSteps, when > 0, is the number of optimizer steps, overriding Epochs (the data
	// then repeats as needed). Default 0 (unset).
	MaxSteps int `yaml:"max_steps"`
	// BatchSize is the number of rows in one micro-batch. Default 8 (HF).
	BatchSize int `yaml:"batch_size"`
	// GradientAccumulationSteps is the number of micro-batches per optimizer step. Default 1.
	GradientAccumulationSteps int `yaml:"gradient_accumulation_steps"`
	// Config holds the optimiser's settings: learning_rate, lr_scheduler, warmup_steps,
	// warmup_ratio, weight_decay, adam_beta1, adam_beta2, adam_epsilon, max_grad_norm
	// (see optim.Config for each one's meaning and default).
	optim.Config `yaml:",inline"`
	// LogSteps is how often, in optimizer steps, a line goes to metrics.jsonl. Default 10.
	LogSteps int `yaml:"log_steps"`
	// EvalSteps is how often to evaluate; 0 evaluates only before and after training.
	// Default 0.
	EvalSteps int `yaml:"eval_steps"`
	// SaveSteps is how often to write a checkpoint; 0 saves only at the end. Default 500 (HF).
	SaveSteps int `yaml:"save_steps"`
	// SaveTotalLimit is how many checkpoints to keep, the oldest deleted first; 0 keeps all.
	// Default 0.
	SaveTotalLimit int `yaml:"save_total_limit"`
	// ResumeFromCheckpoint is "" (start afresh), "auto" (the newest complete checkpoint
	// in output_dir, if any, going back past damaged ones with a warning) or a checkpoint
	// directory, which must be complete. Default "".
	ResumeFromCheckpoint string `yaml:"resume_from_checkpoint"`
}

// EvalConfig holds a recipe's evaluation settings.
type EvalConfig struct {
	// Metrics lists what to compute: loss, perplexity, bleu, chrf. bleu and chrf generate
	// a completion for each prompt and need the prompt_completion or source_target format.
	// Default [loss, perplexity].
	Metrics []Metric `yaml:"metrics"`
	// MaxExamples caps the evaluation examples; 0 uses them all. Default 0.
	MaxExamples int `yaml:"max_examples"`
	// Samples is how many evaluation examples to complete with the generation settings
	// and print at each evaluation, next to their references: the prompt of a
	// prompt/completion or source/target example, or the first words of a text example.
	// Default 0.
	Samples int `yaml:"samples"`
}

// DefaultRecipe returns a recipe with every default filled in and the required fields
// (BaseModel, OutputDir, Data.Train) empty. Adapter is nil: full fine-tuning.
func DefaultRecipe() Recipe {
	return Recipe{
		Seed:      42,
		BaseDType: transformer.WeightF32,
		Data:      dataset.DefaultConfig(),
		Train: TrainConfig{
			Epochs:                    3,
			BatchSize:                 8,
			GradientAccumulationSteps: 1,
			Config:                    optim.DefaultConfig(),
			LogSteps:                  10,
			SaveSteps:                 500,
		},
		Eval:       EvalConfig{Metrics: []Metric{MetricLoss, MetricPerplexity}},
		Generation: generate.DefaultOptions(),
	}
}

// DefaultAdapter returns the adapter a recipe gets for an `adapter:` mapping that sets
// nothing: LoRA with lora.DefaultConfig (r 8, alpha 8, dropout 0, on q and v).
func DefaultAdapter() AdapterConfig {
	return AdapterConfig{Type: AdapterLoRA, Config: lora.DefaultConfig()}
}

// AdapterType is the kind of adapter; the only one is AdapterLoRA.
type AdapterType string

// The adapter types.
const (
	AdapterLoRA AdapterType = "lora"
)

// UnmarshalText sets t from text, rejecting an unknown adapter type with the allowed list.
func (t *AdapterType) UnmarshalText(text []byte) error {
	return unmarshalChoice(t, text, AdapterLoRA)
}

// Metric names an evaluation metric.
type Metric string

// The evaluation metrics.
const (
	MetricLoss       Metric = "loss"       // mean cross-entropy of the target tokens
	MetricPerplexity Metric = "perplexity" // exp(loss)
	MetricBLEU       Metric = "bleu"       // corpus BLEU of greedy completions (sacreBLEU's default)
	MetricChrF       Metric = "chrf"       // chrF of greedy completions (sacreBLEU's default)
)

// UnmarshalText sets m from text, rejecting an unknown metric with the allowed list.
func (m *Metric) UnmarshalText(text []byte) error {
	return unmarshalChoice(m, text, MetricLoss, MetricPerplexity, MetricBLEU, MetricChrF)
}

// unmarshalChoice sets *dst to text if it is one of allowed, else returns an error that
// lists them.
func unmarshalChoice[T ~string](dst *T, text []byte, allowed ...T) error {
	v := T(text)
	if slices.Contains(allowed, v) {
		*dst = v
		return nil
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	return fmt.Errorf("unknown value %q (allowed: %s)", text, strings.Join(names, ", "))
}

// targetModules are the names AdapterConfig.TargetModules accepts: package lora's.
var targetModules = lora.TargetNames()

// LoadRecipe reads the recipe file at path, applies the overrides in order, decodes the
// result strictly over DefaultRecipe and validates it. Decoding reports every unknown or
// duplicate key and every value of the wrong type or outside its choices, each with the
// file and line (or the override) it came from; Validate's problems follow as one
// "invalid recipe" error.
//
// Overrides change the recipe's YAML tree before decoding, so they are checked exactly
// like the file:
//
//	train.learning_rate=1e-3        set a value (mappings on the way are created)
//	output_dir=runs/x               a string field takes the text verbatim …
//	data.template='"Q: {source}\nA: {target}"'   … unless it is quoted YAML
//	adapter.target_modules=[q,k,v]  a list, in YAML flow syntax
//	adapter.target_modules.1=k      one element of a list (index 0 … its length)
//	adapter={r: 16, alpha: 32}      a whole mapping
//	~train.learning_rate            remove a key: its default applies again
//	~adapter                        no adapter: full fine-tuning
//
// A value for a non-string field is parsed as YAML (1e-3, true, [a, b]); an empty value
// is null, which for a list or the adapter means none. Removing a key the recipe does not
// set is an error.
func LoadRecipe(path string, overrides ...string) (*Recipe, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load recipe: %w", err)
	}
	return ParseRecipe(data, path, overrides...)
}

// ParseRecipe is LoadRecipe on the YAML in data; name (usually the file's path) is used in
// error messages. An empty document is a recipe of defaults, which fails validation for
// lack of the required fields.
func ParseRecipe(data []byte, name string, overrides ...string) (*Recipe, error) {
	root, err := parseYAML(data, name)
	if err != nil {
		return nil, err
	}
	origin := map[*yaml.Node]string{}
	for _, ov := range overrides {
		if err := applyOverride(root, ov, origin); err != nil {
			return nil, err
		}
	}
	r, err := decodeRecipe(root, name, origin)
	if err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("invalid recipe %s:\n%w", name, err)
	}
	return r, nil
}

// YAML returns the recipe as YAML with every field written out, defaults included (what
// a run saves as output_dir/config.yaml). ParseRecipe of the result gives back r.
func (r *Recipe) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("encode recipe: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode recipe: %w", err)
	}
	return buf.Bytes(), nil
}

// Validate checks every field and returns all the problems found, joined with
// errors.Join (nil when there are none); each names its key path.
func (r *Recipe) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if r.BaseModel == "" {
		bad("base_model", "is required (a Hugging Face checkpoint directory: GPT-2, Llama or Qwen2)")
	}
	if r.OutputDir == "" {
		bad("output_dir", "is required")
	}
	if r.BaseDType != transformer.WeightF32 && r.BaseDType != "" && r.Adapter == nil {
		bad("base_dtype", "%s freezes the base's projection weights, and full fine-tuning (no adapter) trains them: use f32, or add an adapter", r.BaseDType)
	}
	if a := r.Adapter; a != nil {
		if a.Type != AdapterLoRA {
			bad("adapter.type", "unknown value %q (allowed: lora)", a.Type)
		}
		errs = append(errs, prefixed("adapter.", a.Config.Validate())...)
		if len(a.Targets) == 0 { // lora.Config would take its defaults; a recipe says so explicitly
			bad("adapter.target_modules", "must name at least one module (%s)", strings.Join(targetModules, ", "))
		}
	}
	errs = append(errs, prefixed("data.", r.Data.Validate())...)
	t := r.Train
	if t.Epochs < 1 && t.MaxSteps < 1 {
		bad("train.epochs", "must be ≥ 1 unless train.max_steps is set, got %d", t.Epochs)
	}
	if t.MaxSteps < 0 {
		bad("train.max_steps", "must be ≥ 0 (0 = use train.epochs), got %d", t.MaxSteps)
	}
	if t.BatchSize < 1 {
		bad("train.batch_size", "must be ≥ 1, got %d", t.BatchSize)
	}
	if t.GradientAccumulationSteps < 1 {
		bad("train.gradient_accumulation_steps", "must be ≥ 1, got %d", t.GradientAccumulationSteps)
	}
	errs = append(errs, prefixed("train.", t.Config.Validate())...)
	if t.LogSteps < 1 {
		bad("train.log_steps", "must be ≥ 1, got %d", t.LogSteps)
	}
	if t.EvalSteps < 0 {
		bad("train.eval_steps", "must be ≥ 0, got %d", t.EvalSteps)
	}
	if t.SaveSteps < 0 {
		bad("train.save_steps", "must be ≥ 0, got %d", t.SaveSteps)
	}
	if t.SaveTotalLimit < 0 {
		bad("train.save_total_limit", "must be ≥ 0 (0 = keep all), got %d", t.SaveTotalLimit)
	}
	allMetrics := []Metric{MetricLoss, MetricPerplexity, MetricBLEU, MetricChrF}
	for i, m := range r.Eval.Metrics {
		switch {
		case !slices.Contains(allMetrics, m):
			bad("eval.metrics", "unknown metric %q (allowed: loss, perplexity, bleu, chrf)", m)
		case slices.Index(r.Eval.Metrics, m) < i:
			bad("eval.metrics", "metric %q listed twice", m)
		case (m == MetricBLEU || m == MetricChrF) && r.Data.Format == dataset.FormatText:
			bad("eval.metrics", "%s needs references: use data.format prompt_completion or source_target", m)
		}
	}
	if r.Eval.MaxExamples < 0 {
		bad("eval.max_examples", "must be ≥ 0 (0 = all), got %d", r.Eval.MaxExamples)
	}
	errs = append(errs, prefixed("generation.", r.Generation.Validate())...)
	return errors.Join(errs...)
}

// prefixed returns the problems joined in err (a Validate result) with prefix before
// each, so that a package's key becomes the recipe's key path ("r" → "adapter.r").
func prefixed(prefix string, err error) []error {
	if err == nil {
		return nil
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = fmt.Errorf("%s%w", prefix, e)
	}
	return out
}

// TrainLoaderConfig returns the loader settings of the recipe's training data: its batch
// size, packing, shuffle buffer and seed, and its epochs (0, forever, when max_steps is
// set).
func (r *Recipe) TrainLoaderConfig() dataset.LoaderConfig {
	epochs := r.Train.Epochs
	if r.Train.MaxSteps > 0 {
		epochs = 0
	}
	return dataset.LoaderConfig{BatchSize: r.Train.BatchSize, Packing: r.Data.Packing,
		ShuffleBuffer: r.Data.ShuffleBuffer, Seed: r.Seed, Epochs: epochs}
}

// EvalLoaderConfig returns the loader settings of the recipe's evaluation data: one
// pass in file order, at most eval.max_examples examples, batched and packed as for
// training (packing leaves each example's loss unchanged).
func (r *Recipe) EvalLoaderConfig() dataset.LoaderConfig {
	return dataset.LoaderConfig{BatchSize: r.Train.BatchSize, Packing: r.Data.Packing,
		Seed: r.Seed, Epochs: 1, MaxExamples: r.Eval.MaxExamples}
}
