package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/llmtune/llmtune/gguf"
	"github.com/llmtune/llmtune/lora"
	"github.com/llmtune/llmtune/tokenizer"
	"github.com/llmtune/llmtune/transformer"
)

const exportArgs = "--model DIR [--adapter DIR] --out FILE.gguf [--dtype f32|f16|bf16|q8_0]\n" +
	"            [--tokenizer DIR] [--name NAME] | --adapter DIR --base DIR --as-adapter --out FILE.gguf"

// cmdExport is llmtune export: the model (adapter merged) or the adapter alone as a GGUF file for llama.cpp,
// ollama and LM Studio.
func cmdExport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "export", exportArgs,
		`Writes a GGUF file (version 3) that llama.cpp, ollama and LM Studio load: the model with its
tokenizer, with the adapter folded in when --adapter is given, in llama.cpp's tensor names and
metadata (as its convert_hf_to_gguf.py writes them); or, with --as-adapter, the LoRA adapter alone
as a GGUF LoRA adapter that llama.cpp applies to the base model's GGUF with --lora.
Norms, biases and GPT-2's position embedding stay F32 whatever --dtype, as in llama.cpp's converter.
Nothing is written if the model, its tokenizer or the adapter cannot be said in GGUF; the file is
written atomically.`)
	model := fs.String("model", "", "model `DIR` (HF checkpoint with tokenizer files: GPT-2, Llama or Qwen2)")
	base := fs.String("base", "", "with --as-adapter: the adapter's base model `DIR` (same as --model)")
	adapter := fs.String("adapter", "", "LoRA adapter `DIR` (PEFT format): merged into the model, or exported alone with --as-adapter")
	out := fs.String("out", "", "output `FILE` (.gguf)")
	dtypeFlag := fs.String("dtype", "", "`DTYPE` of the weight matrices: f32, f16, bf16 or q8_0 (default: f16 for a model, f32 for --as-adapter)")
	asAdapter := fs.Bool("as-adapter", false, "write the adapter alone, as a GGUF LoRA adapter")
	tokDir := fs.String("tokenizer", "", "tokenizer `DIR` (default: the model's)")
	name := fs.String("name", "", "general.name of the file (default: the model directory's name)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("export: unexpected argument %q", fs.Arg(0))
	}
	if *model != "" && *base != "" && *model != *base {
		return usagef("export: --model and --base name two models; give one")
	}
	if *base != "" {
		*model = *base
	}
	if *asAdapter {
		if err := required(fs, "adapter", "out"); err != nil {
			return err
		}
		if *model == "" {
			return usagef("export: --as-adapter needs the adapter's --base model")
		}
	} else if err := required(fs, "model", "out"); err != nil {
		return err
	}
	dtype := "f16"
	if *asAdapter {
		dtype = "f32"
	}
	if *dtypeFlag != "" {
		dtype = *dtypeFlag
	}
	typ, err := gguf.ParseType(dtype)
	if err != nil {
		return usagef("export: --dtype %q: want f32, f16, bf16 or q8_0", dtype)
	}
	opts := gguf.Options{Type: typ, Name: *name}
	if opts.Name == "" {
		opts.Name = filepath.Base(filepath.Clean(*model))
	}
	m, err := transformer.Load(*model)
	if err != nil {
		return err
	}
	var ad *lora.Adapter
	if *adapter != "" {
		if ad, err = lora.Load(m, *adapter); err != nil {
			return err
		}
	}
	var f *gguf.File
	what := *model
	if *asAdapter {
		if f, err = gguf.Adapter(ad, m, opts); err != nil {
			return fmt.Errorf("export %s: %w", *adapter, err)
		}
		what = fmt.Sprintf("adapter %s (%d LoRA layers) of %s", *adapter, len(ad.Layers), *model)
	} else {
		if ad != nil {
			if err := ad.Merge(); err != nil {
				return err
			}
			what = fmt.Sprintf("%s with %s merged (%d LoRA layers)", *model, *adapter, len(ad.Layers))
		}
		if *tokDir == "" {
			*tokDir = *model
		}
		tok, err := tokenizer.Load(*tokDir)
		if err != nil {
			return err
		}
		if f, err = gguf.Model(m, tok, opts); err != nil {
			return fmt.Errorf("export %s: %w", *model, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := f.WriteFile(*out); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fmt.Fprintf(e.stdout, "exported %s: wrote %s (%s, %d tensors, %d bytes)\n", what, *out, typ, len(f.Tensors), f.Size())
	return nil
}
