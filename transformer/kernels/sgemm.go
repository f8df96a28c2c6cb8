package kernels

// Sgemm computes C = alpha·op(A)·op(B) + beta·C in float32, BLAS style, row-major.
//
// op(A) is M×K: A itself (M×K, row stride lda) when transA is false, Aᵀ of a K×M A
// when it is true. op(B) is K×N likewise with ldb. C is M×N with row stride ldc.
// With beta == 0, C is overwritten and its previous contents (even NaN) are ignored.
// Strides let callers address column blocks of wider matrices (one head of a fused
// q|k|v projection, say). Sgemm panics if a buffer is too short for its shape.
//
// As in BLAS, with K == 0 or alpha == 0 A and B are not read and C = beta·C.
// Sgemm uses the micro-kernel of the current path (AVX-512, AVX2/FMA or pure Go; see
// SetPath) and spreads large products over up to GOMAXPROCS goroutines, shared by all
// kernels running at once. The result is the same, bit for bit, whatever the number of
// goroutines; the paths may round differently (within float32 reassociation error of
// sgemmRef).
func Sgemm(transA, transB bool, M, N, K int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if M == 0 || N == 0 {
		return
	}
	checkGemm("Sgemm", transA, transB, M, N, K, len(a), lda, len(b), ldb, len(c), ldc)
	if K == 0 || alpha == 0 {
		scaleC(M, N, beta, c, ldc)
		return
	}
	bl := blockingFor(CurrentPath())
	sgemm(bl, transA, transB, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc)
}

// checkGemm panics, naming fn, if a buffer (of length na, nb, nc) is too short for its
// shape.
func checkGemm(fn string, transA, transB bool, M, N, K int, na, lda, nb, ldb, nc, ldc int) {
	need := func(name string, n, rows, cols, ld int) {
		if rows == 0 || cols == 0 {
			return
		}
		if ld < cols || n < (rows-1)*ld+cols {
			panic("kernels: " + fn + ": " + name + " too short for its shape")
		}
	}
	if transA {
		need("A", na, K, M, lda)
	} else {
		need("A", na, M, K, lda)
	}
	if transB {
		need("B", nb, N, K, ldb)
	} else {
		need("B", nb, K, N, ldb)
	}
	need("C", nc, M, N, ldc)
}

// scaleC sets C = beta·C over the M×N block, clearing it when beta == 0.
func scaleC(M, N int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < M; i++ {
		ci := c[i*ldc : i*ldc+N]
		if beta == 0 {
			clear(ci)
			continue
		}
		for j := range ci {
			ci[j] *= beta
		}
	}
}

// sgemmRef is the plain reference: straightforward loops, float32 accumulation in
// the order of k, the same order a scalar dot product would use.
func sgemmRef(transA, transB bool, M, N, K int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < M; i++ {
		ci := c[i*ldc : i*ldc+N]
		if beta == 0 {
			clear(ci)
		} else if beta != 1 {
			for j := range ci {
				ci[j] *= beta
			}
		}
		for k := 0; k < K; k++ {
			var aik float32
			if transA {
				aik = a[k*lda+i]
			} else {
				aik = a[i*lda+k]
			}
			aik *= alpha
			if transB {
				for j := range ci {
					ci[j] += aik * b[j*ldb+k]
				}
			} else {
				bk := b[k*ldb : k*ldb+N]
				for j, bv := range bk {
					ci[j] += aik * bv
				}
			}
		}
	}
}
