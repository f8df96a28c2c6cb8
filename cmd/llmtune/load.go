package main

import (
	"flag"
	"fmt"

	"github.com/llmtune/llmtune/lora"
	"github.com/llmtune/llmtune/tokenizer"
	"github.com/llmtune/llmtune/trainer"
	"github.com/llmtune/llmtune/trainer/dataset"
	"github.com/llmtune/llmtune/transformer"
)

// modelSource is the --model, --adapter and --recipe flags of generate and eval: the
// model is --model, else the recipe's base_model.
type modelSource struct {
	cmd                    string
	model, adapter, recipe *string
	dtype                  transformer.WeightDType
}

// modelFlags defines --model, --adapter and --recipe (described by recipeUsage) on fs.
func modelFlags(fs *flag.FlagSet, recipeUsage string) *modelSource {
	m := &modelSource{
		cmd:     fs.Name(),
		model:   fs.String("model", "", "model `DIR` (HF checkpoint with tokenizer files: GPT-2, Llama or Qwen2; default: the recipe's base_model)"),
		adapter: fs.String("adapter", "", "LoRA adapter `DIR` to apply (PEFT format, from llmtune or PEFT; a run saves OUTPUT_DIR/adapter)"),
		recipe:  fs.String("recipe", "", recipeUsage),
	}
	fs.TextVar(&m.dtype, "dtype", transformer.WeightDType(""), "hold the weight matrices (projections, embedding, LM head) in `TYPE`: f32; bf16 (half the memory, frozen; the math stays float32); q8_0 (ggml's 8-bit blocks: 1.125 bytes a weight, frozen; the fastest decoding); or bf16_amx (bf16, with products of several rows in mixed precision on Intel AMX tiles) (default: the recipe's base_dtype, else f32)")
	return m
}

// loadRecipe returns the recipe of --recipe (nil without one), whose base_model is the
// model when --model is not given. Neither given is a usage error.
func (m *modelSource) loadRecipe() (*trainer.Recipe, error) {
	var rec *trainer.Recipe
	if *m.recipe != "" {
		var err error
		if rec, err = trainer.LoadRecipe(*m.recipe); err != nil {
			return nil, err
		}
		if *m.model == "" {
			*m.model = rec.BaseModel
		}
		if m.dtype == "" {
			m.dtype = rec.BaseDType
		}
	}
	if *m.model == "" {
		return nil, usagef("%s: missing --model", m.cmd)
	}
	return rec, nil
}

// load loads the model, its tokenizer and the adapter (see loadModel).
func (m *modelSource) load() (*transformer.Model, *tokenizer.BPE, error) {
	return loadModelAs(*m.model, *m.adapter, m.dtype)
}

// String describes the model: "DIR", or "DIR + ADAPTER".
func (m *modelSource) String() string {
	if *m.adapter == "" {
		return *m.model
	}
	return *m.model + " + " + *m.adapter
}

// loadModel loads the model in dir, its tokenizer, and the adapter in adapterDir unless
// it is "".
func loadModel(dir, adapterDir string) (*transformer.Model, *tokenizer.BPE, error) {
	return loadModelAs(dir, adapterDir, transformer.WeightF32)
}

// loadModelAs is loadModel with the projection weights held in dt.
func loadModelAs(dir, adapterDir string, dt transformer.WeightDType) (*transformer.Model, *tokenizer.BPE, error) {
	m, err := transformer.LoadAs(dir, dt)
	if err != nil {
		return nil, nil, err
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	if tok.VocabSize() > m.Config.VocabSize {
		return nil, nil, fmt.Errorf("model %s: the tokenizer has %d tokens, the model's vocab_size is %d", dir, tok.VocabSize(), m.Config.VocabSize)
	}
	if adapterDir != "" {
		if _, err := lora.Load(m, adapterDir); err != nil {
			return nil, nil, err
		}
	}
	return m, tok, nil
}

// dataFlags are the --format, --template and --chat-template flags of eval and tokenize,
// which override the data settings of the recipe (or the defaults).
type dataFlags struct {
	cmd                        string
	format, template, chatTmpl *string
}

// newDataFlags defines --format, --template and --chat-template on fs.
func newDataFlags(fs *flag.FlagSet) dataFlags {
	return dataFlags{
		cmd:      fs.Name(),
		format:   fs.String("format", "", "data `FORMAT`: text, prompt_completion, source_target or messages (default: the recipe's, else text)"),
		template: fs.String("template", "", "`TEMPLATE` of prompt_completion or source_target data, e.g. \"{source} = {target}\" (default: the recipe's)"),
		chatTmpl: fs.String("chat-template", "", "chat template `T` of messages data: tokenizer_default, chatml, or a Jinja chat template (default: the recipe's, else the model's)"),
	}
}

// apply sets the flags given on cfg.
func (d dataFlags) apply(cfg *dataset.Config) error {
	if *d.format != "" {
		if err := cfg.Format.UnmarshalText([]byte(*d.format)); err != nil {
			return usagef("%s: --format: %v", d.cmd, err)
		}
	}
	if *d.template != "" {
		cfg.Template = *d.template
	}
	if *d.chatTmpl != "" {
		cfg.ChatTemplate = *d.chatTmpl
	}
	return nil
}
