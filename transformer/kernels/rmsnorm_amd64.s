//go:build amd64 && !purego

#include "textflag.h"

// Row pieces of RMSNorm (rmsnorm.go) in float64 lanes: 16 partial sums per row, lane j
// taking elements j, j+16, j+32, … in order, as sumSq16Go and dot16Go do, so every path
// gets the same bits. The products summed are of two floats, exact in float64, so a
// fused multiply-add rounds them as a multiply and an add would.

// func sumSq16AVX2(x *float32, n int, acc *[16]float64)
// acc[j] += Σ_k x[16k+j]² over 16k < n&^15, in k order.
TEXT ·sumSq16AVX2(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ acc+16(FP), DX
	SHRQ $4, CX
	JZ ssdone2
	VMOVUPD (DX), Y0
	VMOVUPD 32(DX), Y1
	VMOVUPD 64(DX), Y2
	VMOVUPD 96(DX), Y3

ssloop2:
	VCVTPS2PD (SI), Y4
	VCVTPS2PD 16(SI), Y5
	VCVTPS2PD 32(SI), Y6
	VCVTPS2PD 48(SI), Y7
	VFMADD231PD Y4, Y4, Y0
	VFMADD231PD Y5, Y5, Y1
	VFMADD231PD Y6, Y6, Y2
	VFMADD231PD Y7, Y7, Y3
	ADDQ $64, SI
	DECQ CX
	JNZ ssloop2
	VMOVUPD Y0, (DX)
	VMOVUPD Y1, 32(DX)
	VMOVUPD Y2, 64(DX)
	VMOVUPD Y3, 96(DX)
	VZEROUPPER

ssdone2:
	RET

// func sumSq16AVX512(x *float32, n int, acc *[16]float64)
// As sumSq16AVX2.
TEXT ·sumSq16AVX512(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ acc+16(FP), DX
	SHRQ $4, CX
	JZ ssdone512
	VMOVUPD (DX), Z0
	VMOVUPD 64(DX), Z1

ssloop512:
	VCVTPS2PD (SI), Z4
	VCVTPS2PD 32(SI), Z5
	VFMADD231PD Z4, Z4, Z0
	VFMADD231PD Z5, Z5, Z1
	ADDQ $64, SI
	DECQ CX
	JNZ ssloop512
	VMOVUPD Z0, (DX)
	VMOVUPD Z1, 64(DX)
	VZEROUPPER

ssdone512:
	RET

// func dot16AVX2(d, w, x *float32, n int, rs float32, acc *[16]float64)
// acc[j] += Σ_k float64(d·w)·float64(x·rs) at element 16k+j over 16k < n&^15, in k
// order; d·w and x·rs are float32 products.
TEXT ·dot16AVX2(SB), NOSPLIT, $0-48
	MOVQ d+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ x+16(FP), BX
	MOVQ n+24(FP), CX
	MOVQ acc+40(FP), DX
	SHRQ $4, CX
	JZ dtdone2
	VBROADCASTSS rs+32(FP), X15
	VMOVUPD (DX), Y0
	VMOVUPD 32(DX), Y1
	VMOVUPD 64(DX), Y2
	VMOVUPD 96(DX), Y3

#define DOT4(off, acc) \
	VMOVUPS off(SI), X4; \
	VMULPS off(DI), X4, X4; \
	VMULPS off(BX), X15, X5; \
	VCVTPS2PD X4, Y4; \
	VCVTPS2PD X5, Y5; \
	VFMADD231PD Y5, Y4, acc

dtloop2:
	DOT4(0, Y0)
	DOT4(16, Y1)
	DOT4(32, Y2)
	DOT4(48, Y3)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, BX
	DECQ CX
	JNZ dtloop2
	VMOVUPD Y0, (DX)
	VMOVUPD Y1, 32(DX)
	VMOVUPD Y2, 64(DX)
	VMOVUPD Y3, 96(DX)
	VZEROUPPER

dtdone2:
	RET

// func dot16AVX512(d, w, x *float32, n int, rs float32, acc *[16]float64)
// As dot16AVX2.
TEXT ·dot16AVX512(SB), NOSPLIT, $0-48
	MOVQ d+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ x+16(FP), BX
	MOVQ n+24(FP), CX
	MOVQ acc+40(FP), DX
	SHRQ $4, CX
	JZ dtdone512
	VBROADCASTSS rs+32(FP), Y15
	VMOVUPD (DX), Z0
	VMOVUPD 64(DX), Z1

#define DOT8(off, acc) \
	VMOVUPS off(SI), Y4; \
	VMULPS off(DI), Y4, Y4; \
	VMULPS off(BX), Y15, Y5; \
	VCVTPS2PD Y4, Z4; \
	VCVTPS2PD Y5, Z5; \
	VFMADD231PD Z5, Z4, acc

dtloop512:
	DOT8(0, Z0)
	DOT8(32, Z1)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, BX
	DECQ CX
	JNZ dtloop512
	VMOVUPD Z0, (DX)
	VMOVUPD Z1, 64(DX)
	VZEROUPPER

dtdone512:
	RET

// func rmsScaleAVX2(out, x, w *float32, n int, rs float64)
// out[j] = float32(float64(x[j])·rs)·w[j] for j < n&^15.
TEXT ·rmsScaleAVX2(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $4, CX
	JZ scdone2
	VBROADCASTSD rs+32(FP), Y15

#define SCALE4(off) \
	VCVTPS2PD off(SI), Y0; \
	VMULPD Y15, Y0, Y0; \
	VCVTPD2PSY Y0, X0; \
	VMULPS off(DX), X0, X0; \
	VMOVUPS X0, off(DI)

scloop2:
	SCALE4(0)
	SCALE4(16)
	SCALE4(32)
	SCALE4(48)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	DECQ CX
	JNZ scloop2
	VZEROUPPER

scdone2:
	RET

// func rmsScaleAVX512(out, x, w *float32, n int, rs float64)
// As rmsScaleAVX2.
TEXT ·rmsScaleAVX512(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $4, CX
	JZ scdone512
	VBROADCASTSD rs+32(FP), Z15

#define SCALE8(off) \
	VCVTPS2PD off(SI), Z0; \
	VMULPD Z15, Z0, Z0; \
	VCVTPD2PS Z0, Y0; \
	VMULPS off(DX), Y0, Y0; \
	VMOVUPS Y0, off(DI)

scloop512:
	SCALE8(0)
	SCALE8(32)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	DECQ CX
	JNZ scloop512
	VZEROUPPER

scdone512:
	RET

// func rmsDweightAVX2(dweight, d, x *float32, n int, rs float32)
// dweight[j] += (x[j]·rs)·d[j] for j < n&^15, in float32.
TEXT ·rmsDweightAVX2(SB), NOSPLIT, $0-36
	MOVQ dweight+0(FP), DI
	MOVQ d+8(FP), SI
	MOVQ x+16(FP), BX
	MOVQ n+24(FP), CX
	SHRQ $4, CX
	JZ dwdone2
	VBROADCASTSS rs+32(FP), Y15

dwloop2:
	VMULPS (BX), Y15, Y0
	VMULPS 32(BX), Y15, Y1
	VMULPS (SI), Y0, Y0
	VMULPS 32(SI), Y1, Y1
	VADDPS (DI), Y0, Y0
	VADDPS 32(DI), Y1, Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ $64, SI
	ADDQ $64, BX
	ADDQ $64, DI
	DECQ CX
	JNZ dwloop2
	VZEROUPPER

dwdone2:
	RET

// func rmsDweightAVX512(dweight, d, x *float32, n int, rs float32)
// As rmsDweightAVX2.
TEXT ·rmsDweightAVX512(SB), NOSPLIT, $0-36
	MOVQ dweight+0(FP), DI
	MOVQ d+8(FP), SI
	MOVQ x+16(FP), BX
	MOVQ n+24(FP), CX
	SHRQ $4, CX
	JZ dwdone512
	VBROADCASTSS rs+32(FP), Z15

dwloop512:
	VMULPS (BX), Z15, Z0
	VMULPS (SI), Z0, Z0
	VADDPS (DI), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, BX
	ADDQ $64, DI
	DECQ CX
	JNZ dwloop512
	VZEROUPPER

dwdone512:
	RET

// func rmsDinpAVX2(dinp, d, w, x *float32, n int, rs float32, mean float64)
// dinp[j] += float32((float64(d[j]·w[j]) − float64(x[j]·rs)·mean)·float64(rs)) for
// j < n&^15, the float32 products rounded first.
TEXT ·rmsDinpAVX2(SB), NOSPLIT, $0-56
	MOVQ dinp+0(FP), R8
	MOVQ d+8(FP), SI
	MOVQ w+16(FP), DI
	MOVQ x+24(FP), BX
	MOVQ n+32(FP), CX
	SHRQ $4, CX
	JZ didone2
	VBROADCASTSS rs+40(FP), X15
	VCVTPS2PD X15, Y14
	VBROADCASTSD mean+48(FP), Y13

#define DINP4(off) \
	VMULPS off(BX), X15, X0; \
	VMOVUPS off(SI), X1; \
	VMULPS off(DI), X1, X1; \
	VCVTPS2PD X0, Y0; \
	VCVTPS2PD X1, Y1; \
	VMULPD Y13, Y0, Y0; \
	VSUBPD Y0, Y1, Y1; \
	VMULPD Y14, Y1, Y1; \
	VCVTPD2PSY Y1, X1; \
	VADDPS off(R8), X1, X1; \
	VMOVUPS X1, off(R8)

diloop2:
	DINP4(0)
	DINP4(16)
	DINP4(32)
	DINP4(48)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, BX
	ADDQ $64, R8
	DECQ CX
	JNZ diloop2
	VZEROUPPER

didone2:
	RET

// func rmsDinpAVX512(dinp, d, w, x *float32, n int, rs float32, mean float64)
// As rmsDinpAVX2.
TEXT ·rmsDinpAVX512(SB), NOSPLIT, $0-56
	MOVQ dinp+0(FP), R8
	MOVQ d+8(FP), SI
	MOVQ w+16(FP), DI
	MOVQ x+24(FP), BX
	MOVQ n+32(FP), CX
	SHRQ $4, CX
	JZ didone512
	VBROADCASTSS rs+40(FP), Y15
	VCVTPS2PD Y15, Z14
	VBROADCASTSD mean+48(FP), Z13

#define DINP8(off) \
	VMULPS off(BX), Y15, Y0; \
	VMOVUPS off(SI), Y1; \
	VMULPS off(DI), Y1, Y1; \
	VCVTPS2PD Y0, Z0; \
	VCVTPS2PD Y1, Z1; \
	VMULPD Z13, Z0, Z0; \
	VSUBPD Z0, Z1, Z1; \
	VMULPD Z14, Z1, Z1; \
	VCVTPD2PS Z1, Y1; \
	VADDPS off(R8), Y1, Y1; \
	VMOVUPS Y1, off(R8)

diloop512:
	DINP8(0)
	DINP8(32)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, BX
	ADDQ $64, R8
	DECQ CX
	JNZ diloop512
	VZEROUPPER

didone512:
	RET
