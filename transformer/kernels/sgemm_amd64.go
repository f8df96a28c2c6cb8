//go:build amd64 && !purego

package kernels

// sgemmKernel6x16 computes one 6×16 tile of C from packed panels with AVX2/FMA; see
// sgemm_amd64.s.
//
//go:noescape
func sgemmKernel6x16(kc int, a *float32, b *float32, c *float32, ldc int, alpha float32, beta float32)

// sgemmKernel12x32 computes one 12×32 tile of C from packed panels with AVX-512F; see
// sgemm512_amd64.s.
//
//go:noescape
func sgemmKernel12x32(kc int, a *float32, b *float32, c *float32, ldc int, alpha float32, beta float32)

// transpose8 sets dst[k·dstStride + x] = src[x·ld + k] for x < 8, k < n (n a multiple
// of 8) with AVX; see transpose_amd64.s.
//
//go:noescape
func transpose8(dst *float32, dstStride int, src *float32, ld int, n int)

// transpose16 sets dst[k·dstStride + x] = src[x·ld + k] for x < 16, k < n (n a multiple
// of 16) with AVX-512F; see transpose_amd64.s.
//
//go:noescape
func transpose16(dst *float32, dstStride int, src *float32, ld int, n int)

// transpose4 sets dst[k·dstStride + x] = src[x·ld + k] for x < 4, k < n (n a multiple
// of 8) with AVX; see transpose_amd64.s.
//
//go:noescape
func transpose4(dst *float32, dstStride int, src *float32, ld int, n int)

// packAlongAVX copies the whole panels of packAlong with AVX: dst[q·panel + k·width + x]
// = src[k·ld + q·width + x] for q < full, k < kc, x < width, for width 32, 16, 12 or 6
// (others: nothing); see pack_amd64.s.
//
//go:noescape
func packAlongAVX(dst *float32, panel int, src *float32, ld int, kc int, full int, width int)

// packAlongBF16AVX is packAlongAVX from bfloat16 rows, widened: dst[q·panel + k·width +
// x] = widen(src[k·ld + q·width + x]) for q < full, k < kc, x < width, for width 32 or 16
// (others: nothing); see pack_bf16_amd64.s.
//
//go:noescape
func packAlongBF16AVX(dst *float32, panel int, src *uint16, ld int, kc int, full int, width int)

// transposeBF16x16 is transpose16 from bfloat16 rows, widened: dst[k·dstStride + x] =
// widen(src[x·ld + k]) for x < 16, k < n (n a multiple of 16), with AVX-512F; see
// pack_bf16_amd64.s.
//
//go:noescape
func transposeBF16x16(dst *float32, dstStride int, src *uint16, ld int, n int)

// transposeBF16x8 is transpose8 from bfloat16 rows, widened: dst[k·dstStride + x] =
// widen(src[x·ld + k]) for x < 8, k < n (n a multiple of 8); see pack_bf16_amd64.s.
//
//go:noescape
func transposeBF16x8(dst *float32, dstStride int, src *uint16, ld int, n int)
