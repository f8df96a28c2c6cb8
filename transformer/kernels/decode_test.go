package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/internal/numtest"
)

// decodeRand returns n floats uniform in [−1, 1).
func decodeRand(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(2*rng.Float64() - 1)
	}
	return x
}

// decodeGemvShapes are (K, N) pairs: degenerate, odd, and GPT-2 small's projections
// (large enough to run in parallel).
var decodeGemvShapes = [][2]int{{1, 1}, {3, 5}, {7, 13}, {8, 8}, {5, 257}, {64, 192}, {129, 515}, {768, 2304}, {3072, 768}}

// onEveryPath runs f as a subtest on every kernel path this CPU supports (Paths), each
// selected package-wide with SetPath.
func onEveryPath(t *testing.T, f func(t *testing.T)) {
	for _, path := range gemmPaths() {
		t.Run(path.name, func(t *testing.T) {
			defer path.use()()
			f(t)
		})
	}
}

func TestVecMatMatchesRef(t *testing.T) { onEveryPath(t, testVecMatMatchesRef) }

func testVecMatMatchesRef(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range decodeGemvShapes {
		K, N := s[0], s[1]
		for _, withBias := range []bool{false, true} {
			name := fmt.Sprintf("VecMat(K=%d, N=%d, bias=%v)", K, N, withBias)
			x, w := decodeRand(rng, K), decodeRand(rng, K*N)
			var bias []float32
			if withBias {
				bias = decodeRand(rng, N)
			}
			got, want := make([]float32, N), make([]float32, N)
			VecMat(got, x, w, bias, K, N)
			vecMatRef(want, x, w, bias, K, N)
			numtest.AssertClose(t, name, got, want, 1e-6*float64(K+1))
			// The result does not depend on the number of goroutines.
			one := make([]float32, N)
			withProcs(1, func() { VecMat(one, x, w, bias, K, N) })
			assert.Equal(t, one, got, "%s: one goroutine differs from several", name)
		}
	}
}

// withProcs runs f with GOMAXPROCS set to n.
func withProcs(n int, f func()) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(n))
	f()
}

func TestMatVecMatchesRef(t *testing.T) { onEveryPath(t, testMatVecMatchesRef) }

func testMatVecMatchesRef(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, s := range append(decodeGemvShapes, [2]int{1031, 768}) {
		N, K := s[1], s[0]
		name := fmt.Sprintf("MatVec(N=%d, K=%d)", N, K)
		x, w := decodeRand(rng, K), decodeRand(rng, K*N)
		got, want := make([]float32, N), make([]float32, N)
		MatVec(got, w, x, N, K)
		matVecRef(want, w, x, N, K)
		numtest.AssertClose(t, name, got, want, 1e-6*float64(K+1))
		one := make([]float32, N)
		withProcs(1, func() { MatVec(one, w, x, N, K) })
		assert.Equal(t, one, got, "%s: one goroutine differs from several", name)
	}
}

func TestGemvPanicsOnShortBuffers(t *testing.T) {
	assert.Panics(t, func() { VecMat(make([]float32, 3), make([]float32, 2), make([]float32, 5), nil, 2, 3) })
	assert.Panics(t, func() { VecMat(make([]float32, 3), make([]float32, 2), make([]float32, 6), make([]float32, 2), 2, 3) })
	assert.Panics(t, func() { MatVec(make([]float32, 2), make([]float32, 6), make([]float32, 2), 3, 2) })
}

// TestCachedAttentionMatchesFull runs AttentionForward over whole sequences of L tokens,
// then CachedAttentionForward for their last T tokens against a cache holding all L keys
// and values: the rows must agree, and so must the plain reference.
func TestCachedAttentionMatchesFull(t *testing.T) { onEveryPath(t, testCachedAttentionMatchesFull) }

func testCachedAttentionMatchesFull(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, s := range []struct{ L, T, C, NH int }{
		{1, 1, 4, 1}, {5, 2, 6, 3}, {9, 9, 12, 4}, {17, 1, 10, 2}, {33, 7, 64, 4}, {40, 40, 24, 3},
		{160, 1, 768, 12}, {200, 5, 96, 12},
	} {
		L, T, C, NH := s.L, s.T, s.C, s.NH
		P := L - T
		name := fmt.Sprintf("L=%d T=%d C=%d NH=%d", L, T, C, NH)
		qkv := decodeRand(rng, L*3*C)
		for i := range qkv {
			qkv[i] *= 3 // sharper softmax than uniform
		}
		full := make([]float32, L*C)
		AttentionForward(full, make([]float32, NH*L*L), qkv, nil, 1, L, C, NH)

		// The cache has room for 3 more positions, filled with NaN: they must not be read.
		kc, vc := make([]float32, (L+3)*C), make([]float32, (L+3)*C)
		for i := range kc {
			kc[i], vc[i] = float32(math.NaN()), float32(math.NaN())
		}
		for t2 := range L {
			copy(kc[t2*C:(t2+1)*C], qkv[t2*3*C+C:][:C])
			copy(vc[t2*C:(t2+1)*C], qkv[t2*3*C+2*C:][:C])
		}
		newQKV := qkv[P*3*C:]
		got, ref := make([]float32, T*C), make([]float32, T*C)
		CachedAttentionForward(got, newQKV, kc, vc, T, P, C, NH)
		cachedAttentionGQARef(ref, newQKV, kc, vc, T, P, NH, NH, C/NH)
		numtest.AssertClose(t, "cached vs full "+name, got, full[P*C:], 5e-6)
		numtest.AssertClose(t, "reference vs full "+name, ref, full[P*C:], 5e-6)
	}
}

// TestCachedAttentionHeadsMatchesGQA: on every path, with several goroutines or one,
// the head-by-head cache layout gives CachedAttentionForwardGQA's bits on the same keys
// and values, and reads nothing past each head's P+T positions (NaN there).
func TestCachedAttentionHeadsMatchesGQA(t *testing.T) {
	onEveryPath(t, testCachedAttentionHeadsMatchesGQA)
}

func testCachedAttentionHeadsMatchesGQA(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, s := range []struct{ T, P, NH, KVH, hs int }{
		{1, 0, 1, 1, 4}, {2, 3, 4, 2, 8}, {1, 159, 12, 12, 64}, {5, 40, 9, 3, 64}, {7, 9, 6, 1, 24}, {32, 0, 12, 12, 64},
	} {
		T, P, NH, KVH, hs := s.T, s.P, s.NH, s.KVH, s.hs
		L, KC, stride := P+T, KVH*hs, P+T+3
		name := fmt.Sprintf("T=%d P=%d NH=%d KVH=%d hs=%d", T, P, NH, KVH, hs)
		qkv := decodeRand(rng, T*(NH+2*KVH)*hs)
		kc, vc := decodeRand(rng, L*KC), decodeRand(rng, L*KC)
		kh, vh := make([]float32, KVH*stride*hs), make([]float32, KVH*stride*hs)
		for i := range kh {
			kh[i], vh[i] = float32(math.NaN()), float32(math.NaN())
		}
		for t2 := range L {
			for h := range KVH {
				copy(kh[(h*stride+t2)*hs:][:hs], kc[t2*KC+h*hs:])
				copy(vh[(h*stride+t2)*hs:][:hs], vc[t2*KC+h*hs:])
			}
		}
		want, got, one := make([]float32, T*NH*hs), make([]float32, T*NH*hs), make([]float32, T*NH*hs)
		CachedAttentionForwardGQA(want, qkv, kc, vc, T, P, NH, KVH, hs)
		CachedAttentionForwardHeads(got, qkv, kh, vh, T, P, NH, KVH, hs, stride)
		require.Equal(t, bits(want), bits(got), name)
		withProcs(1, func() { CachedAttentionForwardHeads(one, qkv, kh, vh, T, P, NH, KVH, hs, stride) })
		require.Equal(t, bits(want), bits(one), "%s on one goroutine", name)
	}
	f := make([]float32, 64)
	assert.Panics(t, func() { CachedAttentionForwardHeads(f, f, f, f, 1, 2, 2, 1, 4, 2) })              // stride < P+T
	assert.Panics(t, func() { CachedAttentionForwardHeads(f, f, f[:15], f, 1, 2, 2, 1, 4, 4) })         // kcache
	assert.Panics(t, func() { CachedAttentionForwardHeads(f, f, f, f, 1, 2, 3, 2, 4, 4) })              // NH % KVH
	assert.NotPanics(t, func() { CachedAttentionForwardHeads(f, f, f[:16], f[:16], 1, 2, 2, 1, 4, 4) }) // exact
}

// BenchmarkGemv times the GEMVs of one GPT-2-small decode step; GB/s counts the weights
// read.
func BenchmarkGemv(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	defer SetPath(SetPath(CurrentPath()))
	for _, s := range []struct {
		name string
		K, N int
		lm   bool
	}{{"c_attn", 768, 2304, false}, {"c_fc", 768, 3072, false}, {"mlp.c_proj", 3072, 768, false}, {"lm_head", 768, 50257, true}} {
		x, w, out := decodeRand(rng, s.K), decodeRand(rng, s.K*s.N), make([]float32, s.N)
		for _, p := range Paths() {
			b.Run(s.name+"/"+p.String(), func(b *testing.B) {
				SetPath(p)
				b.ReportAllocs()
				for b.Loop() {
					if s.lm {
						MatVec(out, w, x, s.N, s.K)
					} else {
						VecMat(out, x, w, nil, s.K, s.N)
					}
				}
				b.ReportMetric(float64(4*s.K*s.N)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			})
		}
	}
}

func TestGeluForwardParallel(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{1, 7, geluBlock, geluBlock + 1, 3072, 10000} {
		x := decodeRand(rng, n)
		for i := range x {
			x[i] *= 6
		}
		want := make([]float32, n)
		GeluForward(want, x, n)
		got := make([]float32, n)
		GeluForwardParallel(got, x, n)
		assert.Equal(t, want, got, "GeluForwardParallel(%d)", n)
		GeluForwardParallel(x, x, n) // in place
		assert.Equal(t, want, x, "GeluForwardParallel(%d) in place", n)
	}
}

// BenchmarkGemvModel runs the GEMVs of one GPT-2-small decode step over distinct weights
// (12 blocks and the LM head, 0.5 GB), as decoding does, so that they come from memory
// rather than cache; GB/s counts the weights read.
func BenchmarkGemvModel(b *testing.B) {
	const C, V, L = 768, 50257, 12
	rng := rand.New(rand.NewPCG(7, 9))
	shapes := [][2]int{{C, 3 * C}, {C, C}, {C, 4 * C}, {4 * C, C}}
	var ws [][]float32
	bytes := 4 * V * C
	for range L {
		for _, s := range shapes {
			ws = append(ws, decodeRand(rng, s[0]*s[1]))
			bytes += 4 * s[0] * s[1]
		}
	}
	wte := decodeRand(rng, V*C)
	x, out := decodeRand(rng, 4*C), make([]float32, V)
	b.ReportAllocs()
	for b.Loop() {
		for i, w := range ws {
			s := shapes[i%len(shapes)]
			VecMat(out, x, w, nil, s[0], s[1])
		}
		MatVec(out, wte, x, V, C)
	}
	b.ReportMetric(float64(bytes)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
}
