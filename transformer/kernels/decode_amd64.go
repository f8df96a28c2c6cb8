//go:build amd64 && !purego

package kernels

// vecMatAVX adds Σ_{i<k} x[i]·w[i·ldw : i·ldw+n] into y[0:n]; n is a multiple of 8 and
// k ≥ 1. See decode_amd64.s.
//
//go:noescape
func vecMatAVX(y *float32, n int, x *float32, k int, w *float32, ldw int)

// matVecAVX sets out[r] = Σ_{i<k} w[r·ldw+i]·x[i] for r < rows; k is a multiple of 8 and
// rows ≥ 1. See decode_amd64.s.
//
//go:noescape
func matVecAVX(out *float32, rows int, w *float32, ldw int, x *float32, k int)

// matVecQ8AVX512 sets out[r] to row r of w (nb blocks of Q8BlockBytes bytes a row, the
// rows contiguous) times x (nb·Q8Block floats), for r < rows (≥ 1), nb ≥ 1, in dotQ8's
// order of operations, 16 lanes a register. See q8_amd64.s.
//
//go:noescape
func matVecQ8AVX512(out *float32, rows int, w *byte, x *float32, nb int)

// matVecQ8AVX2 is matVecQ8AVX512 with AVX2, each 16-lane accumulator as two registers.
//
//go:noescape
func matVecQ8AVX2(out *float32, rows int, w *byte, x *float32, nb int)

// dequantQ8AVX2 writes the nb·Q8Block weights of the nb (≥ 1) blocks at src to dst as
// float32. See q8_amd64.s.
//
//go:noescape
func dequantQ8AVX2(dst *float32, src *byte, nb int)
