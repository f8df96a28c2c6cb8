package kernels

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/llmtune/llmtune/internal/numtest"
)

// TestSetPureGoSwitchesEveryKernel runs each kernel that has an assembly path, with
// SetPureGo on and (where the CPU has the assembly) off: the result must match the plain
// reference, and be bit for bit what the path SetPureGo selects computes when called
// directly, so a kernel that ignored SetPureGo would fail in one of the two modes.
func TestSetPureGoSwitchesEveryKernel(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	const K, N = 40, 52 // one work item: the call stays on this goroutine
	x, w, bias := decodeRand(rng, K), decodeRand(rng, K*N), decodeRand(rng, N)
	const T, P, C, NH = 2, 5, 32, 2 // hs = 16: the attention's assembly path applies
	qkv, kc, vc := decodeRand(rng, T*3*C), decodeRand(rng, (P+T)*C), decodeRand(rng, (P+T)*C)
	// The same with grouped-query heads: 2 query heads of 16 on one key/value head.
	gqkv, gkc, gvc := decodeRand(rng, T*2*C), decodeRand(rng, (P+T)*C/2), decodeRand(rng, (P+T)*C/2)
	gemm := gemmCase{M: 9, N: 37, K: 45, alpha: 1, beta: 0}
	ga, lda, gb, ldb, gc, ldc := gemm.operands(rng)

	kernels := []struct {
		name string
		run  func() []float32 // the kernel as callers call it
		path func(asm bool) []float32
		ref  func() []float32
		tol  float64
	}{
		{
			name: "VecMat",
			run:  func() []float32 { out := make([]float32, N); VecMat(out, x, w, bias, K, N); return out },
			path: func(asm bool) []float32 {
				out := append([]float32(nil), bias...)
				axpyRows(out, x, w, N, asm)
				return out
			},
			ref: func() []float32 { out := make([]float32, N); vecMatRef(out, x, w, bias, K, N); return out },
			tol: 1e-5,
		},
		{
			name: "MatVec",
			run:  func() []float32 { out := make([]float32, N); MatVec(out, w, x, N, K); return out },
			path: func(asm bool) []float32 {
				out := make([]float32, N)
				(&matVecJob{out: out, w: w, x: x, K: K, N: N, asm: asm}).rows(0, N)
				return out
			},
			ref: func() []float32 { out := make([]float32, N); matVecRef(out, w, x, N, K); return out },
			tol: 1e-5,
		},
		{
			name: "CachedAttentionForward",
			run: func() []float32 {
				out := make([]float32, T*C)
				CachedAttentionForward(out, qkv, kc, vc, T, P, C, NH)
				return out
			},
			path: func(asm bool) []float32 {
				out := make([]float32, T*C)
				a := &cachedAttention{out: out, qkv: qkv, k: kc, v: vc, T: T, P: P, NH: NH, KVH: NH, hs: C / NH, scale: 0.25, asm: asm}
				for i := range T * NH {
					a.pair(i, make([]float32, P+T))
				}
				return out
			},
			ref: func() []float32 {
				out := make([]float32, T*C)
				cachedAttentionGQARef(out, qkv, kc, vc, T, P, NH, NH, C/NH)
				return out
			},
			tol: 1e-6,
		},
		{
			name: "CachedAttentionForwardGQA",
			run: func() []float32 {
				out := make([]float32, T*C)
				CachedAttentionForwardGQA(out, gqkv, gkc, gvc, T, P, 2, 1, C/2)
				return out
			},
			path: func(asm bool) []float32 {
				out := make([]float32, T*C)
				a := &cachedAttention{out: out, qkv: gqkv, k: gkc, v: gvc, T: T, P: P, NH: 2, KVH: 1, hs: C / 2, scale: 0.25, asm: asm}
				for i := range T * 2 {
					a.pair(i, make([]float32, P+T))
				}
				return out
			},
			ref: func() []float32 {
				out := make([]float32, T*C)
				cachedAttentionGQARef(out, gqkv, gkc, gvc, T, P, 2, 1, C/2)
				return out
			},
			tol: 1e-6,
		},
		{
			name: "Sgemm",
			run: func() []float32 {
				c := append([]float32(nil), gc...)
				Sgemm(false, false, gemm.M, gemm.N, gemm.K, 1, ga, lda, gb, ldb, 0, c, ldc)
				return c
			},
			path: func(asm bool) []float32 {
				bl := &goBlocking
				if asm {
					bl = &asmBlocking
				}
				c := append([]float32(nil), gc...)
				sgemm(bl, false, false, gemm.M, gemm.N, gemm.K, 1, ga, lda, gb, ldb, 0, c, ldc)
				return c
			},
			ref: func() []float32 {
				c := append([]float32(nil), gc...)
				sgemmRef(false, false, gemm.M, gemm.N, gemm.K, 1, ga, lda, gb, ldb, 0, c, ldc)
				return c
			},
			tol: 1e-4,
		},
	}
	for _, path := range gemmPaths() {
		t.Run(path.name, func(t *testing.T) {
			defer path.use()()
			asm := path.name == "asm"
			for _, k := range kernels {
				got := k.run()
				numtest.AssertClose(t, k.name+" vs reference", got, k.ref(), k.tol)
				assert.Equal(t, k.path(asm), got, "%s with SetPureGo(%v) did not run the %s path", k.name, !asm, path.name)
				if asm {
					assert.NotEqual(t, k.path(false), got, "%s: the assembly and pure-Go paths agree bit for bit, so this test cannot tell them apart", k.name)
				}
			}
		})
	}
}
