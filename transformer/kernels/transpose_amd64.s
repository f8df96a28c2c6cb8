//go:build amd64 && !purego

#include "textflag.h"
#include "transpose16_amd64.h"

// func transpose8(dst *float32, dstStride int, src *float32, ld int, n int)
//
// dst[k*dstStride + x] = src[x*ld + k] for x < 8, k < n, n a multiple of 8 (strides in
// floats): eight rows of src, read along k, become n groups of eight floats at dst, one
// 8×8 block per iteration (AVX: unpack, shuffle, then swap 128-bit lanes). Used to pack
// SGEMM panels from operands whose rows run along k.
TEXT ·transpose8(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ dstStride+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), SI
	MOVQ ld+24(FP), R9
	SHLQ $2, R9
	MOVQ n+32(FP), CX
	SHRQ $3, CX
	JZ   done
	LEAQ (R9)(R9*2), R10 // 3·ld
	LEAQ (SI)(R9*4), R11 // row 4
	LEAQ (R8)(R8*2), R12 // 3·dstStride

loop:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R9*1), Y1
	VMOVUPS (SI)(R9*2), Y2
	VMOVUPS (SI)(R10*1), Y3
	VMOVUPS (R11), Y4
	VMOVUPS (R11)(R9*1), Y5
	VMOVUPS (R11)(R9*2), Y6
	VMOVUPS (R11)(R10*1), Y7
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15
	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, (DI)(R8*1)
	VMOVUPS Y10, (DI)(R8*2)
	VMOVUPS Y11, (DI)(R12*1)
	LEAQ (DI)(R8*4), DI
	VMOVUPS Y12, (DI)
	VMOVUPS Y13, (DI)(R8*1)
	VMOVUPS Y14, (DI)(R8*2)
	VMOVUPS Y15, (DI)(R12*1)
	LEAQ (DI)(R8*4), DI
	ADDQ $32, SI
	ADDQ $32, R11
	DECQ CX
	JNZ  loop

done:
	VZEROUPPER
	RET

// func transpose4(dst *float32, dstStride int, src *float32, ld int, n int)
//
// dst[k*dstStride + x] = src[x*ld + k] for x < 4, k < n, n a multiple of 8 (strides in
// floats): four rows of src, read along k, become n groups of four floats at dst, one 4×8
// block per iteration (AVX: unpack, shuffle, then the two 128-bit lanes stored apart).
TEXT ·transpose4(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ dstStride+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), SI
	MOVQ ld+24(FP), R9
	SHLQ $2, R9
	MOVQ n+32(FP), CX
	SHRQ $3, CX
	JZ   done4
	LEAQ (R9)(R9*2), R10 // 3·ld
	LEAQ (R8)(R8*2), R12 // 3·dstStride

loop4:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R9*1), Y1
	VMOVUPS (SI)(R9*2), Y2
	VMOVUPS (SI)(R10*1), Y3
	VUNPCKLPS Y1, Y0, Y4 // r0k0 r1k0 r0k1 r1k1 | k4 k5
	VUNPCKHPS Y1, Y0, Y5 // r0k2 r1k2 r0k3 r1k3 | k6 k7
	VUNPCKLPS Y3, Y2, Y6
	VUNPCKHPS Y3, Y2, Y7
	VSHUFPS $0x44, Y6, Y4, Y8  // k0 | k4
	VSHUFPS $0xEE, Y6, Y4, Y9  // k1 | k5
	VSHUFPS $0x44, Y7, Y5, Y10 // k2 | k6
	VSHUFPS $0xEE, Y7, Y5, Y11 // k3 | k7
	VMOVUPS X8, (DI)
	VMOVUPS X9, (DI)(R8*1)
	VMOVUPS X10, (DI)(R8*2)
	VMOVUPS X11, (DI)(R12*1)
	LEAQ (DI)(R8*4), DI
	VEXTRACTF128 $1, Y8, (DI)
	VEXTRACTF128 $1, Y9, (DI)(R8*1)
	VEXTRACTF128 $1, Y10, (DI)(R8*2)
	VEXTRACTF128 $1, Y11, (DI)(R12*1)
	LEAQ (DI)(R8*4), DI
	ADDQ $32, SI
	DECQ CX
	JNZ  loop4

done4:
	VZEROUPPER
	RET

// func transpose16(dst *float32, dstStride int, src *float32, ld int, n int)
//
// dst[k*dstStride + x] = src[x*ld + k] for x < 16, k < n, n a multiple of 16 (strides in
// floats): sixteen rows of src, read along k, become n groups of sixteen floats at dst,
// one 16×16 block per iteration with AVX-512F (unpack, shuffle within 128-bit lanes, then
// two rounds of 128-bit lane shuffles): a quarter of a shuffle per element where
// transpose8 needs three eighths, and whole 64-byte groups written. Packs the 32-wide
// SGEMM panels of the AVX-512 path from operands whose rows run along k.
TEXT ·transpose16(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ dstStride+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), SI
	MOVQ ld+24(FP), R9
	SHLQ $2, R9
	MOVQ n+32(FP), CX
	SHRQ $4, CX
	JZ   done16
	LEAQ (R9)(R9*2), R10 // 3·ld
	LEAQ (SI)(R9*4), R11 // row 4
	LEAQ (R11)(R9*4), R12 // row 8
	LEAQ (R12)(R9*4), R13 // row 12
	LEAQ (R8*4), AX      // 4 rows of dst
	LEAQ (AX)(AX*2), BX  // 12 rows of dst

loop16:
	VMOVUPS (SI), Z0
	VMOVUPS (SI)(R9*1), Z1
	VMOVUPS (SI)(R9*2), Z2
	VMOVUPS (SI)(R10*1), Z3
	VMOVUPS (R11), Z4
	VMOVUPS (R11)(R9*1), Z5
	VMOVUPS (R11)(R9*2), Z6
	VMOVUPS (R11)(R10*1), Z7
	VMOVUPS (R12), Z8
	VMOVUPS (R12)(R9*1), Z9
	VMOVUPS (R12)(R9*2), Z10
	VMOVUPS (R12)(R10*1), Z11
	VMOVUPS (R13), Z12
	VMOVUPS (R13)(R9*1), Z13
	VMOVUPS (R13)(R9*2), Z14
	VMOVUPS (R13)(R10*1), Z15
	MOVQ DI, DX
	TRANSPOSE16
	LEAQ (DI)(AX*4), DI
	ADDQ $64, SI
	ADDQ $64, R11
	ADDQ $64, R12
	ADDQ $64, R13
	DECQ CX
	JNZ  loop16

done16:
	VZEROUPPER
	RET
