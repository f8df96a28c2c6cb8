package kernels

import (
	"math"
	"slices"
	"sync/atomic"
)

// ropeGrain is how many rows one parallel range of the RoPE kernels covers.
const ropeGrain = 64

// ropeAngle returns cos θ and sin θ for θ = pos·invFreq, the angle a product in float32
// (Hugging Face's rotary embedding computes inv_freq·position_ids in float32), the
// cosine and sine taken in float64 and rounded to float32.
func ropeAngle(pos int, invFreq float32) (c, s float32) {
	theta := float32(pos) * invFreq
	sn, cs := math.Sincos(float64(theta))
	return float32(cs), float32(sn)
}

// RoPEForward applies rotary position embeddings in place to x (N, H·hs), H heads of hs
// channels per row, as Hugging Face's apply_rotary_pos_emb with rotate_half does for
// Llama and Qwen2 (the halves of a head rotate together, not interleaved pairs): row n
// sits at position pos[n], and for each head and each i < hs/2, with x1 = x[i],
// x2 = x[i+hs/2] of that head,
//
//	x1' = x1·cos θ − x2·sin θ
//	x2' = x2·cos θ + x1·sin θ,   θ = pos[n]·invFreq[i]
//
// (transformers' models/llama/modeling_llama.py: LlamaRotaryEmbedding, rotate_half,
// apply_rotary_pos_emb; Qwen2's are copies). The angle is a float32 product, as HF
// computes inv_freq·position_ids in float32; cos and sin are taken in float64 from it
// and rounded to float32 (torch's float32 cos and sin may differ by an ulp), and each
// product is rounded to float32 before the sum (no fused multiply-add). invFreq has
// hs/2 entries, rope scaling (Llama 3's, say) already applied by the caller; HF's
// attention_scaling factor on cos and sin, 1 for the default and llama3 rope types, is
// not applied. hs must be even; it panics if a buffer is too short for its shape.
//
// Rows run in parallel. The cosines and sines of positions below 2²⁰/hs (16384 for
// hs = 64) come from tables kept across calls for the last few invFreq vectors (see
// ropeTableFor), which hold exactly the values computed afresh. It is RoPEForwardStrided with
// ld = H·hs.
func RoPEForward(x []float32, pos []int, invFreq []float32, N, H, hs int) {
	RoPEForwardStrided(x, H*hs, pos, invFreq, N, H, hs)
}

// RoPEBackward is the backward of RoPEForward, in place: dx (N, H·hs) holds the
// gradient with respect to RoPEForward's output and receives the gradient with respect
// to its input, each pair rotated by −θ (the transposed rotation):
//
//	d1' = d1·cos θ + d2·sin θ
//	d2' = d2·cos θ − d1·sin θ
//
// Unlike the other backward kernels it does not add into a separate gradient buffer: it
// maps the gradient in place, as RoPEForward maps x. It is RoPEBackwardStrided with
// ld = H·hs.
func RoPEBackward(dx []float32, pos []int, invFreq []float32, N, H, hs int) {
	RoPEBackwardStrided(dx, H*hs, pos, invFreq, N, H, hs)
}

// RoPEForwardStrided is RoPEForward on rows ld floats apart: row n's H heads are
// x[n·ld : n·ld+H·hs]. With a fused [q | k | v] row of stride (NH+2·KVH)·hs, as
// AttentionForwardGQA reads it, H = NH+KVH rotates the query and key heads in one call
// and leaves the values alone.
func RoPEForwardStrided(x []float32, ld int, pos []int, invFreq []float32, N, H, hs int) {
	checkRoPE("RoPEForwardStrided", x, ld, pos, invFreq, N, H, hs)
	if N == 0 || H == 0 {
		return
	}
	tb := ropeTableFor(invFreq[:hs/2], pos[:N])
	parallelFor(N, ropeGrain, func(lo, hi int) {
		ropeRows(x, ld, pos, invFreq, tb, lo, hi, H, hs, false)
	})
}

// RoPEBackwardStrided is RoPEBackward on rows ld floats apart, as RoPEForwardStrided.
func RoPEBackwardStrided(dx []float32, ld int, pos []int, invFreq []float32, N, H, hs int) {
	checkRoPE("RoPEBackwardStrided", dx, ld, pos, invFreq, N, H, hs)
	if N == 0 || H == 0 {
		return
	}
	tb := ropeTableFor(invFreq[:hs/2], pos[:N])
	parallelFor(N, ropeGrain, func(lo, hi int) {
		ropeRows(dx, ld, pos, invFreq, tb, lo, hi, H, hs, true)
	})
}

// checkRoPE panics unless hs is even and the buffers fit the shapes.
func checkRoPE(name string, x []float32, ld int, pos []int, invFreq []float32, N, H, hs int) {
	if hs <= 0 || hs%2 != 0 || H < 0 || N < 0 || ld < H*hs {
		panic("kernels: " + name + ": hs must be even and positive, and ld at least H·hs")
	}
	if N == 0 || H == 0 {
		return // nothing is read
	}
	if len(x) < (N-1)*ld+H*hs || len(pos) < N || len(invFreq) < hs/2 {
		panic("kernels: " + name + ": buffer too short for its shape")
	}
}

// ropeRows rotates rows [lo, hi) of x by θ (or by −θ when inverse). A row's cosines and
// sines come from tb when it covers the row's position, else are computed once for the
// row; either way they serve all of its heads.
func ropeRows(x []float32, ld int, pos []int, invFreq []float32, tb *ropeTable, lo, hi, H, hs int, inverse bool) {
	half := hs / 2
	var scratch []float32
	for n := lo; n < hi; n++ {
		var cs []float32 // cos θ_i in [:half], sin θ_i in [half:]
		if p := pos[n]; tb != nil && p >= 0 && p < tb.n {
			cs = tb.cs[p*hs : (p+1)*hs]
		} else {
			if scratch == nil {
				scratch = make([]float32, hs)
			}
			cs = scratch
			ropeAngles(cs, p, invFreq[:half])
		}
		cos, sin := cs[:half], cs[half:hs]
		for h := 0; h < H; h++ {
			x1 := x[n*ld+h*hs:][:len(cos)]
			x2 := x[n*ld+h*hs+half:][:len(cos)]
			sin := sin[:len(cos)]
			if inverse {
				for i, c := range cos {
					s := sin[i]
					a, b := x1[i], x2[i]
					x1[i] = float32(a*c) + float32(b*s)
					x2[i] = float32(b*c) - float32(a*s)
				}
				continue
			}
			for i, c := range cos {
				s := sin[i]
				a, b := x1[i], x2[i]
				x1[i] = float32(a*c) - float32(b*s)
				x2[i] = float32(b*c) + float32(a*s)
			}
		}
	}
}

// ropeAngles writes cos θ_i into cs[i] and sin θ_i into cs[len(invFreq)+i], θ_i =
// pos·invFreq[i], as ropeAngle computes them.
func ropeAngles(cs []float32, pos int, invFreq []float32) {
	half := len(invFreq)
	for i, f := range invFreq {
		cs[i], cs[half+i] = ropeAngle(pos, f)
	}
}

// The RoPE kernels keep the cosines and sines of positions 0, 1, … for the few inverse
// frequency vectors used last: a model calls them with one invFreq for every layer, for
// queries and keys, forward and backward, and the float64 sine and cosine of a position
// cost far more than rotating its heads. A table holds exactly what ropeAngle returns, so
// it changes no result; positions beyond it (or with no table) are computed directly.
const (
	ropeTables    = 4       // tables kept, the most recently built or extended
	ropeTableStep = 256     // positions are added in multiples of this
	ropeTableMax  = 1 << 20 // floats in one table at most: 4 MiB
)

// ropeTable holds cos θ and sin θ for positions [0, n) of one invFreq.
type ropeTable struct {
	invFreq []float32 // a copy of the key: hs/2 inverse frequencies
	n       int
	cs      []float32 // (n, hs): position p's cos θ_i for i < hs/2, then its sin θ_i
}

// ropeCache is the list of tables, newest first. A published list and its tables never
// change; a new table or a longer one is published as a new list, so readers need no
// lock (two goroutines extending at once build the same values, and the last wins).
var ropeCache atomic.Pointer[[]*ropeTable]

// ropeTableFor returns a table for invFreq covering every position in pos that the
// size cap allows, building or extending one if needed, or nil when none fits.
func ropeTableFor(invFreq []float32, pos []int) *ropeTable {
	hs := 2 * len(invFreq)
	limit := ropeTableMax / hs // positions a table may hold
	maxPos := -1
	for _, p := range pos {
		maxPos = max(maxPos, p)
	}
	want := min(roundUp(maxPos+1, ropeTableStep), limit)
	if want <= 0 {
		return nil
	}
	var list []*ropeTable
	if l := ropeCache.Load(); l != nil {
		list = *l
	}
	var old *ropeTable
	for _, tb := range list {
		if slices.Equal(tb.invFreq, invFreq) {
			if tb.n >= want {
				return tb
			}
			old = tb
			break
		}
	}
	tb := &ropeTable{invFreq: slices.Clone(invFreq), n: want, cs: make([]float32, want*hs)}
	from := 0
	if old != nil {
		from = copy(tb.cs, old.cs) / hs
	}
	parallelFor(want-from, ropeTableStep, func(lo, hi int) {
		for p := from + lo; p < from+hi; p++ {
			ropeAngles(tb.cs[p*hs:(p+1)*hs], p, invFreq)
		}
	})
	next := make([]*ropeTable, 0, ropeTables)
	next = append(next, tb)
	for _, t := range list {
		if t != old && len(next) < ropeTables {
			next = append(next, t)
		}
	}
	ropeCache.Store(&next)
	return tb
}
