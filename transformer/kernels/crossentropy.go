package kernels

import "math"

// lmHeadChunk is how many rows of logits LMHeadCrossEntropy forms at a time. Each chunk
// packs the whole embedding twice (for the logits and for dh), so fewer, larger chunks
// pack less: 128 rows measured 10–20% faster than 64 on GPT-2 small's LM head (AVX-512 and
// AVX2), 256 no faster than 128; a chunk's logits take R·V floats (27 MB for V = 50,257).
// 132 rather than 128: a multiple of both micro-kernels' row counts (12 and 6), so a chunk
// has no partial row panel, which microEdge runs as a whole one through a scratch tile
// (BenchmarkLMHeadCrossEntropy/dh, six alternating pairs: 132 faster in five, by 3.5% on
// average, within the machine's noise). Each row's logits, loss and dh are the same bits
// whatever the chunk (its sums do not depend on the rows beside it).
const lmHeadChunk = 132

// lmHeadChunkDW is lmHeadChunk when the embedding trains (dw not nil): each chunk then
// also reads and writes all of dw (V·C floats, 51 MB for GPT-2's tiny demo width, 154
// MB for GPT-2 small's), so fewer, larger chunks save that traffic as well as the
// packing. On the tiny-full workload (C = 256) 512 rows measured 7–20% faster a step
// than 128 (two interleaved rounds), for 77 MB more of logits; full fine-tuning has no
// memory target, a LoRA base (no dw) keeps 128.
const lmHeadChunkDW = 512

// LMHeadCrossEntropy is the LM head fused with cross-entropy. For each row i of h (N, C)
// whose target is not ignore, it forms the logits h_i·wᵀ over the V rows of w (V, C) and
// writes −log softmax(logits)[targets[i]] into losses[i]; ignored rows get 0. When dh
// (N, C) or dw (V, C) is not nil, it adds gradScale·∂(Σ losses)/∂h into dh and the same
// for w into dw, computed from the logits while they are at hand, so the B·T×V logits are
// never all in memory and never recomputed: at most lmHeadChunk rows exist at once
// (lmHeadChunkDW with dw).
// Callers check that every target is in [0, V) or equal to ignore.
//
// Rows are independent: the softmax of each is computed on its own (in parallel), with
// one exponential per logit (expf) and the sum in float64.
func LMHeadCrossEntropy(losses, dh, dw, h, w []float32, targets []int, ignore int, gradScale float32, N, C, V int) {
	mulW := func(transB bool, M, N, K int, a []float32, lda int, c []float32, ldc int) {
		Sgemm(false, transB, M, N, K, 1, a, lda, w, C, 0, c, ldc)
	}
	R := lmHeadChunk
	if dw != nil {
		R = lmHeadChunkDW
	}
	lmHeadCrossEntropy(losses, dh, dw, h, mulW, targets, ignore, gradScale, N, C, V, R)
}

// LMHeadCrossEntropyBF16 is LMHeadCrossEntropy with the output embedding w (V, C) in
// bfloat16 and frozen (no dw): its products go through SgemmBF16B, so the results are
// LMHeadCrossEntropy's on w widened to float32, bit for bit.
func LMHeadCrossEntropyBF16(losses, dh, h []float32, w []uint16, targets []int, ignore int, gradScale float32, N, C, V int) {
	mulW := func(transB bool, M, N, K int, a []float32, lda int, c []float32, ldc int) {
		SgemmBF16B(false, transB, M, N, K, 1, a, lda, w, C, 0, c, ldc)
	}
	lmHeadCrossEntropy(losses, dh, nil, h, mulW, targets, ignore, gradScale, N, C, V, lmHeadChunk)
}

// MulW sets c (M, N, row stride ldc) = a (M, K, row stride lda) · op(w) for a weight w
// the function holds, op(w) = wᵀ when transB: w is (V, C), so op(w) is (C, V) when
// transB, else (V, C).
type MulW func(transB bool, M, N, K int, a []float32, lda int, c []float32, ldc int)

// LMHeadCrossEntropyFunc is LMHeadCrossEntropy with the output embedding w (V, C) frozen
// (no dw) and held by mulW, which computes the products by it: for a weight stored in a
// form Sgemm does not read (8-bit blocks), widened a few rows at a time as mulW reads it.
func LMHeadCrossEntropyFunc(losses, dh, h []float32, mulW MulW, targets []int, ignore int, gradScale float32, N, C, V int) {
	lmHeadCrossEntropy(losses, dh, nil, h, mulW, targets, ignore, gradScale, N, C, V, lmHeadChunk)
}

// LMHeadCrossEntropyFuncChunk is LMHeadCrossEntropyFunc forming the logits chunk rows
// at a time, for a mulW whose products favour another row count than Sgemm's
// lmHeadChunk (SgemmAMX works in blocks of 32 rows: bf16_amx's LM head takes 128). The
// results do not depend on the chunk.
func LMHeadCrossEntropyFuncChunk(losses, dh, h []float32, mulW MulW, targets []int, ignore int, gradScale float32, N, C, V, chunk int) {
	lmHeadCrossEntropy(losses, dh, nil, h, mulW, targets, ignore, gradScale, N, C, V, max(1, chunk))
}

// lmHeadCrossEntropy is LMHeadCrossEntropy with the products by w as mulW, R rows of
// logits at a time.
func lmHeadCrossEntropy(losses, dh, dw, h []float32, mulW MulW, targets []int, ignore int, gradScale float32, N, C, V, R int) {
	rows := make([]int, 0, N) // rows that count
	for i := 0; i < N; i++ {
		losses[i] = 0
		if targets[i] != ignore {
			rows = append(rows, i)
		}
	}
	R = min(R, len(rows))
	if R == 0 {
		return
	}
	hc := make([]float32, R*C) // (R, C) gathered hidden rows
	buf := getScratch(R * V)   // (R, V) logits, becoming dlogits; each chunk writes its rows whole
	defer scratch.Put(buf)
	logits := *buf
	var dhc []float32
	if dh != nil {
		dhc = make([]float32, R*C)
	}
	for start := 0; start < len(rows); start += R {
		chunk := rows[start:min(start+R, len(rows))]
		n := len(chunk)
		for r, i := range chunk {
			copy(hc[r*C:(r+1)*C], h[i*C:(i+1)*C])
		}
		mulW(true, n, V, C, hc, C, logits, V)
		grads := dh != nil || dw != nil
		parallelFor(n, 4, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				i := chunk[r]
				losses[i] = softmaxRow(logits[r*V:(r+1)*V], targets[i], gradScale, grads)
			}
		})
		if dh == nil && dw == nil {
			continue
		}
		if dh != nil {
			mulW(false, n, C, V, logits, V, dhc, C)
			for r, i := range chunk {
				AddTo(dh[i*C:(i+1)*C], dhc[r*C:(r+1)*C], C)
			}
		}
		if dw != nil {
			Sgemm(true, false, V, C, n, 1, logits, V, hc, C, 1, dw, C)
		}
	}
}

// softmaxRow returns the cross-entropy −log softmax(l)[target] of one row of logits and,
// with grads, overwrites l with gradScale·(softmax(l) − onehot(target)).
func softmaxRow(l []float32, target int, gradScale float32, grads bool) float32 {
	maxv := rowMax(l)
	lt := l[target]
	var sum float64
	if grads {
		sum = expSubSum(l, maxv)
	} else {
		for _, v := range l { // keep the logits: nothing overwritten without grads
			sum += float64(expf(v - maxv))
		}
	}
	loss := float32(float64(maxv-lt) + math.Log(sum))
	if grads {
		scale(l, gradScale/float32(sum))
		l[target] -= gradScale
	}
	return loss
}
