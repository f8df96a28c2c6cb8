// Package kernels holds the numeric kernels of the decoders: GPT-2's SGEMM, LayerNorm,
// GELU (tanh), causal multi-head attention and LM head fused with cross-entropy, and
// what the Llama family (Hugging Face LlamaForCausalLM and Qwen2ForCausalLM) adds:
// RMSNorm, rotary position embeddings (RoPE), the SwiGLU gate of the MLP and
// grouped-query attention.
//
// Every kernel works on flat row-major []float32 buffers, outputs first and dims last,
// in the style of llm.c (layernorm_forward(out, mean, rstd, inp, weight, bias, B, T, C)).
// The shape letters are: N rows (N = B·T), C channels, B sequences of T tokens, NH
// (query) heads of hs channels (hs = C/NH in GPT-2), KVH key/value heads (NH a multiple
// of KVH; KVH = NH in GPT-2), V vocabulary entries. Each kernel keeps a plain reference
// version beside it, and the tests compare the two.
//
// Backward kernels add (+=) their gradients into the gradient buffers they are given,
// never overwrite them, so a tensor read by several operations sums their gradients;
// callers zero a buffer before its first use. RoPEBackward is the exception: it maps
// the gradient of RoPEForward's output to that of its input in place.
//
// The package knows nothing of spago, of autograd or of model checkpoints; the
// transformer package wraps these kernels as spago autograd functions.
package kernels
