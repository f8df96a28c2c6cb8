// Package kernels holds the numeric kernels of the GPT-2 decoder: SGEMM, LayerNorm,
// GELU (tanh), causal multi-head attention, and the LM head fused with cross-entropy.
//
// Every kernel works on flat row-major []float32 buffers, outputs first and dims last,
// in the style of llm.c (layernorm_forward(out, mean, rstd, inp, weight, bias, B, T, C)).
// The shape letters are: N rows (N = B·T), C channels, B sequences of T tokens, NH heads
// of hs = C/NH channels, V vocabulary entries. Each kernel keeps a plain reference
// version beside it, and the tests compare the two.
//
// The package knows nothing of spago, of autograd or of GPT-2 checkpoints; the
// transformer package wraps these kernels as spago autograd functions.
package kernels
