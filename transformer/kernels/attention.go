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
// It is AttentionForwardGQA with as many key/value heads as query heads (KVH = NH), and
// panics unless NH divides C.
func AttentionForward(out, att, qkv []float32, seg []int, B, T, C, NH int) {
	checkHeads("AttentionForward", C, NH)
	AttentionForwardGQA(out, att, qkv, seg, B, T, NH, NH, C/NH)
}

// AttentionBackward adds to dqkv (B·T, 3C) the gradient of AttentionForward's output
// given dout (B·T, C), the forward's qkv and its softmax probabilities att (B, NH, T, T).
// Masked entries of att are zero, so the mask needs no second look.
//
// It is AttentionBackwardGQA with KVH = NH, and panics unless NH divides C.
func AttentionBackward(dqkv, dout, qkv, att []float32, B, T, C, NH int) {
	checkHeads("AttentionBackward", C, NH)
	AttentionBackwardGQA(dqkv, dout, qkv, att, B, T, NH, NH, C/NH)
}

// AttentionForwardGQA is causal grouped-query self-attention over B sequences of T
// tokens: the attention of Hugging Face's LlamaAttention and Qwen2Attention (eager
// path: repeat_kv, softmax(q·kᵀ·scaling + causal mask) in float32, then ·v), after RoPE,
// which the caller applies to q and k first (RoPEForward), and before o_proj.
//
// Each row of qkv (B·T, (NH+2·KVH)·hs) is one token's NH query heads, KVH key heads and
// KVH value heads side by side: [q (NH·hs) | k (KVH·hs) | v (KVH·hs)], head j of each
// part owning its columns j·hs … (j+1)·hs−1. NH is a multiple of KVH, and query head h
// uses key/value head h / (NH/KVH), as repeat_kv repeats each key/value head for NH/KVH
// consecutive query heads. Query t of a sequence sees keys 0…t of the same sequence,
// scaled by 1/√hs, and when seg (B·T) is not nil only those keys whose seg value equals
// its own: packed examples then never attend to each other. out (B·T, NH·hs) receives
// softmax(q·kᵀ/√hs)·v with the query heads concatenated (the input of o_proj); att,
// B·NH·T·T floats laid out (B, NH, T, T), receives the softmax probabilities (zero where
// masked), which AttentionBackwardGQA needs. With KVH = NH and hs = C/NH it is GPT-2's
// attention (AttentionForward).
//
// Each (sequence, query head) pair is two SGEMMs and a row softmax; the pairs run in
// parallel, each writing its own outputs, so the result does not depend on the number
// of cores. It panics if the head counts do not fit or a buffer is too short.
func AttentionForwardGQA(out, att, qkv []float32, seg []int, B, T, NH, KVH, hs int) {
	checkAttentionGQA("AttentionForwardGQA", B, T, NH, KVH, hs, out, att, qkv, seg)
	G := NH / KVH
	C := NH * hs            // query (and output) width
	RS := (NH + 2*KVH) * hs // row stride of qkv
	VO := C + KVH*hs        // column of the first value head
	scale := float32(1 / math.Sqrt(float64(hs)))
	path := CurrentPath()
	parallelFor(B*NH, 1, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			kv := h / G
			base := b * T * RS
			p := att[bh*T*T : (bh+1)*T*T] // (T, T)
			// p = scale·q·kᵀ
			Sgemm(false, true, T, T, hs, scale, qkv[base+h*hs:], RS, qkv[base+C+kv*hs:], RS, 0, p, T)
			for t := 0; t < T; t++ {
				var s []int
				if seg != nil {
					s = seg[b*T : (b+1)*T]
				}
				causalSoftmax(path, p[t*T:(t+1)*T], t, s)
			}
			// out = p·v
			Sgemm(false, false, T, hs, T, 1, p, T, qkv[base+VO+kv*hs:], RS, 0, out[b*T*C+h*hs:], C)
		}
	})
}

// checkHeads panics unless C is a whole number of NH heads.
func checkHeads(name string, C, NH int) {
	if NH <= 0 || C%NH != 0 {
		panic("kernels: " + name + ": C is not a multiple of NH")
	}
}

// checkAttentionGQA panics unless NH is a positive multiple of KVH, hs is positive, and
// the buffers of a GQA attention call (out or dout, att, qkv or dqkv, and seg when not
// nil) are long enough for their shapes.
func checkAttentionGQA(name string, B, T, NH, KVH, hs int, out, att, qkv []float32, seg []int) {
	if KVH <= 0 || NH%KVH != 0 || hs <= 0 || B < 0 || T < 0 {
		panic("kernels: " + name + ": NH must be a positive multiple of KVH and hs positive")
	}
	N := B * T
	if len(out) < N*NH*hs || len(att) < B*NH*T*T || len(qkv) < N*(NH+2*KVH)*hs || (seg != nil && len(seg) < N) {
		panic("kernels: " + name + ": buffer too short for its shape")
	}
}

// causalSoftmax turns row t of the scores into probabilities over keys 0…t (and, with
// seg, only keys of t's segment), writing 0 everywhere else: e^(s − max) with expf, over
// their float32 sum added up key by key. Every path gives the same bits.
func causalSoftmax(p Path, row []float32, t int, seg []int) {
	notePath("causalSoftmax", p)
	if p != PathGo {
		causalSoftmaxVec(p, row, t, seg)
		return
	}
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

// causalSoftmaxVec is causalSoftmax on vector path p, with the same bits as the Go
// loops: the maximum and the scaling are exact whatever the order, the exponentials are
// expf's (expSubVec), and the sum is the same float32 sum in key order. Masked keys are
// set to −Inf first, which leaves the maximum alone (key t is never masked) and makes
// their expf 0, the value the Go loop writes; adding those zeros to the sum changes
// nothing.
func causalSoftmaxVec(p Path, row []float32, t int, seg []int) {
	r := row[:t+1]
	if seg != nil {
		st := seg[t]
		for t2, s := range seg[:t+1] {
			if s != st {
				r[t2] = float32(math.Inf(-1))
			}
		}
	}
	expSubVec(p, r, rowMaxOn(true, r))
	var sum float32
	for _, e := range r {
		sum += e
	}
	scaleOn(true, r, 1/sum)
	clear(row[t+1:])
}

// AttentionBackwardGQA adds to dqkv (B·T, (NH+2·KVH)·hs) the gradient of
// AttentionForwardGQA's output given dout (B·T, NH·hs), the forward's qkv and its softmax
// probabilities att (B·NH·T·T floats). Masked entries of att are zero, so the mask needs
// no second look. The gradient of each key/value head is the sum over the NH/KVH query
// heads that share it (the backward of repeat_kv).
//
// Like the forward it runs (sequence, query head) pairs in parallel. With KVH = NH each
// pair adds into its own columns of dqkv. With KVH < NH each pair adds its query
// gradient into dqkv and writes its key and value gradients into scratch (2·B·NH·T·hs
// floats); the scratch of the heads sharing a key/value head is then added into dqkv in
// head order. Either way the result does not depend on the number of cores.
func AttentionBackwardGQA(dqkv, dout, qkv, att []float32, B, T, NH, KVH, hs int) {
	checkAttentionGQA("AttentionBackwardGQA", B, T, NH, KVH, hs, dout, att, qkv, nil)
	if len(dqkv) < B*T*(NH+2*KVH)*hs {
		panic("kernels: AttentionBackwardGQA: buffer too short for its shape")
	}
	G := NH / KVH
	C := NH * hs
	RS := (NH + 2*KVH) * hs
	VO := C + KVH*hs
	scale := float32(1 / math.Sqrt(float64(hs)))
	var part []float32 // (B, NH, 2, T, hs): each query head's dk, dv, when heads share
	if G > 1 {
		buf := getScratch(B * NH * 2 * T * hs) // every element is written (beta 0) before it is read
		defer scratch.Put(buf)
		part = *buf
	}
	parallelFor(B*NH, 1, func(lo, hi int) {
		buf := getScratch(T * T) // written whole by the first Sgemm
		defer scratch.Put(buf)
		ds := *buf
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			kv := h / G
			base := b * T * RS
			p := att[bh*T*T : (bh+1)*T*T]
			do := dout[b*T*C+h*hs:]
			q, k, v := qkv[base+h*hs:], qkv[base+C+kv*hs:], qkv[base+VO+kv*hs:]
			dq := dqkv[base+h*hs:]
			// dk, dv: straight into dqkv (adding), or into this head's scratch
			dk, dv, ld, beta := dqkv[base+C+kv*hs:], dqkv[base+VO+kv*hs:], RS, float32(1)
			if part != nil {
				pk := part[bh*2*T*hs : (bh+1)*2*T*hs]
				dk, dv, ld, beta = pk[:T*hs], pk[T*hs:], hs, 0
			}
			// dp = dout·vᵀ; dv += pᵀ·dout
			Sgemm(false, true, T, T, hs, 1, do, C, v, RS, 0, ds, T)
			Sgemm(true, false, T, hs, T, 1, p, T, do, C, beta, dv, ld)
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
			Sgemm(false, false, T, hs, T, scale, ds, T, k, RS, 1, dq, RS)
			Sgemm(true, false, T, hs, T, scale, ds, T, q, RS, beta, dk, ld)
		}
	})
	if part == nil {
		return
	}
	parallelFor(B*KVH, 1, func(lo, hi int) {
		for bk := lo; bk < hi; bk++ {
			b, kv := bk/KVH, bk%KVH
			for h := kv * G; h < (kv+1)*G; h++ {
				pk := part[(b*NH+h)*2*T*hs:]
				for t := 0; t < T; t++ {
					row := dqkv[(b*T+t)*RS:]
					AddTo(row[C+kv*hs:], pk[t*hs:], hs)
					AddTo(row[VO+kv*hs:], pk[(T+t)*hs:], hs)
				}
			}
		}
	})
}
