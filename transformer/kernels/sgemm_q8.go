package kernels

// SgemmQ8BT is Sgemm with B the transpose of a matrix S stored in 8-bit blocks: C =
// alpha·A·Sᵀ + beta·C, A (M×K, row stride lda), S (N×K) in Q8_0 rows of Q8RowBytes(K)
// bytes each (K a multiple of Q8Block), C (M×N, row stride ldc). The rules for K == 0,
// alpha == 0 and beta == 0 are Sgemm's.
//
// S's blocks are widened (DequantQ8's values: q·d, exact) a panel at a time as the panels
// are packed, into a scratch of one panel's rows, so no float32 copy of S is made: the
// result is that of Sgemm(false, true, …) on DequantQ8(S), bit for bit, on every path
// and for any number of goroutines. It panics if K is not a multiple of Q8Block or a
// buffer is too short.
func SgemmQ8BT(M, N, K int, alpha float32, a []float32, lda int, s []byte, beta float32, c []float32, ldc int) {
	if M == 0 || N == 0 {
		return
	}
	if K%Q8Block != 0 {
		panic("kernels: SgemmQ8BT: K is not a multiple of Q8Block")
	}
	if len(s) < N*Q8RowBytes(K) {
		panic("kernels: SgemmQ8BT: S too short for its shape")
	}
	checkGemm("SgemmQ8BT", false, true, M, N, K, len(a), lda, len(s), Q8RowBytes(K), len(c), ldc)
	if K == 0 || alpha == 0 {
		scaleC(M, N, beta, c, ldc)
		return
	}
	g := gemmPool.Get().(*gemm)
	g.blocking = blockingFor(CurrentPath())
	g.transA, g.transB = false, true
	g.M, g.N, g.K = M, N, K
	g.alpha, g.beta = alpha, beta
	g.a, g.lda, g.q8, g.ldb, g.c, g.ldc = a, lda, s, Q8RowBytes(K), c, ldc
	g.run()
	g.a, g.q8, g.c, g.packA, g.packB = nil, nil, nil, nil, nil
	gemmPool.Put(g)
}

// packStridedQ8 packs rows r0 … r0+w−1 of the Q8_0 matrix q (rows ld bytes apart), k in
// [p, p+kc) (p and kc multiples of Q8Block), into one panel of width floats per k:
// panel[k·width + x] = S[r0+x, p+k] widened, zero for w <= x < width. The rows are
// widened into a scratch of w·kc floats, which packStrided then transposes.
func packStridedQ8(panel []float32, width int, q []byte, ld, r0, w, p, kc int, asm bool) {
	buf := getScratch(w * kc)
	defer scratch.Put(buf)
	scr := *buf
	dp := PathGo
	if asm {
		dp = PathAVX2 // the assembly paths' dequantQ8AVX2: the same values
	}
	off := p / Q8Block * Q8BlockBytes
	for x := range w {
		dequantBlocks(scr[x*kc:][:kc], q[(r0+x)*ld+off:][:kc/Q8Block*Q8BlockBytes], dp)
	}
	packStrided(panel, width, scr, kc, w, kc, asm)
}
