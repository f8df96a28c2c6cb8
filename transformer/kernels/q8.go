package kernels

import (
	"encoding/binary"

	"github.com/llmtune/llmtune/internal/half"
)

// Kernels that read weights stored in 8 bits, in blocks: ggml's Q8_0 blocks, byte for
// byte. A row of K weights (K a multiple of Q8Block) is K/Q8Block blocks of
// Q8BlockBytes bytes each: the block's scale d (a float16, little-endian), then Q8Block
// signed 8-bit values q; weight j of the block is q[j]·d (exact in float32: d has 11
// significant bits and q 8). A decode step reads 1.0625 bytes a weight, where float32
// reads 4 and bfloat16 2.

// Q8Block is how many weights one scale covers.
const Q8Block = 32

// Q8BlockBytes is the size of one block: its float16 scale, then Q8Block int8 values.
const Q8BlockBytes = 2 + Q8Block

// Q8RowBytes returns the size of a row of K weights, K a multiple of Q8Block.
func Q8RowBytes(K int) int { return K / Q8Block * Q8BlockBytes }

// q8Scale returns the scale of the block that starts at b[0], widened to float32.
func q8Scale(b []byte) float32 { return half.ToFloat32(binary.LittleEndian.Uint16(b)) }

// MatVecQ8 is MatVec with w (N, K) in 8-bit blocks (see Q8Block): out (N) = w · x (K),
// K a multiple of Q8Block. Each row's value is defined as follows (dotQ8), and every path
// computes exactly it, so the result is the same bits on every path and whatever the
// number of goroutines: sixteen float32 lanes acc[l], and for each block (scale d,
// values q, the block's 32 entries of x in xb)
//
//	acc[l] += ((q[l]·xb[l]) + (q[l+16]·xb[l+16])) · d   (l < 16, each operation rounded)
//
// then u[l] = acc[l] + acc[l+8] (l < 8), v[l] = u[l] + u[l+4] (l < 4), and the value
// (v[0] + v[2]) + (v[1] + v[3]). On PathAVX512 it runs a 16-lane AVX-512F kernel, on
// PathAVX2 an AVX2 one that keeps each accumulator as two 8-lane halves. It reads 1.0625
// bytes a weight, where MatVec reads 4. It panics if K is not a multiple of Q8Block or
// a buffer is too short for its shape.
func MatVecQ8(out []float32, w []byte, x []float32, N, K int) {
	if K%Q8Block != 0 {
		panic("kernels: MatVecQ8: K is not a multiple of Q8Block")
	}
	if len(x) < K || len(w) < N*Q8RowBytes(K) || len(out) < N {
		panic("kernels: MatVecQ8: buffer too short for its shape")
	}
	matVec(out[:N], gemvWeights{q8: w[:N*Q8RowBytes(K)]}, x[:K], N, K)
}

// matVecRowsQ8 sets out[r] for r0 ≤ r < r1 to row r of w (K = len(x) weights a row, in
// blocks) times x, on path p.
func matVecRowsQ8(out []float32, w []byte, x []float32, r0, r1 int, p Path) {
	notePath("MatVecQ8", p)
	K := len(x)
	rb := Q8RowBytes(K)
	if p != PathGo && K > 0 && r1 > r0 {
		_ = w[r1*rb-1] // the kernels read this far
		if p == PathAVX512 {
			matVecQ8AVX512(&out[r0], r1-r0, &w[r0*rb], &x[0], K/Q8Block)
		} else {
			matVecQ8AVX2(&out[r0], r1-r0, &w[r0*rb], &x[0], K/Q8Block)
		}
		return
	}
	for r := r0; r < r1; r++ {
		out[r] = dotQ8(w[r*rb:(r+1)*rb], x)
	}
}

// dotQ8 returns the row w (len(x)/Q8Block blocks) times x, as MatVecQ8 defines it. The
// explicit float32 conversions keep the compiler from fusing a multiply and an add.
func dotQ8(w []byte, x []float32) float32 {
	var acc [16]float32
	for b := 0; b < len(x)/Q8Block; b++ {
		blk := w[b*Q8BlockBytes:][:Q8BlockBytes]
		d, q := q8Scale(blk), blk[2:]
		xb := x[b*Q8Block:][:Q8Block]
		for l := range 16 {
			lo := float32(float32(int8(q[l])) * xb[l])
			hi := float32(float32(int8(q[l+16])) * xb[l+16])
			acc[l] = acc[l] + float32((lo+hi)*d)
		}
	}
	var u [8]float32
	for l := range u {
		u[l] = acc[l] + acc[l+8]
	}
	v0, v1, v2, v3 := u[0]+u[4], u[1]+u[5], u[2]+u[6], u[3]+u[7]
	return (v0 + v2) + (v1 + v3)
}

// dequantGrain is how many blocks one DequantQ8 work item widens (256 KiB of float32).
const dequantGrain = 2048

// DequantQ8 writes the len(dst) weights that the blocks of src hold (len(dst) a multiple
// of Q8Block; src at least len(dst)/Q8Block blocks) into dst as float32, exactly: q·d.
// It runs an AVX2 kernel on PathAVX2 and PathAVX512, Go on PathGo, and splits large
// inputs over the package's goroutines; the values are the same. It panics if the
// lengths do not fit.
func DequantQ8(dst []float32, src []byte) {
	nb := len(dst) / Q8Block
	if len(dst)%Q8Block != 0 || len(src) < nb*Q8BlockBytes {
		panic("kernels: DequantQ8: dst is not a whole number of blocks, or src is too short")
	}
	p := CurrentPath()
	parallelFor(nb, dequantGrain, func(lo, hi int) {
		dequantBlocks(dst[lo*Q8Block:hi*Q8Block], src[lo*Q8BlockBytes:hi*Q8BlockBytes], p)
	})
}

// dequantBlocks is DequantQ8 on one goroutine, on path p, for len(dst) ≥ Q8Block.
func dequantBlocks(dst []float32, src []byte, p Path) {
	nb := len(dst) / Q8Block
	if p != PathGo {
		dequantQ8AVX2(&dst[0], &src[0], nb)
		return
	}
	for b := range nb {
		blk := src[b*Q8BlockBytes:][:Q8BlockBytes]
		d, q := q8Scale(blk), blk[2:]
		out := dst[b*Q8Block:][:Q8Block]
		for j := range out {
			out[j] = float32(int8(q[j])) * d
		}
	}
}
