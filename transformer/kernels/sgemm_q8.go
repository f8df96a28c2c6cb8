package kernels

// SgemmQ8B is Sgemm with B held in 8-bit blocks: C = alpha·A·op(S) + beta·C, A (M×K, row
// stride lda), C (M×N, row stride ldc), and S a matrix in Q8_0 rows, the blocks running
// along its rows: with transB op(S) = Sᵀ, S (N×K) in rows of Q8RowBytes(K) bytes (K a
// multiple of Q8Block); without, op(S) = S, S (K×N) in rows of Q8RowBytes(N) bytes (N a
// multiple of Q8Block). The rules for K == 0, alpha == 0 and beta == 0 are Sgemm's.
//
// S's blocks are widened (DequantQ8's values: q·d, exact) as the panels are packed, a
// panel's (or a tile's) worth at a time into a scratch that the float32 packers then read,
// so no float32 copy of S is made: the result is that of Sgemm(false, transB, …) on
// DequantQ8(S), bit for bit, on every path and for any number of goroutines. It panics if
// the blocked dimension is not a multiple of Q8Block or a buffer is too short.
func SgemmQ8B(transB bool, M, N, K int, alpha float32, a []float32, lda int, s []byte, beta float32, c []float32, ldc int) {
	if M == 0 || N == 0 {
		return
	}
	rows, cols := K, N // of S
	if transB {
		rows, cols = N, K
	}
	if cols%Q8Block != 0 {
		panic("kernels: SgemmQ8B: S's rows are not a whole number of blocks")
	}
	ld := Q8RowBytes(cols)
	if len(s) < rows*ld {
		panic("kernels: SgemmQ8B: S too short for its shape")
	}
	checkGemm("SgemmQ8B", false, transB, M, N, K, len(a), lda, len(s), ld, len(c), ldc) // S in bytes: at least its floats
	if K == 0 || alpha == 0 {
		scaleC(M, N, beta, c, ldc)
		return
	}
	runGemm(blockingFor(CurrentPath()), false, transB, M, N, K, alpha, a, lda, bOperand{q: s}, ld, beta, c, ldc)
}

// q8Path is the path whose dequantBlocks the packers use: the assembly one on the
// assembly paths (the same values as Go's).
func q8Path(asm bool) Path {
	if asm {
		return PathAVX2
	}
	return PathGo
}

// packStridedQ8 packs rows r0 … r0+w−1 of the Q8_0 matrix q (rows ld bytes apart), k in
// [p, p+kc) (p and kc multiples of Q8Block), into one panel of width floats per k:
// panel[k·width + x] = S[r0+x, p+k] widened, zero for w <= x < width. The rows are
// widened into a scratch of w·kc floats, which packStrided then transposes.
func packStridedQ8(panel []float32, width int, q []byte, ld, r0, w, p, kc int, asm bool) {
	buf := getScratch(w * kc)
	defer scratch.Put(buf)
	scr := *buf
	off := p / Q8Block * Q8BlockBytes
	for x := range w {
		dequantBlocks(scr[x*kc:][:kc], q[(r0+x)*ld+off:][:kc/Q8Block*Q8BlockBytes], q8Path(asm))
	}
	packStrided(panel, width, scr, kc, w, kc, asm)
}

// packAlongQ8 packs rows p … p+kc−1 of the Q8_0 matrix q (rows ld bytes apart), columns
// [c0, c1), into panels of width floats per k as packAlong does: dst[qp·width·kc +
// k·width + x] = S[p+k, c0+qp·width+x] widened, zero past c1. The blocks covering the
// columns are widened into a scratch of kc rows, which packAlong then reads.
func packAlongQ8(dst []float32, width int, q []byte, ld, p, c0, c1, kc int, asm bool) {
	b0, b1 := c0/Q8Block*Q8Block, roundUp(c1, Q8Block) // whole blocks
	W := b1 - b0
	buf := getScratch(kc * W)
	defer scratch.Put(buf)
	scr := *buf
	off := b0 / Q8Block * Q8BlockBytes
	for k := range kc {
		dequantBlocks(scr[k*W:][:W], q[(p+k)*ld+off:][:W/Q8Block*Q8BlockBytes], q8Path(asm))
	}
	packAlong(dst, width, scr[c0-b0:], W, c1-c0, kc, asm)
}
