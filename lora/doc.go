// Package lora adds low-rank adapters (Hu et al., "LoRA: Low-Rank Adaptation of Large
// Language Models", arXiv:2106.09685) to the projections of a transformer.Model, and reads
// and writes them in Hugging Face PEFT's adapter format.
//
// A LoRA layer wraps a frozen base projection through the transformer.Linear seam and adds
// (α/r)·x·Aᵀ·Bᵀ to its output (α/√r with RSLoRA, arXiv:2312.03732), A (r, in) drawn
// kaiming-uniform and B (out, r) zero, as PEFT initialises them. The default targets are
// the attention's query and value projections, which in GPT-2 are column blocks of the
// fused c_attn; PEFT can only adapt c_attn whole, so a q/v adapter is written as the
// equivalent c_attn adapter of rank 2r (see Adapter.Save). Merge folds the adapters into
// the base weights and Unmerge takes them out again; merging is explicit, never a side
// effect of saving or loading.
//
// It is not an optimizer or a trainer: Adapter.Params lists what to train.
//
// References: PEFT's tuners/lora/layer.py (delta weight, merge, scaling) and
// tuners/tuners_utils.py (target_modules, layers_to_transform, rank_pattern matching).
package lora
