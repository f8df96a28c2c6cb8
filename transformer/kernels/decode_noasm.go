//go:build !amd64 || purego

package kernels

func vecMatAVX(y *float32, n int, x *float32, k int, w *float32, ldw int) {
	panic("kernels: no assembly GEMV kernel in this build")
}

func matVecAVX(out *float32, rows int, w *float32, ldw int, x *float32, k int) {
	panic("kernels: no assembly GEMV kernel in this build")
}

func matVecQ8AVX512(out *float32, rows int, w *byte, x *float32, nb int) {
	panic("kernels: no assembly GEMV kernel in this build")
}

func matVecQ8AVX2(out *float32, rows int, w *byte, x *float32, nb int) {
	panic("kernels: no assembly GEMV kernel in this build")
}

func dequantQ8AVX2(dst *float32, src *byte, nb int) {
	panic("kernels: no assembly GEMV kernel in this build")
}
