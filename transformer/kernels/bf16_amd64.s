//go:build amd64 && !purego

#include "textflag.h"

// The bfloat16 kernels of bf16.go. A bfloat16 value is the upper half of a float32:
// VPMOVZXWD widens eight (sixteen) of them to 32-bit lanes, VPSLLD $16 moves them up,
// and the float32 they make is exact. The GEMV kernels are vecMatAVX and matVecAVX of
// decode_amd64.s with each weight widened this way before its fused multiply-add, in
// the same order, so that they give the same bits on the widened weights. They also
// prefetch each of their four streams of w 1 KiB ahead (PREFETCHT0, a hint that never
// faults): decoding reads a model's weights from memory, and with half the bytes per
// multiply-add the hardware prefetchers alone left the bfloat16 kernels 15–20% short
// (SmolLM2-135M's projections, BenchmarkGemvModelBF16: 27–29 ms of CPU a step without,
// 22–24 with).

// func widenBF16AVX2(dst *float32, src *uint16, n int)
// dst[i] = src[i] << 16 for i < n, n a multiple of 8.
TEXT ·widenBF16AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), DX
	SHLQ $1, DX                // n in bytes of src; dst at twice the offset
	MOVQ DX, BX
	ANDQ $-64, BX              // bytes handled 32 values at a time
	XORQ AX, AX

w2x32:
	CMPQ AX, BX
	JGE  w2x8
	VPMOVZXWD (SI)(AX*1), Y0
	VPMOVZXWD 16(SI)(AX*1), Y1
	VPMOVZXWD 32(SI)(AX*1), Y2
	VPMOVZXWD 48(SI)(AX*1), Y3
	VPSLLD $16, Y0, Y0
	VPSLLD $16, Y1, Y1
	VPSLLD $16, Y2, Y2
	VPSLLD $16, Y3, Y3
	VMOVDQU Y0, (DI)(AX*2)
	VMOVDQU Y1, 32(DI)(AX*2)
	VMOVDQU Y2, 64(DI)(AX*2)
	VMOVDQU Y3, 96(DI)(AX*2)
	ADDQ $64, AX
	JMP  w2x32

w2x8:
	CMPQ AX, DX
	JGE  w2done
	VPMOVZXWD (SI)(AX*1), Y0
	VPSLLD $16, Y0, Y0
	VMOVDQU Y0, (DI)(AX*2)
	ADDQ $16, AX
	JMP  w2x8

w2done:
	VZEROUPPER
	RET

// func vecMatBF16AVX2(y *float32, n int, x *float32, k int, w *uint16, ldw int)
//
// y[0:n] += Σ_{i<k} x[i]·w[i·ldw : i·ldw+n], n a multiple of 8 (≥ 8), k ≥ 1: vecMatAVX's
// walk (four quarters of the rows in step, then the last k%4 rows), with the same fused
// multiply-adds per column in the same order. AX counts bytes of a row of w; y is at
// twice that offset.
TEXT ·vecMatBF16AVX2(SB), NOSPLIT, $0-48
	MOVQ y+0(FP), DI
	MOVQ n+8(FP), BX
	MOVQ x+16(FP), SI
	MOVQ k+24(FP), DX
	MOVQ w+32(FP), R8
	MOVQ ldw+40(FP), R9
	SHLQ $1, BX                // n in bytes of w
	SHLQ $1, R9                // ldw in bytes
	MOVQ BX, R13
	ANDQ $-32, R13             // bytes handled 16 columns at a time

	MOVQ DX, CX
	SHRQ $2, CX                // q, counted down
	JZ   b2rows1
	ANDQ $3, DX                // rows left after the quarters
	MOVQ CX, AX
	IMULQ R9, AX               // a quarter of w, in bytes
	LEAQ (R8)(AX*1), R10
	LEAQ (R10)(AX*1), R11
	LEAQ (R11)(AX*1), R12
	LEAQ (CX*4), R14           // x of quarter 1 at SI+R14, of quarter 2 at SI+2·R14

b2rows4:
	VBROADCASTSS (SI), Y0
	VBROADCASTSS (SI)(R14*1), Y1
	VBROADCASTSS (SI)(R14*2), Y2
	LEAQ (SI)(R14*2), AX
	VBROADCASTSS (AX)(R14*1), Y3
	XORQ AX, AX

b2cols16:
	CMPQ AX, R13
	JGE  b2cols8
	PREFETCHT0 1024(R8)(AX*1)
	PREFETCHT0 1024(R10)(AX*1)
	PREFETCHT0 1024(R11)(AX*1)
	PREFETCHT0 1024(R12)(AX*1)
	VPMOVZXWD (R8)(AX*1), Y6
	VPMOVZXWD 16(R8)(AX*1), Y7
	VPMOVZXWD (R10)(AX*1), Y8
	VPMOVZXWD 16(R10)(AX*1), Y9
	VPMOVZXWD (R11)(AX*1), Y10
	VPMOVZXWD 16(R11)(AX*1), Y11
	VPMOVZXWD (R12)(AX*1), Y12
	VPMOVZXWD 16(R12)(AX*1), Y13
	VPSLLD $16, Y6, Y6
	VPSLLD $16, Y7, Y7
	VPSLLD $16, Y8, Y8
	VPSLLD $16, Y9, Y9
	VPSLLD $16, Y10, Y10
	VPSLLD $16, Y11, Y11
	VPSLLD $16, Y12, Y12
	VPSLLD $16, Y13, Y13
	VMOVUPS (DI)(AX*2), Y4
	VMOVUPS 32(DI)(AX*2), Y5
	VFMADD231PS Y6, Y0, Y4
	VFMADD231PS Y7, Y0, Y5
	VFMADD231PS Y8, Y1, Y4
	VFMADD231PS Y9, Y1, Y5
	VFMADD231PS Y10, Y2, Y4
	VFMADD231PS Y11, Y2, Y5
	VFMADD231PS Y12, Y3, Y4
	VFMADD231PS Y13, Y3, Y5
	VMOVUPS Y4, (DI)(AX*2)
	VMOVUPS Y5, 32(DI)(AX*2)
	ADDQ $32, AX
	JMP  b2cols16

b2cols8:
	CMPQ AX, BX
	JGE  b2next4
	VPMOVZXWD (R8)(AX*1), Y6
	VPMOVZXWD (R10)(AX*1), Y8
	VPMOVZXWD (R11)(AX*1), Y10
	VPMOVZXWD (R12)(AX*1), Y12
	VPSLLD $16, Y6, Y6
	VPSLLD $16, Y8, Y8
	VPSLLD $16, Y10, Y10
	VPSLLD $16, Y12, Y12
	VMOVUPS (DI)(AX*2), Y4
	VFMADD231PS Y6, Y0, Y4
	VFMADD231PS Y8, Y1, Y4
	VFMADD231PS Y10, Y2, Y4
	VFMADD231PS Y12, Y3, Y4
	VMOVUPS Y4, (DI)(AX*2)
	ADDQ $16, AX
	JMP  b2cols8

b2next4:
	ADDQ R9, R8
	ADDQ R9, R10
	ADDQ R9, R11
	ADDQ R9, R12
	ADDQ $4, SI
	DECQ CX
	JNZ  b2rows4

	LEAQ (SI)(R14*2), SI       // x of the rows after the quarters
	ADDQ R14, SI
	MOVQ R12, R8               // and their w

b2rows1:
	CMPQ DX, $0
	JLE  b2done
	VBROADCASTSS (SI), Y0
	XORQ AX, AX

b2cols1:
	CMPQ AX, BX
	JGE  b2next1
	VPMOVZXWD (R8)(AX*1), Y6
	VPSLLD $16, Y6, Y6
	VMOVUPS (DI)(AX*2), Y4
	VFMADD231PS Y6, Y0, Y4
	VMOVUPS Y4, (DI)(AX*2)
	ADDQ $16, AX
	JMP  b2cols1

b2next1:
	ADDQ R9, R8
	ADDQ $4, SI
	DECQ DX
	JMP  b2rows1

b2done:
	VZEROUPPER
	RET

// func vecMatBF16AVX512(y *float32, n int, x *float32, k int, w *uint16, ldw int)
//
// vecMatBF16AVX2 with 16 columns a zmm register: 32 columns at a time, then 16, then 8
// (the lower half of the registers). Every column gets the same fused multiply-adds in
// the same order as in vecMatAVX; only how many columns share an instruction changes.
TEXT ·vecMatBF16AVX512(SB), NOSPLIT, $0-48
	MOVQ y+0(FP), DI
	MOVQ n+8(FP), BX
	MOVQ x+16(FP), SI
	MOVQ k+24(FP), DX
	MOVQ w+32(FP), R8
	MOVQ ldw+40(FP), R9
	SHLQ $1, BX                // n in bytes of w
	SHLQ $1, R9                // ldw in bytes
	MOVQ BX, R13
	ANDQ $-64, R13             // bytes handled 32 columns at a time

	MOVQ DX, CX
	SHRQ $2, CX                // q, counted down
	JZ   b5rows1
	ANDQ $3, DX                // rows left after the quarters
	MOVQ CX, AX
	IMULQ R9, AX               // a quarter of w, in bytes
	LEAQ (R8)(AX*1), R10
	LEAQ (R10)(AX*1), R11
	LEAQ (R11)(AX*1), R12
	LEAQ (CX*4), R14           // x of quarter 1 at SI+R14, of quarter 2 at SI+2·R14

b5rows4:
	VBROADCASTSS (SI), Z0
	VBROADCASTSS (SI)(R14*1), Z1
	VBROADCASTSS (SI)(R14*2), Z2
	LEAQ (SI)(R14*2), AX
	VBROADCASTSS (AX)(R14*1), Z3
	XORQ AX, AX

b5cols32:
	CMPQ AX, R13
	JGE  b5cols16
	PREFETCHT0 1024(R8)(AX*1)
	PREFETCHT0 1024(R10)(AX*1)
	PREFETCHT0 1024(R11)(AX*1)
	PREFETCHT0 1024(R12)(AX*1)
	VPMOVZXWD (R8)(AX*1), Z6
	VPMOVZXWD 32(R8)(AX*1), Z7
	VPMOVZXWD (R10)(AX*1), Z8
	VPMOVZXWD 32(R10)(AX*1), Z9
	VPMOVZXWD (R11)(AX*1), Z10
	VPMOVZXWD 32(R11)(AX*1), Z11
	VPMOVZXWD (R12)(AX*1), Z12
	VPMOVZXWD 32(R12)(AX*1), Z13
	VPSLLD $16, Z6, Z6
	VPSLLD $16, Z7, Z7
	VPSLLD $16, Z8, Z8
	VPSLLD $16, Z9, Z9
	VPSLLD $16, Z10, Z10
	VPSLLD $16, Z11, Z11
	VPSLLD $16, Z12, Z12
	VPSLLD $16, Z13, Z13
	VMOVUPS (DI)(AX*2), Z4
	VMOVUPS 64(DI)(AX*2), Z5
	VFMADD231PS Z6, Z0, Z4
	VFMADD231PS Z7, Z0, Z5
	VFMADD231PS Z8, Z1, Z4
	VFMADD231PS Z9, Z1, Z5
	VFMADD231PS Z10, Z2, Z4
	VFMADD231PS Z11, Z2, Z5
	VFMADD231PS Z12, Z3, Z4
	VFMADD231PS Z13, Z3, Z5
	VMOVUPS Z4, (DI)(AX*2)
	VMOVUPS Z5, 64(DI)(AX*2)
	ADDQ $64, AX
	JMP  b5cols32

b5cols16:                          // AX = R13: 16 columns left if BX has bit 5
	TESTQ $32, BX
	JZ   b5cols8
	VPMOVZXWD (R8)(AX*1), Z6
	VPMOVZXWD (R10)(AX*1), Z8
	VPMOVZXWD (R11)(AX*1), Z10
	VPMOVZXWD (R12)(AX*1), Z12
	VPSLLD $16, Z6, Z6
	VPSLLD $16, Z8, Z8
	VPSLLD $16, Z10, Z10
	VPSLLD $16, Z12, Z12
	VMOVUPS (DI)(AX*2), Z4
	VFMADD231PS Z6, Z0, Z4
	VFMADD231PS Z8, Z1, Z4
	VFMADD231PS Z10, Z2, Z4
	VFMADD231PS Z12, Z3, Z4
	VMOVUPS Z4, (DI)(AX*2)
	ADDQ $32, AX

b5cols8:
	CMPQ AX, BX
	JGE  b5next4
	VPMOVZXWD (R8)(AX*1), Y6
	VPMOVZXWD (R10)(AX*1), Y8
	VPMOVZXWD (R11)(AX*1), Y10
	VPMOVZXWD (R12)(AX*1), Y12
	VPSLLD $16, Y6, Y6
	VPSLLD $16, Y8, Y8
	VPSLLD $16, Y10, Y10
	VPSLLD $16, Y12, Y12
	VMOVUPS (DI)(AX*2), Y4
	VFMADD231PS Y6, Y0, Y4
	VFMADD231PS Y8, Y1, Y4
	VFMADD231PS Y10, Y2, Y4
	VFMADD231PS Y12, Y3, Y4
	VMOVUPS Y4, (DI)(AX*2)

b5next4:
	ADDQ R9, R8
	ADDQ R9, R10
	ADDQ R9, R11
	ADDQ R9, R12
	ADDQ $4, SI
	DECQ CX
	JNZ  b5rows4

	LEAQ (SI)(R14*2), SI       // x of the rows after the quarters
	ADDQ R14, SI
	MOVQ R12, R8               // and their w

b5rows1:
	CMPQ DX, $0
	JLE  b5done
	VBROADCASTSS (SI), Z0
	MOVQ BX, R14
	ANDQ $-32, R14             // bytes handled 16 columns at a time
	XORQ AX, AX

b5cols1x16:
	CMPQ AX, R14
	JGE  b5cols1x8
	VPMOVZXWD (R8)(AX*1), Z6
	VPSLLD $16, Z6, Z6
	VMOVUPS (DI)(AX*2), Z4
	VFMADD231PS Z6, Z0, Z4
	VMOVUPS Z4, (DI)(AX*2)
	ADDQ $32, AX
	JMP  b5cols1x16

b5cols1x8:
	CMPQ AX, BX
	JGE  b5next1
	VPMOVZXWD (R8)(AX*1), Y6
	VPSLLD $16, Y6, Y6
	VMOVUPS (DI)(AX*2), Y4
	VFMADD231PS Y6, Y0, Y4
	VMOVUPS Y4, (DI)(AX*2)

b5next1:
	ADDQ R9, R8
	ADDQ $4, SI
	DECQ DX
	JMP  b5rows1

b5done:
	VZEROUPPER
	RET

// func matVecBF16AVX2(out *float32, rows int, w *uint16, ldw int, x *float32, k int)
//
// out[r] = Σ_{i<k} w[r·ldw+i]·x[i] for r < rows, k a multiple of 8 (≥ 8), rows ≥ 1:
// matVecAVX's walk (four quarters of the rows in step, then the last rows%4), each row
// in one 8-wide accumulator, lane j taking elements j, j+8, … in order, reduced as
// ((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7)). AX counts bytes of a row of w; x is at twice
// that offset.
TEXT ·matVecBF16AVX2(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ rows+8(FP), DX
	MOVQ w+16(FP), R8
	MOVQ ldw+24(FP), R9
	MOVQ x+32(FP), SI
	MOVQ k+40(FP), BX
	SHLQ $1, R9                // ldw in bytes
	SHLQ $1, BX                // k in bytes of w

	MOVQ DX, AX
	SHRQ $2, AX                // q
	JZ   h2tail
	ANDQ $3, DX                // rows left after the quarters
	MOVQ AX, R13
	IMULQ R9, R13              // a quarter of w, in bytes
	LEAQ (R8)(R13*1), R10
	LEAQ (R10)(R13*1), R11
	LEAQ (R11)(R13*1), R12
	MOVQ AX, CX                // rows per quarter, counted down
	LEAQ (AX*4), R13           // out of quarter 1 at DI+R13, of quarter 2 at DI+2·R13
	LEAQ (R13)(R13*2), R14     // out of quarter 3 at DI+R14

h2quad:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ AX, AX

h2k4:
	PREFETCHT0 1024(R8)(AX*1)
	PREFETCHT0 1024(R10)(AX*1)
	PREFETCHT0 1024(R11)(AX*1)
	PREFETCHT0 1024(R12)(AX*1)
	VMOVUPS (SI)(AX*2), Y4
	VPMOVZXWD (R8)(AX*1), Y5
	VPMOVZXWD (R10)(AX*1), Y6
	VPMOVZXWD (R11)(AX*1), Y7
	VPMOVZXWD (R12)(AX*1), Y8
	VPSLLD $16, Y5, Y5
	VPSLLD $16, Y6, Y6
	VPSLLD $16, Y7, Y7
	VPSLLD $16, Y8, Y8
	VFMADD231PS Y5, Y4, Y0
	VFMADD231PS Y6, Y4, Y1
	VFMADD231PS Y7, Y4, Y2
	VFMADD231PS Y8, Y4, Y3
	ADDQ $16, AX
	CMPQ AX, BX
	JLT  h2k4

	// X0 = [Σ row of quarter 0, 1, 2, 3]
	VHADDPS Y1, Y0, Y0
	VHADDPS Y3, Y2, Y2
	VHADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVSS X0, (DI)
	VEXTRACTPS $1, X0, (DI)(R13*1)
	VEXTRACTPS $2, X0, (DI)(R13*2)
	VEXTRACTPS $3, X0, (DI)(R14*1)
	ADDQ $4, DI
	ADDQ R9, R8
	ADDQ R9, R10
	ADDQ R9, R11
	ADDQ R9, R12
	DECQ CX
	JNZ  h2quad

	ADDQ R14, DI               // out of the rows after the quarters
	MOVQ R12, R8               // and their w
	CMPQ DX, $0
	JEQ  h2done

h2tail:
	VXORPS Y0, Y0, Y0
	XORQ AX, AX

h2k1:
	VMOVUPS (SI)(AX*2), Y4
	VPMOVZXWD (R8)(AX*1), Y5
	VPSLLD $16, Y5, Y5
	VFMADD231PS Y5, Y4, Y0
	ADDQ $16, AX
	CMPQ AX, BX
	JLT  h2k1

	VHADDPS Y0, Y0, Y0
	VHADDPS Y0, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVSS X0, (DI)
	ADDQ $4, DI
	ADDQ R9, R8
	DECQ DX
	JNZ  h2tail

h2done:
	VZEROUPPER
	RET
