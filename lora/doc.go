// Package lora adds low-rank adapters (Hu et al., "LoRA: Low-Rank Adaptation of Large
// Language Models", arXiv:2106.09685) to the projections of a transformer.Model, GPT-2 or
// the Llama family (Llama, Qwen2), and reads and writes them in Hugging Face PEFT's
// adapter format.
//
// A LoRA layer wraps a frozen base projection through the transformer.Linear seam and adds
// (α/r)·x·Aᵀ·Bᵀ to its output (α/√r with RSLoRA, arXiv:2312.03732), A (r, in) drawn
// kaiming-uniform and B (out, r) zero, as PEFT initialises them; the same op serves
// GPT-2's Conv1D (weight stored (in, out)) and the Llama family's Dense (torch.nn.Linear,
// weight (out, in)). Merge folds the adapters into the base weights and Unmerge takes them
// out again; merging is explicit, never a side effect of saving or loading.
//
// Targets are named per family (Config.Targets). The default, the attention's query and
// value projections, is q_proj and v_proj in the Llama family, as PEFT's default there,
// and in GPT-2 two column blocks of the fused c_attn; PEFT can only adapt c_attn whole, so
// a GPT-2 q/v adapter is written as the equivalent c_attn adapter of rank 2r (see
// Adapter.Save). "all-linear" adapts every projection of a block, as PEFT's shorthand.
// A GPT-2 target on a Llama model, an adapter file of the other family, and the like are
// errors naming what does not fit.
//
// It is not an optimizer or a trainer: Adapter.Params lists what to train.
//
// References: PEFT's tuners/lora/layer.py (delta weight, merge, scaling),
// tuners/tuners_utils.py (target_modules, all-linear, layers_to_transform, rank_pattern
// matching) and utils/constants.py (default target modules per model type).
package lora
