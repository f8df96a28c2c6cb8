package kernels

import "math"

// Kernels that read weights stored in bfloat16: the upper 16 bits of a float32, which
// widen to float32 exactly by a 16-bit shift. A model can hold its frozen projection
// weights this way (half the memory, half the bytes a decode step reads); the math stays
// float32, and these kernels give the bits their float32 counterparts give on the
// widened weights.

// bf16ToF32 widens one bfloat16 value, exactly.
func bf16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// WidenBF16 writes the bfloat16 values of src, widened to float32 (exactly: every
// value, NaNs and infinities included, keeps its bits in the upper half), into
// dst[:len(src)]. It runs AVX2 assembly on PathAVX2 and PathAVX512 (an AVX-512 version
// measured no faster: the stores bound it), Go on PathGo. It panics if dst is shorter
// than src.
func WidenBF16(dst []float32, src []uint16) {
	if len(dst) < len(src) {
		panic("kernels: WidenBF16: dst shorter than src")
	}
	dst = dst[:len(src)]
	n, p := 0, CurrentPath()
	notePath("WidenBF16", p)
	if p != PathGo {
		n = len(src) &^ 7
		if n > 0 {
			widenBF16AVX2(&dst[0], &src[0], n)
		}
	}
	widenInto(dst[n:], src[n:])
}

// VecMatBF16 is VecMat with w (K, N) stored in bfloat16: out (N) = x (K) · w + bias (N),
// bias may be nil. It gives the bits VecMat gives on w widened to float32 (WidenBF16),
// on every path and whatever the number of goroutines: the same blocks, the same order
// of fused multiply-adds per output, each weight widened in a register as it is read.
// On PathAVX512 it runs a 16-lane AVX-512F kernel (VecMat's outputs are independent of
// each other, so the lane count does not change them), on PathAVX2 an AVX2/FMA one. It
// reads half the bytes VecMat reads. It panics if a buffer is too short for its shape.
func VecMatBF16(out, x []float32, w []uint16, bias []float32, K, N int) {
	if len(x) < K || len(w) < K*N || len(out) < N || (bias != nil && len(bias) < N) {
		panic("kernels: VecMatBF16: buffer too short for its shape")
	}
	vecMat(out[:N], x[:K], gemvWeights{h: w[:K*N], bf: true}, bias, K, N)
}

// MatVecBF16 is MatVec with w (N, K) stored in bfloat16: out (N) = w · x (K). It gives
// the bits MatVec gives on w widened to float32 (WidenBF16), on every path and whatever
// the number of goroutines: every row sums in MatVec's eight lanes and reduces them in
// its order, each weight widened in a register as it is read. The AVX2/FMA kernel runs
// on PathAVX2 and PathAVX512 (a 16-lane kernel would sum in another order). It reads
// half the bytes MatVec reads. It panics if a buffer is too short for its shape.
func MatVecBF16(out []float32, w []uint16, x []float32, N, K int) {
	if len(x) < K || len(w) < K*N || len(out) < N {
		panic("kernels: MatVecBF16: buffer too short for its shape")
	}
	matVec(out[:N], gemvWeights{h: w[:K*N], bf: true}, x[:K], N, K)
}

// bf16Chunk is how many weights of a row (or a column) the Go loops of the bfloat16
// GEMVs widen into a stack buffer at a time.
const bf16Chunk = 256

// widenInto widens src into dst[:len(src)] in Go. Out of line, its loop keeps its
// index in a register (inlined into the GEMVs' loops it was spilled).
//
//go:noinline
func widenInto(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	i := 0
	for ; i+4 <= len(src); i += 4 {
		s, d := src[i:i+4:i+4], dst[i:i+4:i+4]
		d[0], d[1], d[2], d[3] = bf16ToF32(s[0]), bf16ToF32(s[1]), bf16ToF32(s[2]), bf16ToF32(s[3])
	}
	for ; i < len(src); i++ {
		dst[i] = bf16ToF32(src[i])
	}
}

// axpyRowsBF16 is axpyRows on bfloat16 weights, on path p, with the same operations on
// every output in the same order: the assembly kernel on the columns that make whole
// groups of 8, then axpyCol on the rest; in pure Go, axpy4 on four rows at a time and
// axpy on the last. The Go loops run on weights widened into a buffer, bf16Chunk
// columns (or rows of a column) at a time, which leaves the order of every output's
// operations as it is.
func axpyRowsBF16(y, x []float32, w []uint16, ldw int, p Path) {
	notePath("VecMatBF16", p)
	K, N := len(x), len(y)
	if K == 0 || N == 0 {
		return
	}
	_ = w[(K-1)*ldw+N-1] // the kernels read this far
	var buf [4][bf16Chunk]float32
	if p != PathGo && N >= 8 {
		n8 := N &^ 7
		if p == PathAVX512 {
			vecMatBF16AVX512(&y[0], n8, &x[0], K, &w[0], ldw)
		} else {
			vecMatBF16AVX2(&y[0], n8, &x[0], K, &w[0], ldw)
		}
		for c := n8; c < N; c++ { // the last columns, fewer than 8
			s := y[c]
			for k0 := 0; k0 < K; k0 += bf16Chunk {
				col := buf[0][:min(bf16Chunk, K-k0)]
				for i := range col {
					col[i] = bf16ToF32(w[(k0+i)*ldw+c])
				}
				s = axpyCol(s, x[k0:k0+len(col)], col, 1)
			}
			y[c] = s
		}
		return
	}
	for c0 := 0; c0 < N; c0 += bf16Chunk {
		c1 := min(c0+bf16Chunk, N)
		yc := y[c0:c1]
		k := 0
		for ; k+4 <= K; k += 4 {
			for i := range 4 {
				widenInto(buf[i][:], w[(k+i)*ldw+c0:][:len(yc)])
			}
			axpy4(yc, x[k:k+4], buf[0][:], buf[1][:], buf[2][:], buf[3][:])
		}
		for ; k < K; k++ {
			widenInto(buf[0][:], w[k*ldw+c0:][:len(yc)])
			axpy(yc, x[k], buf[0][:])
		}
	}
}

// matVecRowsBF16 is matVecRows on bfloat16 weights, on path p, with the same operations
// on every row in the same order: the AVX2 kernel on the columns that make whole groups
// of 8, then dot on the rest; in pure Go, dot4 on four rows at a time and dotSeq on the
// last, on weights widened into a buffer bf16Chunk columns at a time (the sums carried
// from one chunk to the next).
func matVecRowsBF16(out []float32, w []uint16, x []float32, r0, r1 int, p Path) {
	notePath("MatVecBF16", p)
	K := len(x)
	if p != PathGo && K >= 8 && r1 > r0 {
		k8 := K &^ 7
		matVecBF16AVX2(&out[r0], r1-r0, &w[r0*K], K, &x[0], k8)
		if k8 < K { // the last columns, fewer than 8
			var tail [8]float32
			for r := r0; r < r1; r++ {
				widenInto(tail[:], w[r*K+k8:(r+1)*K])
				out[r] += dot(x[k8:], tail[:])
			}
		}
		return
	}
	var buf [4][bf16Chunk]float32
	r := r0
	for ; r+4 <= r1; r += 4 {
		var s [4]float32
		for k0 := 0; k0 < K; k0 += bf16Chunk {
			k1 := min(k0+bf16Chunk, K)
			for i := range 4 {
				widenInto(buf[i][:], w[(r+i)*K+k0:(r+i)*K+k1])
			}
			dot4(&s, x[k0:k1], buf[0][:], buf[1][:], buf[2][:], buf[3][:])
		}
		out[r], out[r+1], out[r+2], out[r+3] = s[0], s[1], s[2], s[3]
	}
	for ; r < r1; r++ {
		var s float32
		for k0 := 0; k0 < K; k0 += bf16Chunk {
			k1 := min(k0+bf16Chunk, K)
			widenInto(buf[0][:], w[r*K+k0:r*K+k1])
			s = dotSeq(s, x[k0:k1], buf[0][:])
		}
		out[r] = s
	}
}
