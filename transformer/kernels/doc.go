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
// # Paths
//
// Kernels with an assembly version run the one the current Path selects (SetPath; Paths
// lists those this CPU and build support, and the best is the default):
//
//   - PathAVX512, where golang.org/x/sys/cpu reports AVX-512F with the OS saving the ZMM
//     state: Sgemm runs a 12×32 micro-kernel (24 zmm accumulators, B read as two zmm rows
//     per k, A as embedded broadcasts), on panels packed 12 rows and 32 columns wide, 256
//     deep (an A and a B panel, 44 KiB, fit a 48 KiB L1). 12×32 measured 134 GFLOP/s alone
//     on one core (Intel Xeon, family 6 model 207), against 126 for 6×32, 131 for 8×32
//     and 123–127 for 14×32 at the same depth; broadcasting A into registers first (as
//     the AVX2 kernel does) measured 85–130 against 125–148 for embedded broadcasts.
//     SwiGLUForward/Backward, RMSNormForward/Backward and the exponentials of the
//     attention's softmax run 16-lane AVX-512F versions; the other kernels run their
//     AVX2 versions.
//   - PathAVX2, where it has AVX2 and FMA (AMD Zen 2/3, older Intel): Sgemm's 6×16
//     micro-kernel (67 GFLOP/s alone on the same core) and the AVX2/FMA VecMat, MatVec,
//     cached attention, exp and softmax helpers, SwiGLU and RMSNorm.
//   - PathGo, on every CPU and GOARCH (and the only one with -tags purego): plain Go.
//
// Paths round differently (each within float32 reassociation error of the references),
// so tests compare every path with the reference, and the golden tests of transformer and
// lora run once per path (internal/reftest.BothPaths). The element-wise kernels of the
// Llama family are the exception: SwiGLU, RMSNorm and the attention's row softmax give
// the same bits on every path. Their vector exponential (vexpf_amd64.s) is expf's
// operations lane by lane, bit for bit expf on all 2^32 inputs; RMSNorm sums its row
// statistics in 16 float64 partial sums on every path; the softmax keeps its float32
// sum in key order. SetPureGo(on) is SetPath(PathGo) or
// SetPath of the best path.
//
// The package knows nothing of spago, of autograd or of model checkpoints; the
// transformer package wraps these kernels as spago autograd functions.
package kernels
