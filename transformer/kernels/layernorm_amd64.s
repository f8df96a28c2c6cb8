//go:build amd64 && !purego

#include "textflag.h"

// The element-wise passes of LayerNorm (layernorm.go), with the float64 and float32
// operations of its Go loops, lane by lane, so that every path gives the same bits: no
// fused multiply-add, float32 ↔ float64 conversions rounding as Go's do.

// func lnOutAVX2(o, x, w, b *float32, n int, m, rs float64)
// o[j] = float32(float32((float64(x[j]) − m)·rs)·w[j]) + b[j] for j < n&^7.
TEXT ·lnOutAVX2(SB), NOSPLIT, $0-56
	MOVQ o+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), DX
	MOVQ b+24(FP), R8
	MOVQ n+32(FP), CX
	SHRQ $3, CX
	JZ   lodone2
	VBROADCASTSD m+40(FP), Y14
	VBROADCASTSD rs+48(FP), Y15
	XORQ AX, AX

loloop2:
	VMOVUPS      (SI)(AX*1), Y0
	VCVTPS2PD    X0, Y1
	VEXTRACTF128 $1, Y0, X2
	VCVTPS2PD    X2, Y2
	VSUBPD       Y14, Y1, Y1
	VSUBPD       Y14, Y2, Y2
	VMULPD       Y15, Y1, Y1
	VMULPD       Y15, Y2, Y2
	VCVTPD2PSY   Y1, X1
	VCVTPD2PSY   Y2, X2
	VINSERTF128  $1, X2, Y1, Y1
	VMULPS       (DX)(AX*1), Y1, Y1
	VADDPS       (R8)(AX*1), Y1, Y1
	VMOVUPS      Y1, (DI)(AX*1)
	ADDQ         $32, AX
	DECQ         CX
	JNZ          loloop2
	VZEROUPPER

lodone2:
	RET

// func lnOutAVX512(o, x, w, b *float32, n int, m, rs float64)
// As lnOutAVX2 for j < n&^15.
TEXT ·lnOutAVX512(SB), NOSPLIT, $0-56
	MOVQ o+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), DX
	MOVQ b+24(FP), R8
	MOVQ n+32(FP), CX
	SHRQ $4, CX
	JZ   lodone512
	VBROADCASTSD m+40(FP), Z14
	VBROADCASTSD rs+48(FP), Z15
	XORQ AX, AX

loloop512:
	VMOVUPS       (SI)(AX*1), Z0
	VCVTPS2PD     Y0, Z1
	VEXTRACTF64X4 $1, Z0, Y2
	VCVTPS2PD     Y2, Z2
	VSUBPD        Z14, Z1, Z1
	VSUBPD        Z14, Z2, Z2
	VMULPD        Z15, Z1, Z1
	VMULPD        Z15, Z2, Z2
	VCVTPD2PS     Z1, Y1
	VCVTPD2PS     Z2, Y2
	VINSERTF64X4  $1, Y2, Z1, Z1
	VMULPS        (DX)(AX*1), Z1, Z1
	VADDPS        (R8)(AX*1), Z1, Z1
	VMOVUPS       Z1, (DI)(AX*1)
	ADDQ          $64, AX
	DECQ          CX
	JNZ           loloop512
	VZEROUPPER

lodone512:
	RET

// func lnBwdAVX2(dinp, dweight, dbias, dout, x, w *float32, n int, m, rs float32, dm, dnm float64)
// For j < n&^7, with norm = (x[j] − m)·rs and dn = dout[j]·w[j] in float32:
//   dbias[j] += dout[j]; dweight[j] += norm·dout[j];
//   dinp[j] += float32((float64(dn) − dm − float64(norm)·dnm)·float64(rs))
// each skipped where its pointer is nil.
TEXT ·lnBwdAVX2(SB), NOSPLIT, $0-80
	MOVQ dinp+0(FP), R9
	MOVQ dweight+8(FP), R10
	MOVQ dbias+16(FP), R11
	MOVQ dout+24(FP), DX
	MOVQ x+32(FP), SI
	MOVQ w+40(FP), DI
	MOVQ n+48(FP), CX
	SHRQ $3, CX
	JZ   lbdone2
	VBROADCASTSS m+56(FP), Y10
	VBROADCASTSS rs+60(FP), Y11
	VBROADCASTSD dm+64(FP), Y12
	VBROADCASTSD dnm+72(FP), Y13
	VCVTPS2PD    X11, Y14
	XORQ         AX, AX

lbloop2:
	VMOVUPS (SI)(AX*1), Y0
	VSUBPS  Y10, Y0, Y0
	VMULPS  Y11, Y0, Y0
	VMOVUPS (DX)(AX*1), Y1
	TESTQ   R11, R11
	JZ      lbnodb2
	VADDPS  (R11)(AX*1), Y1, Y2
	VMOVUPS Y2, (R11)(AX*1)

lbnodb2:
	TESTQ   R10, R10
	JZ      lbnodw2
	VMULPS  Y1, Y0, Y2
	VADDPS  (R10)(AX*1), Y2, Y2
	VMOVUPS Y2, (R10)(AX*1)

lbnodw2:
	TESTQ        R9, R9
	JZ           lbnodi2
	VMULPS       (DI)(AX*1), Y1, Y2
	VCVTPS2PD    X2, Y3
	VEXTRACTF128 $1, Y2, X4
	VCVTPS2PD    X4, Y4
	VCVTPS2PD    X0, Y5
	VEXTRACTF128 $1, Y0, X6
	VCVTPS2PD    X6, Y6
	VMULPD       Y13, Y5, Y5
	VMULPD       Y13, Y6, Y6
	VSUBPD       Y12, Y3, Y3
	VSUBPD       Y12, Y4, Y4
	VSUBPD       Y5, Y3, Y3
	VSUBPD       Y6, Y4, Y4
	VMULPD       Y14, Y3, Y3
	VMULPD       Y14, Y4, Y4
	VCVTPD2PSY   Y3, X3
	VCVTPD2PSY   Y4, X4
	VINSERTF128  $1, X4, Y3, Y3
	VADDPS       (R9)(AX*1), Y3, Y3
	VMOVUPS      Y3, (R9)(AX*1)

lbnodi2:
	ADDQ $32, AX
	DECQ CX
	JNZ  lbloop2
	VZEROUPPER

lbdone2:
	RET

// func lnBwdAVX512(dinp, dweight, dbias, dout, x, w *float32, n int, m, rs float32, dm, dnm float64)
// As lnBwdAVX2 for j < n&^15.
TEXT ·lnBwdAVX512(SB), NOSPLIT, $0-80
	MOVQ dinp+0(FP), R9
	MOVQ dweight+8(FP), R10
	MOVQ dbias+16(FP), R11
	MOVQ dout+24(FP), DX
	MOVQ x+32(FP), SI
	MOVQ w+40(FP), DI
	MOVQ n+48(FP), CX
	SHRQ $4, CX
	JZ   lbdone512
	VBROADCASTSS m+56(FP), Z10
	VBROADCASTSS rs+60(FP), Z11
	VBROADCASTSD dm+64(FP), Z12
	VBROADCASTSD dnm+72(FP), Z13
	VCVTPS2PD    Y11, Z14
	XORQ         AX, AX

lbloop512:
	VMOVUPS (SI)(AX*1), Z0
	VSUBPS  Z10, Z0, Z0
	VMULPS  Z11, Z0, Z0
	VMOVUPS (DX)(AX*1), Z1
	TESTQ   R11, R11
	JZ      lbnodb512
	VADDPS  (R11)(AX*1), Z1, Z2
	VMOVUPS Z2, (R11)(AX*1)

lbnodb512:
	TESTQ   R10, R10
	JZ      lbnodw512
	VMULPS  Z1, Z0, Z2
	VADDPS  (R10)(AX*1), Z2, Z2
	VMOVUPS Z2, (R10)(AX*1)

lbnodw512:
	TESTQ         R9, R9
	JZ            lbnodi512
	VMULPS        (DI)(AX*1), Z1, Z2
	VCVTPS2PD     Y2, Z3
	VEXTRACTF64X4 $1, Z2, Y4
	VCVTPS2PD     Y4, Z4
	VCVTPS2PD     Y0, Z5
	VEXTRACTF64X4 $1, Z0, Y6
	VCVTPS2PD     Y6, Z6
	VMULPD        Z13, Z5, Z5
	VMULPD        Z13, Z6, Z6
	VSUBPD        Z12, Z3, Z3
	VSUBPD        Z12, Z4, Z4
	VSUBPD        Z5, Z3, Z3
	VSUBPD        Z6, Z4, Z4
	VMULPD        Z14, Z3, Z3
	VMULPD        Z14, Z4, Z4
	VCVTPD2PS     Z3, Y3
	VCVTPD2PS     Z4, Y4
	VINSERTF64X4  $1, Y4, Z3, Z3
	VADDPS        (R9)(AX*1), Z3, Z3
	VMOVUPS       Z3, (R9)(AX*1)

lbnodi512:
	ADDQ $64, AX
	DECQ CX
	JNZ  lbloop512
	VZEROUPPER

lbdone512:
	RET
