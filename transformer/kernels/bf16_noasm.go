//go:build !amd64 || purego

package kernels

func widenBF16AVX2(dst *float32, src *uint16, n int) {
	panic("kernels: no assembly bfloat16 kernel in this build")
}

func vecMatBF16AVX2(y *float32, n int, x *float32, k int, w *uint16, ldw int) {
	panic("kernels: no assembly bfloat16 kernel in this build")
}

func vecMatBF16AVX512(y *float32, n int, x *float32, k int, w *uint16, ldw int) {
	panic("kernels: no assembly bfloat16 kernel in this build")
}

func matVecBF16AVX2(out *float32, rows int, w *uint16, ldw int, x *float32, k int) {
	panic("kernels: no assembly bfloat16 kernel in this build")
}
