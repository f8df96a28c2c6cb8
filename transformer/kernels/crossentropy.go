package kernels

import "math"

// lmHeadRows returns how many rows of logits a chunk forms when n rows count (no dw).
// Each chunk packs the whole embedding twice (for the logits and for dh), so fewer
// chunks pack less, but a chunk of more rows than the SGEMM's tile row (the blocking's
// mc) leaves the path on which the tiles pack their own B panels (fuseB) for the one
// that packs the embedding into a shared buffer first, which measured slower: so the
// fewest chunks of at most mc rows, evened out, each a multiple of the micro-kernel's
// rows (no partial row panel, which microEdge runs through a scratch tile). Measured
// (2026-12-03, 1,024 rows, V = 50,257, C = 256 and 768, alternating): on AVX-512, chunks
// of 180 rows ran 1–8% faster than the fixed 132 before them in all five pairs, and 264
// or 396 (shared B) 4–24% slower; on AVX2, 96 rows ran 3–12% faster than 132. A chunk's
// logits take R·V floats (36 MB at 180 rows for V = 50,257). Rows are independent: each
// row's logits, loss and dh are the same bits whatever the chunk.
func lmHeadRows(n int) int {
	bl := blockingFor(CurrentPath())
	most := bl.mc / bl.mr * bl.mr
	return roundUp(ceilDiv(n, ceilDiv(n, most)), bl.mr)
}

// lmHeadChunkDW is the chunk when the embedding trains (dw not nil): each chunk then
// also reads and writes all of dw (V·C floats, 51 MB for GPT-2's tiny demo width, 154
// MB for GPT-2 small's), so fewer, larger chunks save that traffic as well as the
// packing. On the tiny-full workload (C = 256) 512 rows measured 7–20% faster a step
// than 128 (two interleaved rounds), for 77 MB more of logits; full fine-tuning has no
// memory target, a LoRA base (no dw) keeps lmHeadRows.
const lmHeadChunkDW = 512

// LMHeadCrossEntropy is the LM head fused with cross-entropy. For each row i of h (N, C)
// whose target is not ignore, it forms the logits h_i·wᵀ over the V rows of w (V, C) and
// writes −log softmax(logits)[targets[i]] into losses[i]; ignored rows get 0. When dh
// (N, C) or dw (V, C) is not nil, it adds gradScale·∂(Σ losses)/∂h into dh and the same
// for w into dw, computed from the logits while they are at hand, so the B·T×V logits are
// never all in memory and never recomputed: at most one tile row of the SGEMM exists at
// once (lmHeadRows: 192 rows on AVX-512; lmHeadChunkDW with dw).
// Callers check that every target is in [0, V) or equal to ignore.
//
// Rows are independent: the softmax of each is computed on its own (in parallel), with
// one exponential per logit (expf) and the sum in float64.
func LMHeadCrossEntropy(losses, dh, dw, h, w []float32, targets []int, ignore int, gradScale float32, N, C, V int) {
	mulW := func(transB bool, M, N, K int, a []float32, lda int, c []float32, ldc int) {
		Sgemm(false, transB, M, N, K, 1, a, lda, w, C, 0, c, ldc)
	}
	R := 0 // lmHeadRows
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
	lmHeadCrossEntropy(losses, dh, nil, h, mulW, targets, ignore, gradScale, N, C, V, 0)
}

// MulW sets c (M, N, row stride ldc) = a (M, K, row stride lda) · op(w) for a weight w
// the function holds, op(w) = wᵀ when transB: w is (V, C), so op(w) is (C, V) when
// transB, else (V, C).
type MulW func(transB bool, M, N, K int, a []float32, lda int, c []float32, ldc int)

// LMHeadCrossEntropyFunc is LMHeadCrossEntropy with the output embedding w (V, C) frozen
// (no dw) and held by mulW, which computes the products by it: for a weight stored in a
// form Sgemm does not read (8-bit blocks: SgemmQ8B).
func LMHeadCrossEntropyFunc(losses, dh, h []float32, mulW MulW, targets []int, ignore int, gradScale float32, N, C, V int) {
	lmHeadCrossEntropy(losses, dh, nil, h, mulW, targets, ignore, gradScale, N, C, V, 0)
}

// LMHeadCrossEntropyFuncChunk is LMHeadCrossEntropyFunc forming the logits chunk rows
// at a time, for a mulW whose products favour another row count than Sgemm's
// lmHeadRows (SgemmAMX works in blocks of 32 rows: bf16_amx's LM head takes 128). The
// results do not depend on the chunk.
func LMHeadCrossEntropyFuncChunk(losses, dh, h []float32, mulW MulW, targets []int, ignore int, gradScale float32, N, C, V, chunk int) {
	lmHeadCrossEntropy(losses, dh, nil, h, mulW, targets, ignore, gradScale, N, C, V, max(1, chunk))
}

// lmHeadCrossEntropy is LMHeadCrossEntropy with the products by w as mulW, R rows of
// logits at a time (0: lmHeadRows).
func lmHeadCrossEntropy(losses, dh, dw, h []float32, mulW MulW, targets []int, ignore int, gradScale float32, N, C, V, R int) {
	rows := make([]int, 0, N) // rows that count
	for i := 0; i < N; i++ {
		losses[i] = 0
		if targets[i] != ignore {
			rows = append(rows, i)
		}
	}
	if len(rows) == 0 {
		return
	}
	if R <= 0 {
		R = lmHeadRows(len(rows))
	}
	R = min(R, len(rows))
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
