package kernels

import "math"

// SgemmBF16B is Sgemm with B in bfloat16: C = alpha·op(A)·op(B) + beta·C, where b holds
// the upper halves of float32 values (bfloat16 bit patterns, as the frozen weights of
// a bfloat16 model store them). Shapes, strides (in elements) and the rules for K == 0,
// alpha == 0 and beta == 0 are Sgemm's.
//
// B is widened (exactly: the bits shifted up by 16) as its panels are packed, which
// Sgemm does anyway, so no float32 copy of B is made: the result is that of Sgemm on
// the widened B, bit for bit, on every path and for any number of goroutines.
func SgemmBF16B(transA, transB bool, M, N, K int, alpha float32, a []float32, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int) {
	if M == 0 || N == 0 {
		return
	}
	checkGemm("SgemmBF16B", transA, transB, M, N, K, len(a), lda, len(b), ldb, len(c), ldc)
	if K == 0 || alpha == 0 {
		scaleC(M, N, beta, c, ldc)
		return
	}
	bl := blockingFor(CurrentPath())
	sgemmBF16B(bl, transA, transB, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc)
}

// widenBF16 returns the float32 whose upper half is h.
func widenBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// widenRow sets dst[i] = widenBF16(src[i]).
func widenRow(dst []float32, src []uint16) {
	src = src[:len(dst)]
	for i, h := range src {
		dst[i] = widenBF16(h)
	}
}

// packAlongBF16 is packAlong from a bfloat16 src, widened:
// dst[q·width·kc + k·width + x] = widen(src[k·ld + q·width + x]), zero past w. With asm
// (the assembly paths) packAlongBF16AVX widens the whole panels of width 32 or 16.
func packAlongBF16(dst []float32, width int, src []uint16, ld, w, kc int, asm bool) {
	full := w / width
	panel := width * kc
	q0 := 0 // the first panel left to Go
	if asm && full > 0 && (width == 32 || width == 16) {
		_ = dst[(full-1)*panel+kc*width-1] // packAlongBF16AVX writes this far
		_ = src[(kc-1)*ld+full*width-1]    // and reads this far
		packAlongBF16AVX(&dst[0], panel, &src[0], ld, kc, full, width)
		q0 = full
	}
	for k0 := 0; k0 < kc; k0 += packAlongRows {
		k1 := min(k0+packAlongRows, kc)
		for q := q0; q < full; q++ {
			d, s := dst[q*panel:], src[q*width:]
			if width == 4 {
				for k := k0; k < k1; k++ {
					sk, dk := (*[4]uint16)(s[k*ld:]), (*[4]float32)(d[k*4:])
					dk[0], dk[1], dk[2], dk[3] = widenBF16(sk[0]), widenBF16(sk[1]), widenBF16(sk[2]), widenBF16(sk[3])
				}
				continue
			}
			for k := k0; k < k1; k++ {
				widenRow(d[k*width:][:width], s[k*ld:])
			}
		}
		if rest := w - full*width; rest > 0 {
			d, s := dst[full*panel:], src[full*width:]
			for k := k0; k < k1; k++ {
				dk := d[k*width:][:width]
				widenRow(dk[:rest], s[k*ld:])
				clear(dk[rest:])
			}
		}
	}
}

// packStridedBF16 is packStrided from a bfloat16 src, widened: panel[k·width + x] =
// widen(src[x·ld + k]) for x < w, zero for w <= x < width. With asm, full panels of
// width 32 (the AVX-512 path) go through transposeBF16x16, sixteen rows and sixteen k at
// a time, and of width 16 through transposeBF16x8, eight and eight.
func packStridedBF16(panel []float32, width int, src []uint16, ld, w, kc int, asm bool) {
	k0 := 0 // the first k left to Go
	// The AVX-512 path's panels are 32 wide, AVX2's 16.
	if asm && w == width && width == 32 && kc >= 16 {
		k0 = kc &^ 15
		_ = panel[(k0-1)*width+width-1] // transposeBF16x16 writes this far
		_ = src[(width-1)*ld+k0-1]      // and reads this far
		transposeBF16x16(&panel[0], width, &src[0], ld, k0)
		transposeBF16x16(&panel[16], width, &src[16*ld], ld, k0)
		if k0 == kc {
			return
		}
	} else if asm && w == width && (width == 32 || width == 16) && kc >= 8 {
		k0 = kc &^ 7
		_ = panel[(k0-1)*width+width-1] // transposeBF16x8 writes this far
		_ = src[(width-1)*ld+k0-1]      // and reads this far
		for x := 0; x < width; x += 8 {
			transposeBF16x8(&panel[x], width, &src[x*ld], ld, k0)
		}
		if k0 == kc {
			return
		}
	}
	if w == width && width == 4 {
		s0, s1, s2, s3 := src[:kc], src[ld:][:kc], src[2*ld:][:kc], src[3*ld:][:kc]
		for k := k0; k < kc; k++ {
			d := (*[4]float32)(panel[k*4:])
			d[0], d[1], d[2], d[3] = widenBF16(s0[k]), widenBF16(s1[k]), widenBF16(s2[k]), widenBF16(s3[k])
		}
		return
	}
	for x := 0; x < w; x++ {
		row := src[x*ld:][:kc]
		for k := k0; k < kc; k++ {
			panel[k*width+x] = widenBF16(row[k])
		}
	}
	for x := w; x < width; x++ {
		for k := k0; k < kc; k++ {
			panel[k*width+x] = 0
		}
	}
}
