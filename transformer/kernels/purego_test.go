package kernels

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/llmtune/llmtune/internal/numtest"
)

// TestSetPathSwitchesEveryKernel runs each kernel that has an assembly path on every
// path this CPU supports: the result must match the plain reference, and be bit for bit
// what the path SetPath selects computes when called directly, so a kernel that ignored
// SetPath would fail on one of the paths.
func TestSetPathSwitchesEveryKernel(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	const K, N = 40, 52 // one work item: the call stays on this goroutine
	x, w, bias := decodeRand(rng, K), decodeRand(rng, K*N), decodeRand(rng, N)
	wh := make([]uint16, K*N) // w cut to bfloat16, and widened
	for i, v := range w {
		wh[i] = uint16(math.Float32bits(v) >> 16)
	}
	wf := widenRef(wh)
	const T, P, C, NH = 2, 5, 32, 2 // hs = 16: the attention's assembly path applies
	qkv, kc, vc := decodeRand(rng, T*3*C), decodeRand(rng, (P+T)*C), decodeRand(rng, (P+T)*C)
	// The same with grouped-query heads: 2 query heads of 16 on one key/value head.
	gqkv, gkc, gvc := decodeRand(rng, T*2*C), decodeRand(rng, (P+T)*C/2), decodeRand(rng, (P+T)*C/2)
	// beta != 0 and M < 12 make the AVX2 and AVX-512 paths round differently: rows 0..5 are
	// whole 6×16 tiles (beta applied by the kernel's FMA) on AVX2, edge tiles (beta applied
	// in Go) on AVX-512; beta = 0.3 so that beta·C rounds.
	gemm := gemmCase{M: 9, N: 37, K: 45, alpha: 1, beta: 0.3}
	ga, lda, gb, ldb, gc, ldc := gemm.operands(rng)

	kernels := []struct {
		name string
		run  func() []float32 // the kernel as callers call it
		path func(p Path) []float32
		ref  func() []float32
		tol  float64
	}{
		{
			name: "VecMat",
			run:  func() []float32 { out := make([]float32, N); VecMat(out, x, w, bias, K, N); return out },
			path: func(p Path) []float32 {
				out := append([]float32(nil), bias...)
				axpyRows(out, x, w, N, p != PathGo)
				return out
			},
			ref: func() []float32 { out := make([]float32, N); vecMatRef(out, x, w, bias, K, N); return out },
			tol: 1e-5,
		},
		{
			name: "MatVec",
			run:  func() []float32 { out := make([]float32, N); MatVec(out, w, x, N, K); return out },
			path: func(p Path) []float32 {
				out := make([]float32, N)
				matVecRows(out, w, x, 0, N, p != PathGo)
				return out
			},
			ref: func() []float32 { out := make([]float32, N); matVecRef(out, w, x, N, K); return out },
			tol: 1e-5,
		},
		{
			name: "VecMatBF16",
			run:  func() []float32 { out := make([]float32, N); VecMatBF16(out, x, wh, bias, K, N); return out },
			path: func(p Path) []float32 {
				out := append([]float32(nil), bias...)
				axpyRowsBF16(out, x, wh, N, p)
				return out
			},
			ref: func() []float32 { out := make([]float32, N); vecMatRef(out, x, wf, bias, K, N); return out },
			tol: 1e-5,
		},
		{
			name: "MatVecBF16",
			run:  func() []float32 { out := make([]float32, N); MatVecBF16(out, wh, x, N, K); return out },
			path: func(p Path) []float32 {
				out := make([]float32, N)
				matVecRowsBF16(out, wh, x, 0, N, p)
				return out
			},
			ref: func() []float32 { out := make([]float32, N); matVecRef(out, wf, x, N, K); return out },
			tol: 1e-5,
		},
		{
			name: "CachedAttentionForward",
			run: func() []float32 {
				out := make([]float32, T*C)
				CachedAttentionForward(out, qkv, kc, vc, T, P, C, NH)
				return out
			},
			path: func(p Path) []float32 {
				out := make([]float32, T*C)
				a := &cachedAttention{out: out, qkv: qkv, k: kc, v: vc, T: T, P: P, NH: NH, KVH: NH, hs: C / NH, rowStride: C, headStride: C / NH, scale: 0.25, asm: p != PathGo}
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
			path: func(p Path) []float32 {
				out := make([]float32, T*C)
				a := &cachedAttention{out: out, qkv: gqkv, k: gkc, v: gvc, T: T, P: P, NH: 2, KVH: 1, hs: C / 2, rowStride: C / 2, headStride: C / 2, scale: 0.25, asm: p != PathGo}
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
				Sgemm(false, false, gemm.M, gemm.N, gemm.K, 1, ga, lda, gb, ldb, gemm.beta, c, ldc)
				return c
			},
			path: func(p Path) []float32 {
				bl := blockingFor(p)
				c := append([]float32(nil), gc...)
				sgemm(bl, false, false, gemm.M, gemm.N, gemm.K, 1, ga, lda, gb, ldb, gemm.beta, c, ldc)
				return c
			},
			ref: func() []float32 {
				c := append([]float32(nil), gc...)
				sgemmRef(false, false, gemm.M, gemm.N, gemm.K, 1, ga, lda, gb, ldb, gemm.beta, c, ldc)
				return c
			},
			tol: 1e-4,
		},
	}
	for _, path := range gemmPaths() {
		t.Run(path.name, func(t *testing.T) {
			defer path.use()()
			for _, k := range kernels {
				got := k.run()
				numtest.AssertClose(t, k.name+" vs reference", got, k.ref(), k.tol)
				assert.Equal(t, k.path(path.path), got, "%s with SetPath(%v) did not run that path", k.name, path.path)
				if path.path != PathGo {
					assert.NotEqual(t, k.path(PathGo), got, "%s: the %v and pure-Go paths agree bit for bit, so this test cannot tell them apart", k.name, path.path)
				}
				if k.name == "Sgemm" && path.path == PathAVX512 {
					assert.NotEqual(t, k.path(PathAVX2), got, "Sgemm: the AVX-512 and AVX2 paths agree bit for bit, so this test cannot tell them apart")
				}
			}
		})
	}
}

// TestSetPathSwitchesElementwiseKernels checks that the kernels whose paths give the
// same bits (SwiGLU, GELU, LayerNorm, RMSNorm, the attention's softmax; VecMatBF16 on AVX2 and AVX-512;
// WidenBF16, MatVecQ8) run the path SetPath selects: their results cannot show it, so pathSeen
// records the path of every piece of work.
func TestSetPathSwitchesElementwiseKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	const n = 3*swigluGrain + 5 // several parallel ranges
	gate, up, out := randSlice(rng, n, 2), randSlice(rng, n, 1), make([]float32, n)
	const N, C = 3*lnGrain + 1, 40
	x, w, rstd, y := randSlice(rng, N*C, 1), randSlice(rng, C, 1), make([]float32, N), make([]float32, N*C)
	const B, T, NH, KVH, hs = 2, 9, 4, 2, 8
	qkv := randSlice(rng, B*T*(NH+2*KVH)*hs, 1)
	att, aout := make([]float32, B*NH*T*T), make([]float32, B*T*NH*hs)
	const K, M = 40, 52 // the bfloat16 GEMVs: one work item each
	wh, bx, by := randBF16(rng, K*M), randSlice(rng, K, 1), make([]float32, K*M)
	q8 := randQ8(rng, 64*M) // MatVecQ8: one work item
	var mu sync.Mutex
	seen := map[string]map[Path]int{}
	pathSeen = func(kernel string, p Path) {
		mu.Lock()
		defer mu.Unlock()
		if seen[kernel] == nil {
			seen[kernel] = map[Path]int{}
		}
		seen[kernel][p]++
	}
	defer func() { pathSeen = nil }()
	for _, p := range Paths() {
		clear(seen)
		func() {
			defer SetPath(SetPath(p))
			SwiGLUForward(out, gate, up, n)
			SwiGLUBackward(out, nil, up, gate, up, n)
			GeluForward(out, gate, n)
			GeluBackward(out, gate, up, n)
			LayerNormForward(y, rstd, rstd, x, w, w, N, C, 1e-5)
			LayerNormBackward(y, w, w, x, x, w, rstd, rstd, N, C)
			RMSNormForward(y, rstd, x, w, N, C, 1e-5)
			RMSNormBackward(y, w, x, x, w, rstd, N, C)
			AttentionForwardGQA(aout, att, qkv, nil, B, T, NH, KVH, hs)
			VecMatBF16(by, bx, wh, nil, K, M)
			MatVecBF16(by, wh, bx, M, K)
			WidenBF16(by, wh)
			MatVecQ8(by, q8, randSlice(rng, 64, 1), M, 64)
		}()
		want := map[string]map[Path]int{
			"SwiGLUForward":     {p: 4},
			"SwiGLUBackward":    {p: 4},
			"GeluForward":       {p: 4},
			"GeluBackward":      {p: 4},
			"LayerNormForward":  {p: 4},
			"LayerNormBackward": {p: 4},
			"RMSNormForward":    {p: 4},
			"RMSNormBackward":   {p: 4},
			"causalSoftmax":     {p: B * NH * T},
			"VecMatBF16":        {p: 1},
			"MatVecBF16":        {p: 1},
			"WidenBF16":         {p: 1},
			"MatVecQ8":          {p: 1},
		}
		assert.Equal(t, want, seen, "SetPath(%v)", p)
	}
}

// TestElementwiseRowsDoNotAllocate checks that the per-row work of the softmax and
// RMSNorm (run millions of times a step) allocates nothing on any path: their stack
// buffers must not escape.
func TestElementwiseRowsDoNotAllocate(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	const T, C = 37, 45
	row, x, w := randSlice(rng, T, 1), randSlice(rng, C, 1), randSlice(rng, C, 1)
	out, rstd, d := make([]float32, C), make([]float32, 1), make([]float32, C)
	gate := randSlice(rng, T, 3)
	for _, p := range Paths() {
		allocs := testing.AllocsPerRun(20, func() {
			causalSoftmax(p, row, T-2, nil)
			swigluForward(p, out, gate, row)
			swigluBackward(p, d, out, row, gate, row)
			rmsNormForwardRows(p, out, rstd, x, w, 1, C, 1e-5)
			rmsNormBackwardRows(p, d, out, x, x, w, rstd, 1, C)
		})
		assert.Zero(t, allocs, "%v: allocations per row", p)
	}
}
