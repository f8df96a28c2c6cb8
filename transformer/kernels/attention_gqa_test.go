package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/llmtune/llmtune/internal/numtest"
)

// gqaShapes are (NH, KVH, hs): multi-head (KVH = NH), grouped, multi-query (KVH = 1),
// odd head sizes, and SmolLM2-135M's heads (9 query heads on 3 key/value heads of 64).
var gqaShapes = []struct{ NH, KVH, hs int }{{3, 3, 16}, {4, 2, 8}, {6, 1, 5}, {4, 4, 7}, {9, 3, 64}}

// gqaSeg returns segment ids for B sequences of T tokens: packed examples of 5 tokens,
// or nil.
func gqaSeg(B, T int, packed bool) []int {
	if !packed {
		return nil
	}
	seg := make([]int, B*T)
	for i := range seg {
		seg[i] = (i % T) / 5
	}
	return seg
}

func TestAttentionGQAAgainstRef(t *testing.T) { onEveryPath(t, testAttentionGQAAgainstRef) }

func testAttentionGQAAgainstRef(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	const B = 2
	for _, s := range gqaShapes {
		for _, T := range []int{1, 7, 33, 65} {
			for _, packed := range []bool{false, true} {
				NH, KVH, hs := s.NH, s.KVH, s.hs
				name := fmt.Sprintf("NH%d/KVH%d/hs%d/T%d/packed=%v", NH, KVH, hs, T, packed)
				RS, C := (NH+2*KVH)*hs, NH*hs
				qkv := randSlice(rng, B*T*RS, 1)
				seg := gqaSeg(B, T, packed)
				out, att := make([]float32, B*T*C), make([]float32, B*NH*T*T)
				outR, attR := make([]float32, B*T*C), make([]float32, B*NH*T*T)
				AttentionForwardGQA(out, att, qkv, seg, B, T, NH, KVH, hs)
				attentionForwardGQARef(outR, attR, qkv, seg, B, T, NH, KVH, hs)
				numtest.AssertClose(t, name+" out", out, outR, 1e-5)
				numtest.AssertClose(t, name+" att", att, attR, 1e-6)
				// The backward adds: start from a nonzero gradient.
				dout, d0 := randSlice(rng, B*T*C, 1), randSlice(rng, B*T*RS, 1)
				d, dR := append([]float32(nil), d0...), append([]float32(nil), d0...)
				AttentionBackwardGQA(d, dout, qkv, att, B, T, NH, KVH, hs)
				attentionBackwardGQARef(dR, dout, qkv, attR, B, T, NH, KVH, hs)
				numtest.AssertClose(t, name+" dqkv", d, dR, 1e-5)
				// Neither depends on the number of cores.
				out1, att1, d1 := make([]float32, B*T*C), make([]float32, B*NH*T*T), append([]float32(nil), d0...)
				withProcs(1, func() {
					AttentionForwardGQA(out1, att1, qkv, seg, B, T, NH, KVH, hs)
					AttentionBackwardGQA(d1, dout, qkv, att1, B, T, NH, KVH, hs)
				})
				assert.Equal(t, out, out1, "%s: out on one core", name)
				assert.Equal(t, d, d1, "%s: dqkv on one core", name)
			}
		}
	}
}

// repeatKV expands GQA rows [q (NH·hs) | k (KVH·hs) | v (KVH·hs)] into multi-head rows
// [q | k | v] of NH·hs each, repeating every key/value head for NH/KVH query heads, as
// Hugging Face's repeat_kv does.
func repeatKV(qkv []float32, N, NH, KVH, hs int) []float32 {
	G, C, RS := NH/KVH, NH*hs, (NH+2*KVH)*hs
	m := make([]float32, N*3*C)
	for n := range N {
		src, dst := qkv[n*RS:], m[n*3*C:]
		copy(dst[:C], src[:C])
		for h := range NH {
			kv := h / G
			copy(dst[C+h*hs:][:hs], src[C+kv*hs:][:hs])
			copy(dst[2*C+h*hs:][:hs], src[C+KVH*hs+kv*hs:][:hs])
		}
	}
	return m
}

// TestAttentionGQAMatchesRepeatKV checks AttentionForwardGQA against multi-head
// AttentionForward on repeat_kv-expanded inputs, and its backward against the
// multi-head gradients summed over the query heads sharing each key/value head.
func TestAttentionGQAMatchesRepeatKV(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	const B, T = 3, 37
	for _, s := range gqaShapes {
		NH, KVH, hs := s.NH, s.KVH, s.hs
		G, C, RS := NH/KVH, NH*hs, (NH+2*KVH)*hs
		name := fmt.Sprintf("NH%d/KVH%d/hs%d", NH, KVH, hs)
		qkv := randSlice(rng, B*T*RS, 1)
		seg := gqaSeg(B, T, true)
		out, att := make([]float32, B*T*C), make([]float32, B*NH*T*T)
		AttentionForwardGQA(out, att, qkv, seg, B, T, NH, KVH, hs)
		mqkv := repeatKV(qkv, B*T, NH, KVH, hs)
		mout, matt := make([]float32, B*T*C), make([]float32, B*NH*T*T)
		AttentionForward(mout, matt, mqkv, seg, B, T, C, NH)
		numtest.AssertClose(t, name+" out", out, mout, 1e-6)
		numtest.AssertClose(t, name+" att", att, matt, 1e-7)

		dout := randSlice(rng, B*T*C, 1)
		d, md := make([]float32, B*T*RS), make([]float32, B*T*3*C)
		AttentionBackwardGQA(d, dout, qkv, att, B, T, NH, KVH, hs)
		AttentionBackward(md, dout, mqkv, matt, B, T, C, NH)
		want := make([]float32, B*T*RS)
		for n := range B * T {
			src, dst := md[n*3*C:], want[n*RS:]
			copy(dst[:C], src[:C])
			for h := range NH {
				kv := h / G
				AddTo(dst[C+kv*hs:], src[C+h*hs:], hs)
				AddTo(dst[C+KVH*hs+kv*hs:], src[2*C+h*hs:], hs)
			}
		}
		numtest.AssertClose(t, name+" dqkv", d, want, 1e-5)
	}
}

// TestAttentionGQABackwardFiniteDiff checks AttentionBackwardGQA against central
// differences of AttentionForwardGQA through the loss Σ out ⊙ w.
func TestAttentionGQABackwardFiniteDiff(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 46))
	const B, T = 2, 9
	for _, s := range []struct{ NH, KVH, hs int }{{2, 2, 4}, {4, 2, 3}, {3, 1, 4}} {
		for _, packed := range []bool{false, true} {
			NH, KVH, hs := s.NH, s.KVH, s.hs
			C, RS := NH*hs, (NH+2*KVH)*hs
			qkv := randSlice(rng, B*T*RS, 1)
			seg := gqaSeg(B, T, packed)
			w := randSlice(rng, B*T*C, 1)
			out, att := make([]float32, B*T*C), make([]float32, B*NH*T*T)
			loss := func() float64 {
				AttentionForwardGQA(out, att, qkv, seg, B, T, NH, KVH, hs)
				return dotLoss(out, w)
			}
			loss()
			d := make([]float32, B*T*RS)
			AttentionBackwardGQA(d, w, qkv, att, B, T, NH, KVH, hs)
			name := fmt.Sprintf("NH%d/KVH%d/hs%d/packed=%v", NH, KVH, hs, packed)
			checkGradFD(t, name, qkv, d, sampleIdx(len(qkv), 400), 1e-2, 2e-3, loss)
		}
	}
}

func TestAttentionGQAPanics(t *testing.T) {
	buf := make([]float32, 1<<12)
	assert.Panics(t, func() { AttentionForwardGQA(buf, buf, buf, nil, 1, 4, 3, 2, 4) }, "NH not a multiple of KVH")
	assert.Panics(t, func() { AttentionForwardGQA(buf, buf, buf[:10], nil, 1, 4, 4, 2, 4) }, "qkv too short")
	assert.Panics(t, func() { AttentionBackwardGQA(buf[:10], buf, buf, buf, 1, 4, 4, 2, 4) }, "dqkv too short")
	assert.Panics(t, func() { AttentionForward(buf, buf, buf, nil, 1, 4, 10, 4) }, "C not a multiple of NH")
	assert.Panics(t, func() { CachedAttentionForwardGQA(buf, buf, buf, buf, 1, 2, 4, 3, 4) }, "NH not a multiple of KVH")
	assert.Panics(t, func() { CachedAttentionForwardGQA(buf, buf, buf[:10], buf, 1, 2, 4, 2, 4) }, "kcache too short")
}

// TestCachedAttentionGQAMatchesFull runs AttentionForwardGQA over whole sequences of L
// tokens, then CachedAttentionForwardGQA for their last T tokens against caches holding
// all L keys and values: the rows must agree, and so must the plain reference.
func TestCachedAttentionGQAMatchesFull(t *testing.T) {
	onEveryPath(t, testCachedAttentionGQAMatchesFull)
}

func testCachedAttentionGQAMatchesFull(t *testing.T) {
	rng := rand.New(rand.NewPCG(47, 48))
	for _, s := range []struct{ L, T, NH, KVH, hs int }{
		{1, 1, 2, 1, 4}, {5, 2, 4, 2, 3}, {9, 9, 6, 3, 8}, {17, 1, 8, 2, 16}, {40, 7, 9, 3, 64},
		{200, 1, 32, 8, 64}, {120, 5, 14, 2, 64},
	} {
		L, T, NH, KVH, hs := s.L, s.T, s.NH, s.KVH, s.hs
		P := L - T
		C, KC, RS := NH*hs, KVH*hs, (NH+2*KVH)*hs
		name := fmt.Sprintf("L=%d T=%d NH=%d KVH=%d hs=%d", L, T, NH, KVH, hs)
		qkv := decodeRand(rng, L*RS)
		for i := range qkv {
			qkv[i] *= 3 // sharper softmax than uniform
		}
		full := make([]float32, L*C)
		AttentionForwardGQA(full, make([]float32, NH*L*L), qkv, nil, 1, L, NH, KVH, hs)

		// The cache has room for 3 more positions, filled with NaN: they must not be read.
		kc, vc := make([]float32, (L+3)*KC), make([]float32, (L+3)*KC)
		for i := range kc {
			kc[i], vc[i] = float32(math.NaN()), float32(math.NaN())
		}
		for t2 := range L {
			copy(kc[t2*KC:(t2+1)*KC], qkv[t2*RS+C:][:KC])
			copy(vc[t2*KC:(t2+1)*KC], qkv[t2*RS+C+KC:][:KC])
		}
		newQKV := qkv[P*RS:]
		got, ref := make([]float32, T*C), make([]float32, T*C)
		CachedAttentionForwardGQA(got, newQKV, kc, vc, T, P, NH, KVH, hs)
		cachedAttentionGQARef(ref, newQKV, kc, vc, T, P, NH, KVH, hs)
		numtest.AssertClose(t, "cached vs full "+name, got, full[P*C:], 5e-6)
		numtest.AssertClose(t, "reference vs full "+name, ref, full[P*C:], 5e-6)
		one := make([]float32, T*C)
		withProcs(1, func() { CachedAttentionForwardGQA(one, newQKV, kc, vc, T, P, NH, KVH, hs) })
		assert.Equal(t, got, one, "%s: one goroutine differs from several", name)
	}
}

// TestCausalSoftmaxPathsAgree checks that the attention's row softmax gives the pure-Go
// path's bits on every vector path: every row t of T×T scores for lengths around the
// vector widths, without segments and with segments of 5, alternating and random ones,
// on ordinary scores, scores spread over ±200 (whose exponentials underflow), and rows
// holding −Inf, +Inf or NaN.
func TestCausalSoftmaxPathsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(47, 48))
	inf := float32(math.Inf(1))
	for _, T := range []int{1, 2, 7, 8, 9, 16, 17, 33, 128, 130} {
		segs := map[string][]int{"nil": nil, "5": make([]int, T), "alt": make([]int, T), "rand": make([]int, T)}
		for i := range T {
			segs["5"][i], segs["alt"][i], segs["rand"][i] = i/5, i%2, rng.IntN(3)
		}
		for _, scale := range []float64{3, 200} {
			scores := randSlice(rng, T*T, scale)
			if T > 3 {
				scores[T+1], scores[2*T] = -inf, -inf // row 1: key 1, its own, at −Inf
				scores[3*T+1] = inf
				scores[(T-1)*T+T/2] = float32(math.NaN())
			}
			for name, seg := range segs {
				want := append([]float32(nil), scores...)
				for r := range T {
					causalSoftmax(PathGo, want[r*T:(r+1)*T], r, seg)
				}
				for _, p := range vectorPaths() {
					got := append([]float32(nil), scores...)
					for r := range T {
						causalSoftmax(p, got[r*T:(r+1)*T], r, seg)
					}
					assertSameBits(t, fmt.Sprintf("%v/T%d/scale%g/seg=%s", p, T, scale, name), got, want)
				}
			}
		}
	}
}
