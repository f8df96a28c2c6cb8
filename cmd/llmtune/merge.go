package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/llmtune/llmtune/lora"
	"github.com/llmtune/llmtune/tokenizer"
	"github.com/llmtune/llmtune/transformer"
	"github.com/llmtune/llmtune/transformer/safetensors"
)

const mergeArgs = "--model DIR [--adapter DIR] --out DIR [--dtype f32|f16|bf16]"

// cmdMerge is llmtune merge: the model with an adapter folded in (or alone), saved as a
// Hugging Face checkpoint.
func cmdMerge(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "merge", mergeArgs,
		`Folds a LoRA adapter (PEFT format, from llmtune or PEFT) into the base model and writes
the result as a Hugging Face checkpoint of the same family (config.json, model.safetensors, and the
base model's tokenizer files) that llmtune and transformers load without the adapter.
Without --adapter it only rewrites the model, in --dtype: for example a fully fine-tuned
or pretrained model (run without an adapter) as BF16, at half the size.`)
	model := fs.String("model", "", "base model `DIR` (HF checkpoint: GPT-2, Llama or Qwen2)")
	adapter := fs.String("adapter", "", "adapter `DIR` (adapter_config.json + adapter_model.safetensors); none: convert only")
	out := fs.String("out", "", "output `DIR`")
	dtypeFlag := fs.String("dtype", "f32", "`DTYPE` of the written weights: f32, or f16 or bf16 (half the size, rounded)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "model", "out"); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("merge: unexpected argument %q", fs.Arg(0))
	}
	dtype := safetensors.DType(strings.ToUpper(*dtypeFlag))
	if !dtype.IsWritable() {
		return usagef("merge: --dtype %q: want f32, f16 or bf16", *dtypeFlag)
	}
	m, err := transformer.Load(*model)
	if err != nil {
		return err
	}
	what := "converted " + *model
	if *adapter != "" {
		ad, err := lora.Load(m, *adapter)
		if err != nil {
			return err
		}
		if err := ad.Merge(); err != nil {
			return err
		}
		what = fmt.Sprintf("merged %s (%d LoRA layers) into %s", *adapter, len(ad.Layers), *model)
	}
	if err := m.SaveAs(*out, dtype); err != nil {
		return err
	}
	if err := tokenizer.CopyFiles(*model, *out); err != nil {
		return fmt.Errorf("merge: copy tokenizer files: %w", err)
	}
	fmt.Fprintf(e.stdout, "%s: wrote %s (%s)\n", what, *out, dtype)
	return nil
}
