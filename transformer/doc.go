// Package transformer is a GPT-2 decoder on spago: it loads and saves Hugging Face GPT-2
// checkpoints (config.json + model.safetensors), runs the forward pass on whole (T×C)
// matrices, and computes the causal-LM loss whose gradient spago's ag.Backward delivers
// to every trainable parameter.
//
// Each sub-layer (embedding, LayerNorm, Conv1D projection, causal multi-head attention,
// GELU, residual add, tied LM head fused with cross-entropy) is one custom
// ag.AutoGradFunction over the kernels of package transformer/kernels, so a block is
// about a dozen graph nodes whatever the sequence length.
//
// A training loop can lend the graph's buffers from an Arena (Model.SetArena) and take
// them back after each backward pass (Model.ReleaseStep), so that a step reuses the
// memory of the step before instead of allocating it afresh.
//
// Decoding is NextLogits over a KVCache: the same block code as training, on plain rows
// instead of graph nodes (package transformer/generate samples from it).
//
// It is not a trainer or a sampler: it knows nothing of LoRA, optimizers or YAML. LoRA plugs in
// through the Linear interface: the projections of every block are Linear values, each
// named by a Proj (block and ProjKind), which Model.Linear and Model.SetLinear get and
// replace.
//
// References: Radford et al., "Language Models are Unsupervised Multitask Learners"
// (GPT-2, 2019); Hugging Face transformers, models/gpt2/modeling_gpt2.py (weight names
// and layout: Conv1D weights are stored [in, out], y = x·W + b); Karpathy's llm.c
// (train_gpt2.c) for the layer-by-layer forward/backward pairs.
package transformer
