//go:build amd64 && !purego

#include "textflag.h"

// The AMX instructions are written as bytes (the Go assembler does not know them yet);
// each line names the instruction in AT&T syntax, as GNU as encodes it.

#define LDTILECFG_AX        BYTE $0xc4; BYTE $0xe2; BYTE $0x78; BYTE $0x49; BYTE $0x00
#define TILERELEASE         BYTE $0xc4; BYTE $0xe2; BYTE $0x78; BYTE $0x49; BYTE $0xc0
#define TILEZERO_T0         BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $0xc0
#define TILEZERO_T1         BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $0xc8
#define TILEZERO_T2         BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $0xd0
#define TILEZERO_T3         BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $0xd8
// tileloadd (%rcx,%r8,1), %tmm0 / 0x40(%rcx,%r8,1), %tmm1 / 0x0(%r13,%r8,1), %tmm2 /
// 0x40(%r13,%r8,1), %tmm3
#define LOAD_C_T0           BYTE $0xc4; BYTE $0xa2; BYTE $0x7b; BYTE $0x4b; BYTE $0x04; BYTE $0x01
#define LOAD_C_T1           BYTE $0xc4; BYTE $0xa2; BYTE $0x7b; BYTE $0x4b; BYTE $0x4c; BYTE $0x01; BYTE $0x40
#define LOAD_C_T2           BYTE $0xc4; BYTE $0x82; BYTE $0x7b; BYTE $0x4b; BYTE $0x54; BYTE $0x05; BYTE $0x00
#define LOAD_C_T3           BYTE $0xc4; BYTE $0x82; BYTE $0x7b; BYTE $0x4b; BYTE $0x5c; BYTE $0x05; BYTE $0x40
// tilestored %tmm0, (%rcx,%r8,1) and the same three places
#define STORE_C_T0          BYTE $0xc4; BYTE $0xa2; BYTE $0x7a; BYTE $0x4b; BYTE $0x04; BYTE $0x01
#define STORE_C_T1          BYTE $0xc4; BYTE $0xa2; BYTE $0x7a; BYTE $0x4b; BYTE $0x4c; BYTE $0x01; BYTE $0x40
#define STORE_C_T2          BYTE $0xc4; BYTE $0x82; BYTE $0x7a; BYTE $0x4b; BYTE $0x54; BYTE $0x05; BYTE $0x00
#define STORE_C_T3          BYTE $0xc4; BYTE $0x82; BYTE $0x7a; BYTE $0x4b; BYTE $0x5c; BYTE $0x05; BYTE $0x40
// tileloadd (%rsi,%rdx,1), %tmm4 / 0x400(%rsi,%rdx,1), %tmm5
#define LOAD_A_T4           BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x24; BYTE $0x16
#define LOAD_A_T5           BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0xac; BYTE $0x16; BYTE $0x00; BYTE $0x04; BYTE $0x00; BYTE $0x00
// tileloadd (%r9,%rdx,1), %tmm6 / 0x400(%r9,%rdx,1), %tmm7
#define LOAD_B_T6           BYTE $0xc4; BYTE $0xc2; BYTE $0x7b; BYTE $0x4b; BYTE $0x34; BYTE $0x11
#define LOAD_B_T7           BYTE $0xc4; BYTE $0xc2; BYTE $0x7b; BYTE $0x4b; BYTE $0xbc; BYTE $0x11; BYTE $0x00; BYTE $0x04; BYTE $0x00; BYTE $0x00
// tdpbf16ps %tmm6, %tmm4, %tmm0 (tmm0 += tmm4·tmm6), and so on
#define TDP_T0_T4_T6        BYTE $0xc4; BYTE $0xe2; BYTE $0x4a; BYTE $0x5c; BYTE $0xc4
#define TDP_T1_T4_T7        BYTE $0xc4; BYTE $0xe2; BYTE $0x42; BYTE $0x5c; BYTE $0xcc
#define TDP_T2_T5_T6        BYTE $0xc4; BYTE $0xe2; BYTE $0x4a; BYTE $0x5c; BYTE $0xd5
#define TDP_T3_T5_T7        BYTE $0xc4; BYTE $0xe2; BYTE $0x42; BYTE $0x5c; BYTE $0xdd

// func amxTiles(cfg *byte, a, b *uint16, c *float32, ldc, blocks, ksteps int, accumulate bool)
//
// For each of blocks 32-row blocks of packed A (ksteps steps of two 16×32 bfloat16 tiles,
// 2 KiB a step, the blocks one after another), C[32×32] (=|+=) Σ_steps A·B over the same
// ksteps steps of the packed 32-column B panel (two 16-pair×16-column VNNI tiles a step).
// C's rows are ldc floats apart; each block's C is the 32 rows after the previous one's.
// cfg is the 64-byte tile configuration (amxConfig). The tiles are configured at entry
// and released at exit, so no tile state outlives the call (a goroutine may move to
// another thread between calls). blocks, ksteps >= 1. Needs AMX-TILE and AMX-BF16, with
// the tile data permission granted to the process (enableAMX).
//
// Tiles: tmm0..3 accumulate the four 16×16 quarters of C, tmm4/5 hold A's rows 0-15 and
// 16-31, tmm6/7 B's columns 0-15 and 16-31.
TEXT ·amxTiles(SB), NOSPLIT, $0-57
	MOVQ    cfg+0(FP), AX
	MOVQ    a+8(FP), SI
	MOVQ    b+16(FP), DI
	MOVQ    c+24(FP), CX
	MOVQ    ldc+32(FP), R8
	MOVQ    blocks+40(FP), R10
	MOVQ    ksteps+48(FP), R12
	MOVBQZX accumulate+56(FP), BX
	MOVQ    $64, DX
	SHLQ    $2, R8        // C's row stride in bytes
	MOVQ    R8, R13
	SHLQ    $4, R13       // 16 rows of C
	LDTILECFG_AX

block:
	LEAQ (CX)(R13*1), R13
	TESTQ BX, BX
	JZ    zero
	LOAD_C_T0
	LOAD_C_T1
	LOAD_C_T2
	LOAD_C_T3
	JMP   steps

zero:
	TILEZERO_T0
	TILEZERO_T1
	TILEZERO_T2
	TILEZERO_T3

steps:
	MOVQ DI, R9
	MOVQ R12, R11

step:
	LOAD_A_T4
	LOAD_B_T6
	LOAD_B_T7
	LOAD_A_T5
	TDP_T0_T4_T6
	TDP_T1_T4_T7
	TDP_T2_T5_T6
	TDP_T3_T5_T7
	ADDQ $2048, SI
	ADDQ $2048, R9
	DECQ R11
	JNZ  step

	STORE_C_T0
	STORE_C_T1
	STORE_C_T2
	STORE_C_T3
	SUBQ CX, R13          // back to 16 rows
	LEAQ (CX)(R13*2), CX  // the next block's C, 32 rows on
	DECQ R10
	JNZ  block

	TILERELEASE
	RET

// ROUNDBF16(off, Y) rounds the 16 floats at off(SI) to bfloat16 as half.BFloat16 does (to
// nearest, ties to even, on the bits; a NaN becomes 0x7fc0) into Y's 16 words.
// Z28 = 0x7fc00000, Z29 = 0x7fff, Z30 = 1, all lanes; Z24, Z25, K1 are clobbered.
#define ROUNDBF16(off, Y) \
	VMOVDQU32   off(SI), Z24; \
	VCMPPS      $3, Z24, Z24, K1; \
	VMOVDQA32   Z28, K1, Z24; \
	VPSRLD      $16, Z24, Z25; \
	VPANDD      Z30, Z25, Z25; \
	VPADDD      Z29, Z25, Z25; \
	VPADDD      Z25, Z24, Z24; \
	VPSRLD      $16, Z24, Z24; \
	VPMOVDW     Z24, Y

// func packRowAMX(dst *uint16, src *float32, steps int)
//
// Rounds steps×32 floats of src to bfloat16, 32 at a time, into dst, dst+1024, ...
// (elements; one 32-k step of a packed A block apart). steps >= 1. Needs AVX-512F.
TEXT ·packRowAMX(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ steps+16(FP), CX
	MOVL $0x7fc00000, AX
	VPBROADCASTD AX, Z28
	MOVL $0x7fff, AX
	VPBROADCASTD AX, Z29
	MOVL $1, AX
	VPBROADCASTD AX, Z30

loop:
	ROUNDBF16(0, Y26)
	ROUNDBF16(64, Y27)
	VMOVDQU32 Y26, (DI)
	VMOVDQU32 Y27, 32(DI)
	ADDQ $128, SI
	ADDQ $2048, DI
	DECQ CX
	JNZ  loop
	VZEROUPPER
	RET
