//go:build amd64 && !purego

#include "textflag.h"

// func packAlongAVX(dst *float32, panel int, src *float32, ld int, kc int, full int, width int)
//
// dst[q·panel + k·width + x] = src[k·ld + q·width + x] for q < full, k < kc, x < width, width
// 32, 16, 12 or 6 (other widths return at once; strides in floats): the whole panels of
// packAlong (see sgemm_driver.go), with AVX moves. It takes src in blocks of 8 rows and
// fills each panel's part of a block, written in order, before the next panel.
TEXT ·packAlongAVX(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ panel+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), SI
	MOVQ ld+24(FP), R9
	SHLQ $2, R9
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
	CMPQ AX, $12
	JEQ  w12
	CMPQ AX, $6
	JEQ  w6
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
	VMOVUPS (R15), Y0
	VMOVUPS 32(R15), Y1
	VMOVUPS 64(R15), Y2
	VMOVUPS 96(R15), Y3
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, 64(DX)
	VMOVUPS Y3, 96(DX)
	ADDQ R9, R15
	ADDQ $128, DX
	DECQ AX
	JNZ  w32_row
	ADDQ $128, R13
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
	VMOVUPS (R15), Y0
	VMOVUPS 32(R15), Y1
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	ADDQ R9, R15
	ADDQ $64, DX
	DECQ AX
	JNZ  w16_row
	ADDQ $64, R13
	ADDQ R8, R14
	DECQ BX
	JNZ  w16_panel
	ADDQ $8, R11
	CMPQ R11, CX
	JLT  w16_block
	JMP  done

w12:
	XORQ R11, R11 // k0, the block's first row
w12_block:
	MOVQ CX, R12
	SUBQ R11, R12 // rows in the block: min(8, kc-k0)
	CMPQ R12, $8
	JLE  w12_start
	MOVQ $8, R12
w12_start:
	MOVQ R11, R13
	IMULQ R9, R13
	ADDQ SI, R13 // src row k0, panel 0's columns
	IMUL3Q $48, R11, R14
	ADDQ DI, R14 // panel 0, row k0
	MOVQ R10, BX // panels left
w12_panel:
	MOVQ R13, R15
	MOVQ R14, DX
	MOVQ R12, AX // rows left
w12_row:
	VMOVUPS (R15), Y0
	VMOVUPS 32(R15), X1
	VMOVUPS Y0, (DX)
	VMOVUPS X1, 32(DX)
	ADDQ R9, R15
	ADDQ $48, DX
	DECQ AX
	JNZ  w12_row
	ADDQ $48, R13
	ADDQ R8, R14
	DECQ BX
	JNZ  w12_panel
	ADDQ $8, R11
	CMPQ R11, CX
	JLT  w12_block
	JMP  done

w6:
	XORQ R11, R11 // k0, the block's first row
w6_block:
	MOVQ CX, R12
	SUBQ R11, R12 // rows in the block: min(8, kc-k0)
	CMPQ R12, $8
	JLE  w6_start
	MOVQ $8, R12
w6_start:
	MOVQ R11, R13
	IMULQ R9, R13
	ADDQ SI, R13 // src row k0, panel 0's columns
	IMUL3Q $24, R11, R14
	ADDQ DI, R14 // panel 0, row k0
	MOVQ R10, BX // panels left
w6_panel:
	MOVQ R13, R15
	MOVQ R14, DX
	MOVQ R12, AX // rows left
w6_row:
	VMOVUPS (R15), X0
	VMOVQ 16(R15), X1
	VMOVUPS X0, (DX)
	VMOVQ X1, 16(DX)
	ADDQ R9, R15
	ADDQ $24, DX
	DECQ AX
	JNZ  w6_row
	ADDQ $24, R13
	ADDQ R8, R14
	DECQ BX
	JNZ  w6_panel
	ADDQ $8, R11
	CMPQ R11, CX
	JLT  w6_block
	JMP  done

done:
	VZEROUPPER
	RET
