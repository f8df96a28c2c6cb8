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
