//go:build amd64 && !purego

#include "textflag.h"
#include "transpose16_amd64.h"

// Packers of SgemmBF16B (see sgemm_bf16.go): they pack bfloat16 B panels as
// packAlongAVX and transpose8 pack float32 ones, widening each value on load (VPMOVZXWD
// zero-extends eight 16-bit values to 32 bits, VPSLLD $16 moves them to the upper half:
// the float32 whose upper half is the bfloat16, exactly).

// func packAlongBF16AVX(dst *float32, panel int, src *uint16, ld int, kc int, full int, width int)
//
// dst[q·panel + k·width + x] = widen(src[k·ld + q·width + x]) for q < full, k < kc,
// x < width, width 32 or 16 (other widths return at once; panel in floats, ld in
// uint16s). Like packAlongAVX it takes src in blocks of 8 rows and fills each panel's
// part of a block, written in order, before the next panel.
TEXT ·packAlongBF16AVX(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ panel+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), SI
	MOVQ ld+24(FP), R9
	SHLQ $1, R9
	MOVQ kc+32(FP), CX
	MOVQ full+40(FP), R10
	MOVQ width+48(FP), AX
	TESTQ CX, CX
	JLE  done
	TESTQ R10, R10
	JLE  done
	CMPQ AX, $32
	JEQ  w32
	CMPQ AX, $16
	JEQ  w16
	JMP  done

w32:
	XORQ R11, R11 // k0, the block's first row
w32_block:
	MOVQ CX, R12
	SUBQ R11, R12 // rows in the block: min(8, kc-k0)
	CMPQ R12, $8
	JLE  w32_start
	MOVQ $8, R12
w32_start:
	MOVQ R11, R13
	IMULQ R9, R13
	ADDQ SI, R13 // src row k0, panel 0's columns
	IMUL3Q $128, R11, R14
	ADDQ DI, R14 // panel 0, row k0
	MOVQ R10, BX // panels left
w32_panel:
	MOVQ R13, R15
	MOVQ R14, DX
	MOVQ R12, AX // rows left
w32_row:
	VPMOVZXWD (R15), Y0
	VPMOVZXWD 16(R15), Y1
	VPMOVZXWD 32(R15), Y2
	VPMOVZXWD 48(R15), Y3
	VPSLLD $16, Y0, Y0
	VPSLLD $16, Y1, Y1
	VPSLLD $16, Y2, Y2
	VPSLLD $16, Y3, Y3
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, 64(DX)
	VMOVUPS Y3, 96(DX)
	ADDQ R9, R15
	ADDQ $128, DX
	DECQ AX
	JNZ  w32_row
	ADDQ $64, R13
	ADDQ R8, R14
	DECQ BX
	JNZ  w32_panel
	ADDQ $8, R11
	CMPQ R11, CX
	JLT  w32_block
	JMP  done

w16:
	XORQ R11, R11 // k0, the block's first row
w16_block:
	MOVQ CX, R12
	SUBQ R11, R12 // rows in the block: min(8, kc-k0)
	CMPQ R12, $8
	JLE  w16_start
	MOVQ $8, R12
w16_start:
	MOVQ R11, R13
	IMULQ R9, R13
	ADDQ SI, R13 // src row k0, panel 0's columns
	IMUL3Q $64, R11, R14
	ADDQ DI, R14 // panel 0, row k0
	MOVQ R10, BX // panels left
w16_panel:
	MOVQ R13, R15
	MOVQ R14, DX
	MOVQ R12, AX // rows left
w16_row:
	VPMOVZXWD (R15), Y0
	VPMOVZXWD 16(R15), Y1
	VPSLLD $16, Y0, Y0
	VPSLLD $16, Y1, Y1
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	ADDQ R9, R15
	ADDQ $64, DX
	DECQ AX
	JNZ  w16_row
	ADDQ $32, R13
	ADDQ R8, R14
	DECQ BX
	JNZ  w16_panel
	ADDQ $8, R11
	CMPQ R11, CX
	JLT  w16_block

done:
	VZEROUPPER
	RET

// func transposeBF16x8(dst *float32, dstStride int, src *uint16, ld int, n int)
//
// dst[k*dstStride + x] = widen(src[x*ld + k]) for x < 8, k < n, n a multiple of 8
// (dstStride in floats, ld in uint16s): transpose8 of eight bfloat16 rows, each 8×8
// block widened as it is loaded.
TEXT ·transposeBF16x8(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ dstStride+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), SI
	MOVQ ld+24(FP), R9
	SHLQ $1, R9
	MOVQ n+32(FP), CX
	SHRQ $3, CX
	JZ   tdone
	LEAQ (R9)(R9*2), R10 // 3·ld
	LEAQ (SI)(R9*4), R11 // row 4
	LEAQ (R8)(R8*2), R12 // 3·dstStride

tloop:
	VPMOVZXWD (SI), Y0
	VPMOVZXWD (SI)(R9*1), Y1
	VPMOVZXWD (SI)(R9*2), Y2
	VPMOVZXWD (SI)(R10*1), Y3
	VPMOVZXWD (R11), Y4
	VPMOVZXWD (R11)(R9*1), Y5
	VPMOVZXWD (R11)(R9*2), Y6
	VPMOVZXWD (R11)(R10*1), Y7
	VPSLLD $16, Y0, Y0
	VPSLLD $16, Y1, Y1
	VPSLLD $16, Y2, Y2
	VPSLLD $16, Y3, Y3
	VPSLLD $16, Y4, Y4
	VPSLLD $16, Y5, Y5
	VPSLLD $16, Y6, Y6
	VPSLLD $16, Y7, Y7
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
	ADDQ $16, SI
	ADDQ $16, R11
	DECQ CX
	JNZ  tloop

tdone:
	VZEROUPPER
	RET

// func transposeBF16x16(dst *float32, dstStride int, src *uint16, ld int, n int)
//
// dst[k*dstStride + x] = widen(src[x*ld + k]) for x < 16, k < n, n a multiple of 16
// (dstStride in floats, ld in uint16s): transpose16 of sixteen bfloat16 rows, each
// 16×16 block widened as it is loaded. Needs AVX-512F.
TEXT ·transposeBF16x16(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ dstStride+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), SI
	MOVQ ld+24(FP), R9
	SHLQ $1, R9
	MOVQ n+32(FP), CX
	SHRQ $4, CX
	JZ   t16done
	LEAQ (R9)(R9*2), R10  // 3·ld
	LEAQ (SI)(R9*4), R11  // row 4
	LEAQ (R11)(R9*4), R12 // row 8
	LEAQ (R12)(R9*4), R13 // row 12
	LEAQ (R8*4), AX       // 4 rows of dst
	LEAQ (AX)(AX*2), BX   // 12 rows of dst

t16loop:
	VPMOVZXWD (SI), Z0
	VPMOVZXWD (SI)(R9*1), Z1
	VPMOVZXWD (SI)(R9*2), Z2
	VPMOVZXWD (SI)(R10*1), Z3
	VPMOVZXWD (R11), Z4
	VPMOVZXWD (R11)(R9*1), Z5
	VPMOVZXWD (R11)(R9*2), Z6
	VPMOVZXWD (R11)(R10*1), Z7
	VPMOVZXWD (R12), Z8
	VPMOVZXWD (R12)(R9*1), Z9
	VPMOVZXWD (R12)(R9*2), Z10
	VPMOVZXWD (R12)(R10*1), Z11
	VPMOVZXWD (R13), Z12
	VPMOVZXWD (R13)(R9*1), Z13
	VPMOVZXWD (R13)(R9*2), Z14
	VPMOVZXWD (R13)(R10*1), Z15
	VPSLLD $16, Z0, Z0
	VPSLLD $16, Z1, Z1
	VPSLLD $16, Z2, Z2
	VPSLLD $16, Z3, Z3
	VPSLLD $16, Z4, Z4
	VPSLLD $16, Z5, Z5
	VPSLLD $16, Z6, Z6
	VPSLLD $16, Z7, Z7
	VPSLLD $16, Z8, Z8
	VPSLLD $16, Z9, Z9
	VPSLLD $16, Z10, Z10
	VPSLLD $16, Z11, Z11
	VPSLLD $16, Z12, Z12
	VPSLLD $16, Z13, Z13
	VPSLLD $16, Z14, Z14
	VPSLLD $16, Z15, Z15
	MOVQ DI, DX
	TRANSPOSE16
	LEAQ (DI)(AX*4), DI
	ADDQ $32, SI
	ADDQ $32, R11
	ADDQ $32, R12
	ADDQ $32, R13
	DECQ CX
	JNZ  t16loop

t16done:
	VZEROUPPER
	RET
