package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// attentionBenchShapes are GPT-2 small's attention (C = 768, NH = 12) on a training
// batch of 512 rows, as 4 sequences of 128 tokens and as one of 512.
var attentionBenchShapes = []struct{ B, T, C, NH int }{{4, 128, 768, 12}, {1, 512, 768, 12}}

// BenchmarkAttention times AttentionForward and AttentionBackward on GPT-2 shapes, with
// packing segments, AttentionForwardGQA and AttentionBackwardGQA on SmolLM2-135M's heads,
// and CachedAttentionForward for one new token after 511 cached ones.
func BenchmarkAttention(b *testing.B) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, s := range attentionBenchShapes {
		B, T, C, NH := s.B, s.T, s.C, s.NH
		qkv := randSlice(rng, B*T*3*C, 1)
		seg := make([]int, B*T)
		for i := range seg {
			seg[i] = (i % T) / 100
		}
		out, att := make([]float32, B*T*C), make([]float32, B*NH*T*T)
		dout, dqkv := randSlice(rng, B*T*C, 1), make([]float32, B*T*3*C)
		name := fmt.Sprintf("B%d_T%d", B, T)
		b.Run("fwd/"+name, func(b *testing.B) {
			for b.Loop() {
				AttentionForward(out, att, qkv, seg, B, T, C, NH)
			}
		})
		AttentionForward(out, att, qkv, seg, B, T, C, NH)
		b.Run("bwd/"+name, func(b *testing.B) {
			for b.Loop() {
				AttentionBackward(dqkv, dout, qkv, att, B, T, C, NH)
			}
		})
	}
	// SmolLM2-135M's grouped-query attention: 9 query heads on 3 key/value heads of 64.
	{
		const B, T, NH, KVH, hs = 4, 128, 9, 3, 64
		qkv := randSlice(rng, B*T*(NH+2*KVH)*hs, 1)
		out, att := make([]float32, B*T*NH*hs), make([]float32, B*NH*T*T)
		dout, dqkv := randSlice(rng, B*T*NH*hs, 1), make([]float32, B*T*(NH+2*KVH)*hs)
		b.Run("fwd/smollm2_B4_T128", func(b *testing.B) {
			for b.Loop() {
				AttentionForwardGQA(out, att, qkv, nil, B, T, NH, KVH, hs)
			}
		})
		b.Run("bwd/smollm2_B4_T128", func(b *testing.B) {
			for b.Loop() {
				AttentionBackwardGQA(dqkv, dout, qkv, att, B, T, NH, KVH, hs)
			}
		})
	}
	const T, P, C, NH = 1, 511, 768, 12
	qkv := randSlice(rng, T*3*C, 1)
	kc, vc := randSlice(rng, (P+T)*C, 1), randSlice(rng, (P+T)*C, 1)
	out := make([]float32, T*C)
	b.Run("cached/P511", func(b *testing.B) {
		for b.Loop() {
			CachedAttentionForward(out, qkv, kc, vc, T, P, C, NH)
		}
	})
}

// BenchmarkSoftmax times the attention's causal row softmax alone over every row of one
// head's T×T scores (copied in afresh each time; the copy is part of the time), without
// and with packing segments.
func BenchmarkSoftmax(b *testing.B) {
	rng := rand.New(rand.NewPCG(33, 34))
	for _, T := range []int{128, 512} {
		src, p := randSlice(rng, T*T, 3), make([]float32, T*T)
		seg := make([]int, T)
		for i := range seg {
			seg[i] = i / 100
		}
		for _, s := range []struct {
			name string
			seg  []int
		}{{"", nil}, {"_seg", seg}} {
			b.Run(fmt.Sprintf("T%d%s", T, s.name), func(b *testing.B) {
				path := CurrentPath()
				loopCPU(b, func() {
					copy(p, src)
					for t := range T {
						causalSoftmax(path, p[t*T:(t+1)*T], t, s.seg)
					}
				})
			})
		}
	}
}
