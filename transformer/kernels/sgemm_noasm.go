//go:build !amd64 || purego

package kernels

func sgemmKernel6x16(kc int, a *float32, b *float32, c *float32, ldc int, alpha float32, beta float32) {
	panic("kernels: no assembly SGEMM kernel in this build")
}

func sgemmKernel12x32(kc int, a *float32, b *float32, c *float32, ldc int, alpha float32, beta float32) {
	panic("kernels: no assembly SGEMM kernel in this build")
}

func transpose8(dst *float32, dstStride int, src *float32, ld int, n int) {
	panic("kernels: no assembly transpose in this build")
}

func transpose16(dst *float32, dstStride int, src *float32, ld int, n int) {
	panic("kernels: no assembly transpose in this build")
}

func transpose4(dst *float32, dstStride int, src *float32, ld int, n int) {
	panic("kernels: no assembly transpose in this build")
}

func packAlongAVX(dst *float32, panel int, src *float32, ld int, kc int, full int, width int) {
	panic("kernels: no assembly packing in this build")
}

func packAlongBF16AVX(dst *float32, panel int, src *uint16, ld int, kc int, full int, width int) {
	panic("kernels: no assembly packing in this build")
}

func transposeBF16x16(dst *float32, dstStride int, src *uint16, ld int, n int) {
	panic("kernels: no assembly transpose in this build")
}

func transposeBF16x8(dst *float32, dstStride int, src *uint16, ld int, n int) {
	panic("kernels: no assembly transpose in this build")
}
