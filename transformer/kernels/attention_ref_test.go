package kernels

import "math"

// attentionForwardGQARef is the plain reference of AttentionForwardGQA (and, with
// KVH = NH and hs = C/NH, of AttentionForward): causal grouped-query self-attention over
// B sequences of T tokens, scores and softmax sums in float64, one (sequence, query
// head, query) after another.
//
// qkv (B·T, (NH+2·KVH)·hs) holds [q (NH·hs) | k (KVH·hs) | v (KVH·hs)] per token; query
// head h uses key/value head h / (NH/KVH). Query t of a sequence sees keys 0…t of the
// same sequence, scaled by 1/√hs, and when seg (B·T) is not nil only those keys whose
// seg value equals its own. out (B·T, NH·hs) receives softmax(q·kᵀ/√hs)·v with heads
// concatenated; att (B, NH, T, T) receives the softmax probabilities (zero where
// masked).
func attentionForwardGQARef(out, att, qkv []float32, seg []int, B, T, NH, KVH, hs int) {
	scale := 1 / math.Sqrt(float64(hs))
	C, RS := NH*hs, (NH+2*KVH)*hs
	for b := 0; b < B; b++ {
		for h := 0; h < NH; h++ {
			kv := h / (NH / KVH)
			ko, vo := C+kv*hs, C+KVH*hs+kv*hs // columns of this head's key and value
			for t := 0; t < T; t++ {
				q := qkv[(b*T+t)*RS+h*hs:][:hs]
				row := att[((b*NH+h)*T+t)*T:][:T]
				maxv := math.Inf(-1)
				for t2 := 0; t2 <= t; t2++ {
					if seg != nil && seg[b*T+t2] != seg[b*T+t] {
						row[t2] = 0
						continue
					}
					k := qkv[(b*T+t2)*RS+ko:][:hs]
					var dot float64
					for i := range q {
						dot += float64(q[i]) * float64(k[i])
					}
					dot *= scale
					row[t2] = float32(dot)
					maxv = math.Max(maxv, dot)
				}
				var sum float64
				for t2 := 0; t2 <= t; t2++ {
					if seg != nil && seg[b*T+t2] != seg[b*T+t] {
						continue
					}
					e := math.Exp(float64(row[t2]) - maxv)
					row[t2] = float32(e)
					sum += e
				}
				inv := 1 / sum
				for t2 := 0; t2 <= t; t2++ {
					row[t2] = float32(float64(row[t2]) * inv)
				}
				clear(row[t+1:])
				o := out[(b*T+t)*C+h*hs:][:hs]
				clear(o)
				for t2 := 0; t2 <= t; t2++ {
					p := row[t2]
					if p == 0 {
						continue
					}
					v := qkv[(b*T+t2)*RS+vo:][:hs]
					for i := range o {
						o[i] += p * v[i]
					}
				}
			}
		}
	}
}

// attentionBackwardGQARef is the plain reference of AttentionBackwardGQA (and, with
// KVH = NH and hs = C/NH, of AttentionBackward): it adds to dqkv (B·T, (NH+2·KVH)·hs)
// the gradient of the forward's output given dout (B·T, NH·hs), the forward's qkv and
// its softmax probabilities att (B, NH, T, T), each query head adding into the key and
// value columns of the head it shares. Masked entries of att are zero, so the mask
// needs no second look.
func attentionBackwardGQARef(dqkv, dout, qkv, att []float32, B, T, NH, KVH, hs int) {
	scale := float32(1 / math.Sqrt(float64(hs)))
	C, RS := NH*hs, (NH+2*KVH)*hs
	datt := make([]float32, T)
	for b := 0; b < B; b++ {
		for h := 0; h < NH; h++ {
			kv := h / (NH / KVH)
			ko, vo := C+kv*hs, C+KVH*hs+kv*hs
			for t := 0; t < T; t++ {
				row := att[((b*NH+h)*T+t)*T:][:T]
				g := dout[(b*T+t)*C+h*hs:][:hs]
				// out_t = Σ p_t2 · v_t2 ⇒ dp_t2 = g·v_t2, dv_t2 += p_t2 · g
				var dot float64 // Σ p·dp, for the softmax backward
				for t2 := 0; t2 <= t; t2++ {
					v := qkv[(b*T+t2)*RS+vo:][:hs]
					dv := dqkv[(b*T+t2)*RS+vo:][:hs]
					p := row[t2]
					var d float32
					for i := range g {
						d += g[i] * v[i]
						dv[i] += p * g[i]
					}
					datt[t2] = d
					dot += float64(p) * float64(d)
				}
				q := qkv[(b*T+t)*RS+h*hs:][:hs]
				dq := dqkv[(b*T+t)*RS+h*hs:][:hs]
				for t2 := 0; t2 <= t; t2++ {
					p := row[t2]
					if p == 0 {
						continue
					}
					ds := p * float32(float64(datt[t2])-dot) * scale // d(score before scaling)
					k := qkv[(b*T+t2)*RS+ko:][:hs]
					dk := dqkv[(b*T+t2)*RS+ko:][:hs]
					for i := range q {
						dq[i] += ds * k[i]
						dk[i] += ds * q[i]
					}
				}
			}
		}
	}
}
