//go:build amd64 && !purego

package kernels

// widenBF16AVX2 sets dst[i] = src[i] widened, for i < n, n a multiple of 8 (≥ 8); see
// bf16_amd64.s.
//
//go:noescape
func widenBF16AVX2(dst *float32, src *uint16, n int)

// vecMatBF16AVX2 is vecMatAVX with w in bfloat16: y[0:n] += Σ_{i<k} x[i]·w[i·ldw :
// i·ldw+n], n a multiple of 8 and k ≥ 1, in vecMatAVX's order of operations.
//
//go:noescape
func vecMatBF16AVX2(y *float32, n int, x *float32, k int, w *uint16, ldw int)

// vecMatBF16AVX512 is vecMatBF16AVX2 with AVX-512F, 16 columns a register.
//
//go:noescape
func vecMatBF16AVX512(y *float32, n int, x *float32, k int, w *uint16, ldw int)

// matVecBF16AVX2 is matVecAVX with w in bfloat16: out[r] = Σ_{i<k} w[r·ldw+i]·x[i] for
// r < rows, k a multiple of 8 and rows ≥ 1, in matVecAVX's order of operations.
//
//go:noescape
func matVecBF16AVX2(out *float32, rows int, w *uint16, ldw int, x *float32, k int)
