package kernels

import "math"

// AttentionForward is causal multi-head self-attention over B sequences of T tokens.
//
// qkv (B·T, 3C) holds each token's query, key and value side by side ([q | k | v], the
// output of GPT-2's c_attn); head h owns columns h·hs … (h+1)·hs−1 of each, hs = C/NH.
// Query t of a sequence sees keys 0…t of the same sequence, scaled by 1/√hs, and when
// seg (B·T) is not nil only those keys whose seg value equals its own: packed examples
// then never attend to each other. out (B·T, C) receives softmax(q·kᵀ/√hs)·v with heads
// concatenated; att (B, NH, T, T) receives the softmax probabilities (zero where masked),
// which AttentionBackward needs.
//
// Each (sequence, head) pair is two SGEMMs and a row softmax; the pairs run in parallel.
func AttentionForward(out, att, qkv []float32, seg []int, B, T, C, NH int) {
	hs := C / NH
	scale := float32(1 / math.Sqrt(float64(hs)))
	C3 := 3 * C
	parallelFor(B*NH, 1, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			base := b * T * C3
			p := att[bh*T*T : (bh+1)*T*T] // (T, T)
			// p = scale·q·kᵀ
			Sgemm(false, true, T, T, hs, scale, qkv[base+h*hs:], C3, qkv[base+C+h*hs:], C3, 0, p, T)
			for t := 0; t < T; t++ {
				var s []int
				if seg != nil {
					s = seg[b*T : (b+1)*T]
				}
				causalSoftmax(p[t*T:(t+1)*T], t, s)
			}
			// out = p·v
			Sgemm(false, false, T, hs, T, 1, p, T, qkv[base+2*C+h*hs:], C3, 0, out[b*T*C+h*hs:], C)
		}
	})
}

// causalSoftmax turns row t of the scores into probabilities over keys 0…t (and, with
// seg, only keys of t's segment), writing 0 everywhere else.
func causalSoftmax(row []float32, t int, seg []int) {
	maxv := float32(math.Inf(-1))
	for t2 := 0; t2 <= t; t2++ {
		if seg != nil && seg[t2] != seg[t] {
			continue
		}
		maxv = max(maxv, row[t2])
	}
	var sum float32
	for t2 := 0; t2 <= t; t2++ {
		if seg != nil && seg[t2] != seg[t] {
			row[t2] = 0
			continue
		}
		e := expf(row[t2] - maxv)
		row[t2] = e
		sum += e
	}
	inv := 1 / sum
	for t2 := 0; t2 <= t; t2++ {
		row[t2] *= inv
	}
	clear(row[t+1:])
}

// AttentionBackward adds to dqkv (B·T, 3C) the gradient of AttentionForward's output
// given dout (B·T, C), the forward's qkv and its softmax probabilities att (B, NH, T, T).
// Masked entries of att are zero, so the mask needs no second look.
func AttentionBackward(dqkv, dout, qkv, att []float32, B, T, C, NH int) {
	hs := C / NH
	scale := float32(1 / math.Sqrt(float64(hs)))
	C3 := 3 * C
	parallelFor(B*NH, 1, func(lo, hi int) {
		ds := make([]float32, T*T)
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			base := b * T * C3
			p := att[bh*T*T : (bh+1)*T*T]
			do := dout[b*T*C+h*hs:]
			q, k, v := qkv[base+h*hs:], qkv[base+C+h*hs:], qkv[base+2*C+h*hs:]
			dq, dk, dv := dqkv[base+h*hs:], dqkv[base+C+h*hs:], dqkv[base+2*C+h*hs:]
			// dp = dout·vᵀ; dv += pᵀ·dout
			Sgemm(false, true, T, T, hs, 1, do, C, v, C3, 0, ds, T)
			Sgemm(true, false, T, hs, T, 1, p, T, do, C, 1, dv, C3)
			// softmax backward: ds = p ⊙ (dp − Σ p·dp), row by row
			for t := 0; t < T; t++ {
				pr, dr := p[t*T:t*T+t+1], ds[t*T:(t+1)*T]
				var dot float32
				for j, pv := range pr {
					dot += pv * dr[j]
				}
				for j, pv := range pr {
					dr[j] = pv * (dr[j] - dot)
				}
				clear(dr[t+1:])
			}
			// scores were scale·q·kᵀ: dq += scale·ds·k, dk += scale·dsᵀ·q
			Sgemm(false, false, T, hs, T, scale, ds, T, k, C3, 1, dq, C3)
			Sgemm(true, false, T, hs, T, scale, ds, T, q, C3, 1, dk, C3)
		}
	})
}
