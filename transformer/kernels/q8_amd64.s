//go:build amd64 && !purego

#include "textflag.h"

// The 8-bit block kernels of q8.go. A block is a float16 scale d and 32 int8 values q
// (34 bytes, ggml's Q8_0); VCVTPH2PS widens d (reading 8 bytes from the block's start:
// d and six values of q, whose conversion is discarded), VPMOVSXBD widens 8 (16) values
// of q to int32 lanes and VCVTDQ2PS makes them float32, all exactly. The GEMVs follow dotQ8's order of operations: for each block, lane
// l adds ((q[l]·x[l]) + (q[l+16]·x[l+16]))·d into accumulator lane l (16 lanes: one zmm,
// or two ymm holding lanes 0–7 and 8–15), each operation rounded (no fused
// multiply-add), and the lanes are reduced as (l, l+8), then (l, l+4), then (l, l+2),
// then (0, 1). Like matVecAVX they walk four quarters of the rows in step (four
// sequential streams of w) and prefetch each stream 1 KiB ahead.

// Q8SETUP loads the arguments of a GEMV kernel (out, rows, w, x, nb) and cuts the rows into
// four quarters of q = rows/4 (jumping to tail when q is 0): DI = out, SI = x, BX = the
// bytes of x, R9 = the bytes of a row of w, R8, R10, R11, R12 = the first row of each
// quarter, CX = q, DX = rows % 4 (the rows after the quarters), and the outputs of
// quarters 1, 2 and 3 at DI+R13, DI+2·R13 and DI+R14.
#define Q8SETUP(tail) \
	MOVQ out+0(FP), DI; \
	MOVQ rows+8(FP), DX; \
	MOVQ w+16(FP), R8; \
	MOVQ x+24(FP), SI; \
	MOVQ nb+32(FP), BX; \
	IMUL3Q $34, BX, R9; \
	SHLQ $7, BX; \
	MOVQ DX, AX; \
	SHRQ $2, AX; \
	JZ   tail; \
	ANDQ $3, DX; \
	MOVQ AX, R13; \
	IMULQ R9, R13; \
	LEAQ (R8)(R13*1), R10; \
	LEAQ (R10)(R13*1), R11; \
	LEAQ (R11)(R13*1), R12; \
	MOVQ AX, CX; \
	LEAQ (AX*4), R13; \
	LEAQ (R13)(R13*2), R14

// Q8ROW512 adds one block of the row at R, times x's block in Z4 (values 0–15) and Z5
// (16–31), into acc, and moves R to the next block.
#define Q8ROW512(R, acc) \
	VCVTPH2PS (R), X8; \
	VBROADCASTSS X8, Z8; \
	VPMOVSXBD 2(R), Z9; \
	VPMOVSXBD 18(R), Z10; \
	VCVTDQ2PS Z9, Z9; \
	VCVTDQ2PS Z10, Z10; \
	VMULPS Z4, Z9, Z9; \
	VMULPS Z5, Z10, Z10; \
	VADDPS Z10, Z9, Z9; \
	VMULPS Z8, Z9, Z9; \
	VADDPS Z9, acc, acc; \
	PREFETCHT0 1024(R); \
	ADDQ $34, R

// RED16 reduces the 16 lanes of z (whose ymm and xmm names are y and x) into x's lane 0,
// in dotQ8's order.
#define RED16(z, y, x) \
	VEXTRACTF32X8 $1, z, Y6; \
	VADDPS Y6, y, y; \
	VEXTRACTF128 $1, y, X6; \
	VADDPS X6, x, x; \
	VMOVHLPS x, x, X6; \
	VADDPS X6, x, x; \
	VMOVSHDUP x, X6; \
	VADDSS X6, x, x

// func matVecQ8AVX512(out *float32, rows int, w *byte, x *float32, nb int)
TEXT ·matVecQ8AVX512(SB), NOSPLIT, $0-40
	Q8SETUP(z5tail)

z5quad:
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	XORQ AX, AX

z5block4:
	VMOVUPS (SI)(AX*1), Z4
	VMOVUPS 64(SI)(AX*1), Z5
	Q8ROW512(R8, Z0)
	Q8ROW512(R10, Z1)
	Q8ROW512(R11, Z2)
	Q8ROW512(R12, Z3)
	ADDQ $128, AX
	CMPQ AX, BX
	JLT  z5block4

	RED16(Z0, Y0, X0)
	RED16(Z1, Y1, X1)
	RED16(Z2, Y2, X2)
	RED16(Z3, Y3, X3)
	VMOVSS X0, (DI)
	VMOVSS X1, (DI)(R13*1)
	VMOVSS X2, (DI)(R13*2)
	VMOVSS X3, (DI)(R14*1)
	ADDQ $4, DI
	DECQ CX
	JNZ  z5quad

	ADDQ R14, DI               // out of the rows after the quarters
	MOVQ R12, R8               // and their w (R12 walked quarter 3 to its end)
	CMPQ DX, $0
	JEQ  z5done

z5tail:
	VXORPS Z0, Z0, Z0
	XORQ AX, AX

z5block1:
	VMOVUPS (SI)(AX*1), Z4
	VMOVUPS 64(SI)(AX*1), Z5
	Q8ROW512(R8, Z0)
	ADDQ $128, AX
	CMPQ AX, BX
	JLT  z5block1

	RED16(Z0, Y0, X0)
	VMOVSS X0, (DI)
	ADDQ $4, DI
	DECQ DX
	JNZ  z5tail

z5done:
	VZEROUPPER
	RET

// Q8ROW2 adds one block of the row at R, times x's block at (SI)(AX*1), into the
// accumulator halves lo (lanes 0–7) and hi (8–15), and moves R to the next block.
#define Q8ROW2(R, lo, hi) \
	VCVTPH2PS (R), X8; \
	VBROADCASTSS X8, Y8; \
	VPMOVSXBD 2(R), Y9; \
	VPMOVSXBD 10(R), Y10; \
	VPMOVSXBD 18(R), Y11; \
	VPMOVSXBD 26(R), Y12; \
	VCVTDQ2PS Y9, Y9; \
	VCVTDQ2PS Y10, Y10; \
	VCVTDQ2PS Y11, Y11; \
	VCVTDQ2PS Y12, Y12; \
	VMULPS (SI)(AX*1), Y9, Y9; \
	VMULPS 32(SI)(AX*1), Y10, Y10; \
	VMULPS 64(SI)(AX*1), Y11, Y11; \
	VMULPS 96(SI)(AX*1), Y12, Y12; \
	VADDPS Y11, Y9, Y9; \
	VADDPS Y12, Y10, Y10; \
	VMULPS Y8, Y9, Y9; \
	VMULPS Y8, Y10, Y10; \
	VADDPS Y9, lo, lo; \
	VADDPS Y10, hi, hi; \
	PREFETCHT0 1024(R); \
	ADDQ $34, R

// RED8x2 reduces the accumulator halves lo (xmm name xlo) and hi into xlo's lane 0, in
// dotQ8's order.
#define RED8x2(lo, xlo, hi) \
	VADDPS hi, lo, lo; \
	VEXTRACTF128 $1, lo, X13; \
	VADDPS X13, xlo, xlo; \
	VMOVHLPS xlo, xlo, X13; \
	VADDPS X13, xlo, xlo; \
	VMOVSHDUP xlo, X13; \
	VADDSS X13, xlo, xlo

// func matVecQ8AVX2(out *float32, rows int, w *byte, x *float32, nb int)
TEXT ·matVecQ8AVX2(SB), NOSPLIT, $0-40
	Q8SETUP(y2tail)

y2quad:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ AX, AX

y2block4:
	Q8ROW2(R8, Y0, Y1)
	Q8ROW2(R10, Y2, Y3)
	Q8ROW2(R11, Y4, Y5)
	Q8ROW2(R12, Y6, Y7)
	ADDQ $128, AX
	CMPQ AX, BX
	JLT  y2block4

	RED8x2(Y0, X0, Y1)
	RED8x2(Y2, X2, Y3)
	RED8x2(Y4, X4, Y5)
	RED8x2(Y6, X6, Y7)
	VMOVSS X0, (DI)
	VMOVSS X2, (DI)(R13*1)
	VMOVSS X4, (DI)(R13*2)
	VMOVSS X6, (DI)(R14*1)
	ADDQ $4, DI
	DECQ CX
	JNZ  y2quad

	ADDQ R14, DI               // out of the rows after the quarters
	MOVQ R12, R8               // and their w (R12 walked quarter 3 to its end)
	CMPQ DX, $0
	JEQ  y2done

y2tail:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	XORQ AX, AX

y2block1:
	Q8ROW2(R8, Y0, Y1)
	ADDQ $128, AX
	CMPQ AX, BX
	JLT  y2block1

	RED8x2(Y0, X0, Y1)
	VMOVSS X0, (DI)
	ADDQ $4, DI
	DECQ DX
	JNZ  y2tail

y2done:
	VZEROUPPER
	RET

// func dequantQ8AVX2(dst *float32, src *byte, nb int)
// dst[32b+j] = q[j]·d of block b, for b < nb (≥ 1): exact, as in Go.
TEXT ·dequantQ8AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nb+16(FP), CX

dqblock:
	VCVTPH2PS (SI), X8
	VBROADCASTSS X8, Y8
	VPMOVSXBD 2(SI), Y0
	VPMOVSXBD 10(SI), Y1
	VPMOVSXBD 18(SI), Y2
	VPMOVSXBD 26(SI), Y3
	VCVTDQ2PS Y0, Y0
	VCVTDQ2PS Y1, Y1
	VCVTDQ2PS Y2, Y2
	VCVTDQ2PS Y3, Y3
	VMULPS Y8, Y0, Y0
	VMULPS Y8, Y1, Y1
	VMULPS Y8, Y2, Y2
	VMULPS Y8, Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $34, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  dqblock

	VZEROUPPER
	RET
