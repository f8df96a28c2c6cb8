//go:build amd64 && !purego

#include "textflag.h"

// Vector versions of expf (exp.go) that give the same bits as expf, lane by lane: the
// same float32 operations in the same order, each rounded (multiplies and adds, no
// FMA), the scaling by 2^n rounded once, and expf's special cases (0 below −87.33654,
// +Inf above 88.72283, NaN for NaN). The SwiGLU and softmax kernels built on them are
// therefore bit for bit their pure-Go versions.

// expc<> holds the constants, each repeated in 8 lanes (32 bytes): the AVX2 code takes
// them as memory operands, the AVX-512 code broadcasts lane 0 into Z16…Z31.
// 0: log2e
DATA expc<>+0(SB)/4, $0x3fb8aa3b
DATA expc<>+4(SB)/4, $0x3fb8aa3b
DATA expc<>+8(SB)/4, $0x3fb8aa3b
DATA expc<>+12(SB)/4, $0x3fb8aa3b
DATA expc<>+16(SB)/4, $0x3fb8aa3b
DATA expc<>+20(SB)/4, $0x3fb8aa3b
DATA expc<>+24(SB)/4, $0x3fb8aa3b
DATA expc<>+28(SB)/4, $0x3fb8aa3b
// 32: magic
DATA expc<>+32(SB)/4, $0x4b400000
DATA expc<>+36(SB)/4, $0x4b400000
DATA expc<>+40(SB)/4, $0x4b400000
DATA expc<>+44(SB)/4, $0x4b400000
DATA expc<>+48(SB)/4, $0x4b400000
DATA expc<>+52(SB)/4, $0x4b400000
DATA expc<>+56(SB)/4, $0x4b400000
DATA expc<>+60(SB)/4, $0x4b400000
// 64: c1
DATA expc<>+64(SB)/4, $0x3f318000
DATA expc<>+68(SB)/4, $0x3f318000
DATA expc<>+72(SB)/4, $0x3f318000
DATA expc<>+76(SB)/4, $0x3f318000
DATA expc<>+80(SB)/4, $0x3f318000
DATA expc<>+84(SB)/4, $0x3f318000
DATA expc<>+88(SB)/4, $0x3f318000
DATA expc<>+92(SB)/4, $0x3f318000
// 96: c2
DATA expc<>+96(SB)/4, $0xb95e8083
DATA expc<>+100(SB)/4, $0xb95e8083
DATA expc<>+104(SB)/4, $0xb95e8083
DATA expc<>+108(SB)/4, $0xb95e8083
DATA expc<>+112(SB)/4, $0xb95e8083
DATA expc<>+116(SB)/4, $0xb95e8083
DATA expc<>+120(SB)/4, $0xb95e8083
DATA expc<>+124(SB)/4, $0xb95e8083
// 128: p0
DATA expc<>+128(SB)/4, $0x39506967
DATA expc<>+132(SB)/4, $0x39506967
DATA expc<>+136(SB)/4, $0x39506967
DATA expc<>+140(SB)/4, $0x39506967
DATA expc<>+144(SB)/4, $0x39506967
DATA expc<>+148(SB)/4, $0x39506967
DATA expc<>+152(SB)/4, $0x39506967
DATA expc<>+156(SB)/4, $0x39506967
// 160: p1
DATA expc<>+160(SB)/4, $0x3ab743ce
DATA expc<>+164(SB)/4, $0x3ab743ce
DATA expc<>+168(SB)/4, $0x3ab743ce
DATA expc<>+172(SB)/4, $0x3ab743ce
DATA expc<>+176(SB)/4, $0x3ab743ce
DATA expc<>+180(SB)/4, $0x3ab743ce
DATA expc<>+184(SB)/4, $0x3ab743ce
DATA expc<>+188(SB)/4, $0x3ab743ce
// 192: p2
DATA expc<>+192(SB)/4, $0x3c088908
DATA expc<>+196(SB)/4, $0x3c088908
DATA expc<>+200(SB)/4, $0x3c088908
DATA expc<>+204(SB)/4, $0x3c088908
DATA expc<>+208(SB)/4, $0x3c088908
DATA expc<>+212(SB)/4, $0x3c088908
DATA expc<>+216(SB)/4, $0x3c088908
DATA expc<>+220(SB)/4, $0x3c088908
// 224: p3
DATA expc<>+224(SB)/4, $0x3d2aa9c1
DATA expc<>+228(SB)/4, $0x3d2aa9c1
DATA expc<>+232(SB)/4, $0x3d2aa9c1
DATA expc<>+236(SB)/4, $0x3d2aa9c1
DATA expc<>+240(SB)/4, $0x3d2aa9c1
DATA expc<>+244(SB)/4, $0x3d2aa9c1
DATA expc<>+248(SB)/4, $0x3d2aa9c1
DATA expc<>+252(SB)/4, $0x3d2aa9c1
// 256: p4
DATA expc<>+256(SB)/4, $0x3e2aaaaa
DATA expc<>+260(SB)/4, $0x3e2aaaaa
DATA expc<>+264(SB)/4, $0x3e2aaaaa
DATA expc<>+268(SB)/4, $0x3e2aaaaa
DATA expc<>+272(SB)/4, $0x3e2aaaaa
DATA expc<>+276(SB)/4, $0x3e2aaaaa
DATA expc<>+280(SB)/4, $0x3e2aaaaa
DATA expc<>+284(SB)/4, $0x3e2aaaaa
// 288: p5
DATA expc<>+288(SB)/4, $0x3f000000
DATA expc<>+292(SB)/4, $0x3f000000
DATA expc<>+296(SB)/4, $0x3f000000
DATA expc<>+300(SB)/4, $0x3f000000
DATA expc<>+304(SB)/4, $0x3f000000
DATA expc<>+308(SB)/4, $0x3f000000
DATA expc<>+312(SB)/4, $0x3f000000
DATA expc<>+316(SB)/4, $0x3f000000
// 320: one
DATA expc<>+320(SB)/4, $0x3f800000
DATA expc<>+324(SB)/4, $0x3f800000
DATA expc<>+328(SB)/4, $0x3f800000
DATA expc<>+332(SB)/4, $0x3f800000
DATA expc<>+336(SB)/4, $0x3f800000
DATA expc<>+340(SB)/4, $0x3f800000
DATA expc<>+344(SB)/4, $0x3f800000
DATA expc<>+348(SB)/4, $0x3f800000
// 352: lo
DATA expc<>+352(SB)/4, $0xc2aeac4f
DATA expc<>+356(SB)/4, $0xc2aeac4f
DATA expc<>+360(SB)/4, $0xc2aeac4f
DATA expc<>+364(SB)/4, $0xc2aeac4f
DATA expc<>+368(SB)/4, $0xc2aeac4f
DATA expc<>+372(SB)/4, $0xc2aeac4f
DATA expc<>+376(SB)/4, $0xc2aeac4f
DATA expc<>+380(SB)/4, $0xc2aeac4f
// 384: hi
DATA expc<>+384(SB)/4, $0x42b17217
DATA expc<>+388(SB)/4, $0x42b17217
DATA expc<>+392(SB)/4, $0x42b17217
DATA expc<>+396(SB)/4, $0x42b17217
DATA expc<>+400(SB)/4, $0x42b17217
DATA expc<>+404(SB)/4, $0x42b17217
DATA expc<>+408(SB)/4, $0x42b17217
DATA expc<>+412(SB)/4, $0x42b17217
// 416: inf
DATA expc<>+416(SB)/4, $0x7f800000
DATA expc<>+420(SB)/4, $0x7f800000
DATA expc<>+424(SB)/4, $0x7f800000
DATA expc<>+428(SB)/4, $0x7f800000
DATA expc<>+432(SB)/4, $0x7f800000
DATA expc<>+436(SB)/4, $0x7f800000
DATA expc<>+440(SB)/4, $0x7f800000
DATA expc<>+444(SB)/4, $0x7f800000
// 448: sign
DATA expc<>+448(SB)/4, $0x80000000
DATA expc<>+452(SB)/4, $0x80000000
DATA expc<>+456(SB)/4, $0x80000000
DATA expc<>+460(SB)/4, $0x80000000
DATA expc<>+464(SB)/4, $0x80000000
DATA expc<>+468(SB)/4, $0x80000000
DATA expc<>+472(SB)/4, $0x80000000
DATA expc<>+476(SB)/4, $0x80000000
// 480: bias
DATA expc<>+480(SB)/4, $0x0000007f
DATA expc<>+484(SB)/4, $0x0000007f
DATA expc<>+488(SB)/4, $0x0000007f
DATA expc<>+492(SB)/4, $0x0000007f
DATA expc<>+496(SB)/4, $0x0000007f
DATA expc<>+500(SB)/4, $0x0000007f
DATA expc<>+504(SB)/4, $0x0000007f
DATA expc<>+508(SB)/4, $0x0000007f
GLOBL expc<>(SB), RODATA|NOPTR, $512

// EXPF256 sets Y to expf(X) in 8 lanes, X unchanged; FX, R, Z, M are clobbered.
//   fx = (log2e·x + magic) − magic            round(x·log2e), as expf rounds it
//   r  = (x − fx·c1) − fx·c2                  x − fx·ln 2 in two parts
//   y  = ((((p0·r + p1)·r + p2)·r + p3)·r + p4)·r + p5
//   y  = (y·r² + r) + 1
//   y  = (y·2^(n>>1))·2^(n − n>>1), n = int(fx): the first product is exact, the second
//        rounds once, as expf's y·2^n does (n ≤ 128, so each factor is a normal float)
// then +Inf where x > hi, 0 where x < lo, x where x is NaN.
#define EXPF256(X, Y, FX, R, Z, M) \
	VMULPS expc<>+0(SB), X, FX; \
	VADDPS expc<>+32(SB), FX, FX; \
	VSUBPS expc<>+32(SB), FX, FX; \
	VMULPS expc<>+64(SB), FX, R; \
	VSUBPS R, X, R; \
	VMULPS expc<>+96(SB), FX, Z; \
	VSUBPS Z, R, R; \
	VMULPS R, R, Z; \
	VMULPS expc<>+128(SB), R, Y; \
	VADDPS expc<>+160(SB), Y, Y; \
	VMULPS R, Y, Y; \
	VADDPS expc<>+192(SB), Y, Y; \
	VMULPS R, Y, Y; \
	VADDPS expc<>+224(SB), Y, Y; \
	VMULPS R, Y, Y; \
	VADDPS expc<>+256(SB), Y, Y; \
	VMULPS R, Y, Y; \
	VADDPS expc<>+288(SB), Y, Y; \
	VMULPS Z, Y, Y; \
	VADDPS R, Y, Y; \
	VADDPS expc<>+320(SB), Y, Y; \
	VCVTTPS2DQ FX, FX; \
	VPSRAD $1, FX, Z; \
	VPSUBD Z, FX, FX; \
	VPADDD expc<>+480(SB), Z, Z; \
	VPSLLD $23, Z, Z; \
	VMULPS Z, Y, Y; \
	VPADDD expc<>+480(SB), FX, FX; \
	VPSLLD $23, FX, FX; \
	VMULPS FX, Y, Y; \
	VCMPPS $0x1e, expc<>+384(SB), X, M; \
	VBLENDVPS M, expc<>+416(SB), Y, Y; \
	VCMPPS $0x11, expc<>+352(SB), X, M; \
	VANDNPS Y, M, Y; \
	VCMPPS $0x03, X, X, M; \
	VBLENDVPS M, X, Y, Y

// EXPCONST512 broadcasts the constants: Z16 log2e, Z17 magic, Z18 c1, Z19 c2, Z20…Z25
// p0…p5, Z26 1, Z27 lo, Z28 hi, Z29 +Inf, Z30 the sign bit.
#define EXPCONST512 \
	VBROADCASTSS expc<>+0(SB), Z16; \
	VBROADCASTSS expc<>+32(SB), Z17; \
	VBROADCASTSS expc<>+64(SB), Z18; \
	VBROADCASTSS expc<>+96(SB), Z19; \
	VBROADCASTSS expc<>+128(SB), Z20; \
	VBROADCASTSS expc<>+160(SB), Z21; \
	VBROADCASTSS expc<>+192(SB), Z22; \
	VBROADCASTSS expc<>+224(SB), Z23; \
	VBROADCASTSS expc<>+256(SB), Z24; \
	VBROADCASTSS expc<>+288(SB), Z25; \
	VBROADCASTSS expc<>+320(SB), Z26; \
	VBROADCASTSS expc<>+352(SB), Z27; \
	VBROADCASTSS expc<>+384(SB), Z28; \
	VBROADCASTSS expc<>+416(SB), Z29; \
	VBROADCASTSS expc<>+448(SB), Z30

// EXPF512 sets Y to expf(X) in 16 lanes, X unchanged, with the constants of EXPCONST512;
// FX, R, Z and K1…K3 are clobbered. As EXPF256, but VSCALEFPS does the scaling by 2^fx
// (one rounding, as expf's) and mask registers the special cases.
#define EXPF512(X, Y, FX, R, Z) \
	VMULPS Z16, X, FX; \
	VADDPS Z17, FX, FX; \
	VSUBPS Z17, FX, FX; \
	VMULPS Z18, FX, R; \
	VSUBPS R, X, R; \
	VMULPS Z19, FX, Z; \
	VSUBPS Z, R, R; \
	VMULPS R, R, Z; \
	VMULPS Z20, R, Y; \
	VADDPS Z21, Y, Y; \
	VMULPS R, Y, Y; \
	VADDPS Z22, Y, Y; \
	VMULPS R, Y, Y; \
	VADDPS Z23, Y, Y; \
	VMULPS R, Y, Y; \
	VADDPS Z24, Y, Y; \
	VMULPS R, Y, Y; \
	VADDPS Z25, Y, Y; \
	VMULPS Z, Y, Y; \
	VADDPS R, Y, Y; \
	VADDPS Z26, Y, Y; \
	VSCALEFPS FX, Y, Y; \
	VCMPPS $0x1e, Z28, X, K2; \
	VMOVAPS Z29, K2, Y; \
	VCMPPS $0x11, Z27, X, K1; \
	VPXORD Y, Y, K1, Y; \
	VCMPPS $0x03, X, X, K3; \
	VMOVAPS X, K3, Y

// func expSubAVX2(x []float32, m float32)
// x[i] = expf(x[i] − m) for i < len(x)&^7.
TEXT ·expSubAVX2(SB), NOSPLIT, $0-28
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	SHRQ $3, CX
	JZ esdone2
	VBROADCASTSS m+24(FP), Y15

esloop2:
	VMOVUPS (SI), Y0
	VSUBPS Y15, Y0, Y0
	EXPF256(Y0, Y1, Y2, Y3, Y4, Y5)
	VMOVUPS Y1, (SI)
	ADDQ $32, SI
	DECQ CX
	JNZ esloop2
	VZEROUPPER

esdone2:
	RET

// func expSubAVX512(x []float32, m float32)
// x[i] = expf(x[i] − m) for i < len(x)&^15.
TEXT ·expSubAVX512(SB), NOSPLIT, $0-28
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	SHRQ $4, CX
	JZ esdone512
	EXPCONST512
	VBROADCASTSS m+24(FP), Z15

esloop512:
	VMOVUPS (SI), Z0
	VSUBPS Z15, Z0, Z0
	EXPF512(Z0, Z1, Z2, Z3, Z4)
	VMOVUPS Z1, (SI)
	ADDQ $64, SI
	DECQ CX
	JNZ esloop512
	VZEROUPPER

esdone512:
	RET

// func swigluFwdAVX2(out, gate, up *float32, n int)
// out[i] = gate[i] / (1 + expf(−gate[i])) · up[i] for i < n&^7, as SwiGLUForward's Go
// loop computes it; out may be gate or up.
TEXT ·swigluFwdAVX2(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ gate+8(FP), SI
	MOVQ up+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JZ sfdone2
	XORQ AX, AX

sfloop2:
	VMOVUPS (SI)(AX*1), Y0
	VXORPS expc<>+448(SB), Y0, Y6
	EXPF256(Y6, Y1, Y2, Y3, Y4, Y5)
	VADDPS expc<>+320(SB), Y1, Y1
	VDIVPS Y1, Y0, Y1
	VMULPS (DX)(AX*1), Y1, Y1
	VMOVUPS Y1, (DI)(AX*1)
	ADDQ $32, AX
	DECQ CX
	JNZ sfloop2
	VZEROUPPER

sfdone2:
	RET

// func swigluFwdAVX512(out, gate, up *float32, n int)
// As swigluFwdAVX2 for i < n&^15.
TEXT ·swigluFwdAVX512(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ gate+8(FP), SI
	MOVQ up+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $4, CX
	JZ sfdone512
	EXPCONST512
	XORQ AX, AX

sfloop512:
	VMOVUPS (SI)(AX*1), Z0
	VPXORD Z30, Z0, Z6
	EXPF512(Z6, Z1, Z2, Z3, Z4)
	VADDPS Z26, Z1, Z1
	VDIVPS Z1, Z0, Z1
	VMULPS (DX)(AX*1), Z1, Z1
	VMOVUPS Z1, (DI)(AX*1)
	ADDQ $64, AX
	DECQ CX
	JNZ sfloop512
	VZEROUPPER

sfdone512:
	RET

// func swigluBwdAVX2(dgate, dup, dout, gate, up *float32, n int)
// For i < n&^7, as SwiGLUBackward's Go loop: with x = gate[i], s = 1/(1 + expf(−x)),
//   dgate[i] += dout[i]·up[i]·(s·(1 + x·(1 − s)))   unless dgate is nil
//   dup[i]   += dout[i]·(x·s)                       unless dup is nil
TEXT ·swigluBwdAVX2(SB), NOSPLIT, $0-48
	MOVQ dgate+0(FP), R8
	MOVQ dup+8(FP), R9
	MOVQ dout+16(FP), DX
	MOVQ gate+24(FP), SI
	MOVQ up+32(FP), DI
	MOVQ n+40(FP), CX
	SHRQ $3, CX
	JZ sbdone2
	XORQ AX, AX
	VMOVUPS expc<>+320(SB), Y15

sbloop2:
	VMOVUPS (SI)(AX*1), Y0
	VXORPS expc<>+448(SB), Y0, Y6
	EXPF256(Y6, Y1, Y2, Y3, Y4, Y5)
	VADDPS Y15, Y1, Y1
	VDIVPS Y1, Y15, Y1
	VMOVUPS (DX)(AX*1), Y6
	TESTQ R8, R8
	JZ sbnodg2
	VMULPS (DI)(AX*1), Y6, Y7
	VSUBPS Y1, Y15, Y8
	VMULPS Y8, Y0, Y8
	VADDPS Y15, Y8, Y8
	VMULPS Y8, Y1, Y8
	VMULPS Y8, Y7, Y7
	VADDPS (R8)(AX*1), Y7, Y7
	VMOVUPS Y7, (R8)(AX*1)

sbnodg2:
	TESTQ R9, R9
	JZ sbnodu2
	VMULPS Y1, Y0, Y8
	VMULPS Y8, Y6, Y8
	VADDPS (R9)(AX*1), Y8, Y8
	VMOVUPS Y8, (R9)(AX*1)

sbnodu2:
	ADDQ $32, AX
	DECQ CX
	JNZ sbloop2
	VZEROUPPER

sbdone2:
	RET

// func swigluBwdAVX512(dgate, dup, dout, gate, up *float32, n int)
// As swigluBwdAVX2 for i < n&^15.
TEXT ·swigluBwdAVX512(SB), NOSPLIT, $0-48
	MOVQ dgate+0(FP), R8
	MOVQ dup+8(FP), R9
	MOVQ dout+16(FP), DX
	MOVQ gate+24(FP), SI
	MOVQ up+32(FP), DI
	MOVQ n+40(FP), CX
	SHRQ $4, CX
	JZ sbdone512
	EXPCONST512
	XORQ AX, AX

sbloop512:
	VMOVUPS (SI)(AX*1), Z0
	VPXORD Z30, Z0, Z6
	EXPF512(Z6, Z1, Z2, Z3, Z4)
	VADDPS Z26, Z1, Z1
	VDIVPS Z1, Z26, Z1
	VMOVUPS (DX)(AX*1), Z6
	TESTQ R8, R8
	JZ sbnodg512
	VMULPS (DI)(AX*1), Z6, Z7
	VSUBPS Z1, Z26, Z8
	VMULPS Z8, Z0, Z8
	VADDPS Z26, Z8, Z8
	VMULPS Z8, Z1, Z8
	VMULPS Z8, Z7, Z7
	VADDPS (R8)(AX*1), Z7, Z7
	VMOVUPS Z7, (R8)(AX*1)

sbnodg512:
	TESTQ R9, R9
	JZ sbnodu512
	VMULPS Z1, Z0, Z8
	VMULPS Z8, Z6, Z8
	VADDPS (R9)(AX*1), Z8, Z8
	VMOVUPS Z8, (R9)(AX*1)

sbnodu512:
	ADDQ $64, AX
	DECQ CX
	JNZ sbloop512
	VZEROUPPER

sbdone512:
	RET

// gelc<> holds GELU's constants (gelu.go), each repeated in 8 lanes as expc<>'s are.
// 0: s
DATA gelc<>+0(SB)/4, $0x3f4c422a
DATA gelc<>+4(SB)/4, $0x3f4c422a
DATA gelc<>+8(SB)/4, $0x3f4c422a
DATA gelc<>+12(SB)/4, $0x3f4c422a
DATA gelc<>+16(SB)/4, $0x3f4c422a
DATA gelc<>+20(SB)/4, $0x3f4c422a
DATA gelc<>+24(SB)/4, $0x3f4c422a
DATA gelc<>+28(SB)/4, $0x3f4c422a
// 32: c
DATA gelc<>+32(SB)/4, $0x3d372713
DATA gelc<>+36(SB)/4, $0x3d372713
DATA gelc<>+40(SB)/4, $0x3d372713
DATA gelc<>+44(SB)/4, $0x3d372713
DATA gelc<>+48(SB)/4, $0x3d372713
DATA gelc<>+52(SB)/4, $0x3d372713
DATA gelc<>+56(SB)/4, $0x3d372713
DATA gelc<>+60(SB)/4, $0x3d372713
// 64: 3c
DATA gelc<>+64(SB)/4, $0x3e095d4e
DATA gelc<>+68(SB)/4, $0x3e095d4e
DATA gelc<>+72(SB)/4, $0x3e095d4e
DATA gelc<>+76(SB)/4, $0x3e095d4e
DATA gelc<>+80(SB)/4, $0x3e095d4e
DATA gelc<>+84(SB)/4, $0x3e095d4e
DATA gelc<>+88(SB)/4, $0x3e095d4e
DATA gelc<>+92(SB)/4, $0x3e095d4e
// 96: half
DATA gelc<>+96(SB)/4, $0x3f000000
DATA gelc<>+100(SB)/4, $0x3f000000
DATA gelc<>+104(SB)/4, $0x3f000000
DATA gelc<>+108(SB)/4, $0x3f000000
DATA gelc<>+112(SB)/4, $0x3f000000
DATA gelc<>+116(SB)/4, $0x3f000000
DATA gelc<>+120(SB)/4, $0x3f000000
DATA gelc<>+124(SB)/4, $0x3f000000
// 128: two
DATA gelc<>+128(SB)/4, $0x40000000
DATA gelc<>+132(SB)/4, $0x40000000
DATA gelc<>+136(SB)/4, $0x40000000
DATA gelc<>+140(SB)/4, $0x40000000
DATA gelc<>+144(SB)/4, $0x40000000
DATA gelc<>+148(SB)/4, $0x40000000
DATA gelc<>+152(SB)/4, $0x40000000
DATA gelc<>+156(SB)/4, $0x40000000
// 160: nine
DATA gelc<>+160(SB)/4, $0x41100000
DATA gelc<>+164(SB)/4, $0x41100000
DATA gelc<>+168(SB)/4, $0x41100000
DATA gelc<>+172(SB)/4, $0x41100000
DATA gelc<>+176(SB)/4, $0x41100000
DATA gelc<>+180(SB)/4, $0x41100000
DATA gelc<>+184(SB)/4, $0x41100000
DATA gelc<>+188(SB)/4, $0x41100000
// 192: minus nine
DATA gelc<>+192(SB)/4, $0xc1100000
DATA gelc<>+196(SB)/4, $0xc1100000
DATA gelc<>+200(SB)/4, $0xc1100000
DATA gelc<>+204(SB)/4, $0xc1100000
DATA gelc<>+208(SB)/4, $0xc1100000
DATA gelc<>+212(SB)/4, $0xc1100000
DATA gelc<>+216(SB)/4, $0xc1100000
DATA gelc<>+220(SB)/4, $0xc1100000
// 224: eighth
DATA gelc<>+224(SB)/4, $0x3e000000
DATA gelc<>+228(SB)/4, $0x3e000000
DATA gelc<>+232(SB)/4, $0x3e000000
DATA gelc<>+236(SB)/4, $0x3e000000
DATA gelc<>+240(SB)/4, $0x3e000000
DATA gelc<>+244(SB)/4, $0x3e000000
DATA gelc<>+248(SB)/4, $0x3e000000
DATA gelc<>+252(SB)/4, $0x3e000000
// 256: float32(-1.0/3)
DATA gelc<>+256(SB)/4, $0xbeaaaaab
DATA gelc<>+260(SB)/4, $0xbeaaaaab
DATA gelc<>+264(SB)/4, $0xbeaaaaab
DATA gelc<>+268(SB)/4, $0xbeaaaaab
DATA gelc<>+272(SB)/4, $0xbeaaaaab
DATA gelc<>+276(SB)/4, $0xbeaaaaab
DATA gelc<>+280(SB)/4, $0xbeaaaaab
DATA gelc<>+284(SB)/4, $0xbeaaaaab
// 288: float32(2.0/15)
DATA gelc<>+288(SB)/4, $0x3e088889
DATA gelc<>+292(SB)/4, $0x3e088889
DATA gelc<>+296(SB)/4, $0x3e088889
DATA gelc<>+300(SB)/4, $0x3e088889
DATA gelc<>+304(SB)/4, $0x3e088889
DATA gelc<>+308(SB)/4, $0x3e088889
DATA gelc<>+312(SB)/4, $0x3e088889
DATA gelc<>+316(SB)/4, $0x3e088889
// 320: seventeen
DATA gelc<>+320(SB)/4, $0x41880000
DATA gelc<>+324(SB)/4, $0x41880000
DATA gelc<>+328(SB)/4, $0x41880000
DATA gelc<>+332(SB)/4, $0x41880000
DATA gelc<>+336(SB)/4, $0x41880000
DATA gelc<>+340(SB)/4, $0x41880000
DATA gelc<>+344(SB)/4, $0x41880000
DATA gelc<>+348(SB)/4, $0x41880000
// 352: 315
DATA gelc<>+352(SB)/4, $0x439d8000
DATA gelc<>+356(SB)/4, $0x439d8000
DATA gelc<>+360(SB)/4, $0x439d8000
DATA gelc<>+364(SB)/4, $0x439d8000
DATA gelc<>+368(SB)/4, $0x439d8000
DATA gelc<>+372(SB)/4, $0x439d8000
DATA gelc<>+376(SB)/4, $0x439d8000
DATA gelc<>+380(SB)/4, $0x439d8000
// 384: minus one
DATA gelc<>+384(SB)/4, $0xbf800000
DATA gelc<>+388(SB)/4, $0xbf800000
DATA gelc<>+392(SB)/4, $0xbf800000
DATA gelc<>+396(SB)/4, $0xbf800000
DATA gelc<>+400(SB)/4, $0xbf800000
DATA gelc<>+404(SB)/4, $0xbf800000
DATA gelc<>+408(SB)/4, $0xbf800000
DATA gelc<>+412(SB)/4, $0xbf800000
GLOBL gelc<>(SB), RODATA|NOPTR, $416

// TANH256 sets T to tanhf(U) in 8 lanes (exp.go's tanhf, operation for operation), U
// unchanged; A…D and M are clobbered; Y13 holds 1, Y14 2, Y15 the sign bit:
//   T = 1 − 2/(expf(2u) + 1)
//   T = u·(1 + u²·(−1/3 + u²·(2/15 − (u²·17)/315)))   where |u| < 0.125
//   T = 1 where u > 9, −1 where u < −9
#define TANH256(U, T, A, B, C, D, M) \
	VADDPS U, U, A; \
	EXPF256(A, T, B, C, D, M); \
	VADDPS Y13, T, T; \
	VDIVPS T, Y14, T; \
	VSUBPS T, Y13, T; \
	VMULPS U, U, A; \
	VMULPS gelc<>+320(SB), A, B; \
	VDIVPS gelc<>+352(SB), B, B; \
	VMOVUPS gelc<>+288(SB), C; \
	VSUBPS B, C, C; \
	VMULPS A, C, C; \
	VADDPS gelc<>+256(SB), C, C; \
	VMULPS A, C, C; \
	VADDPS Y13, C, C; \
	VMULPS U, C, C; \
	VANDNPS U, Y15, A; \
	VCMPPS $0x11, gelc<>+224(SB), A, M; \
	VBLENDVPS M, C, T, T; \
	VCMPPS $0x1e, gelc<>+160(SB), U, M; \
	VBLENDVPS M, Y13, T, T; \
	VCMPPS $0x11, gelc<>+192(SB), U, M; \
	VBLENDVPS M, gelc<>+384(SB), T, T

// GELUARG256 sets U to √(2/π)·(x + c·x·x·x) of X, as GeluForward rounds it.
#define GELUARG256(X, U) \
	VMULPS gelc<>+32(SB), X, U; \
	VMULPS X, U, U; \
	VMULPS X, U, U; \
	VADDPS X, U, U; \
	VMULPS gelc<>+0(SB), U, U

// GELUCONST256 loads Y13 = 1, Y14 = 2, Y15 = the sign bit.
#define GELUCONST256 \
	VMOVUPS expc<>+320(SB), Y13; \
	VMOVUPS gelc<>+128(SB), Y14; \
	VMOVUPS expc<>+448(SB), Y15

// func geluFwdAVX2(out, inp *float32, n int)
// out[i] = ½·x·(1 + tanhf(√(2/π)·(x + c·x³))), x = inp[i], for i < n&^7, as GeluForward's
// Go loop computes it; out may be inp.
TEXT ·geluFwdAVX2(SB), NOSPLIT, $0-24
	MOVQ out+0(FP), DI
	MOVQ inp+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ gfdone2
	GELUCONST256
	XORQ AX, AX

gfloop2:
	VMOVUPS (SI)(AX*1), Y0
	GELUARG256(Y0, Y1)
	TANH256(Y1, Y2, Y3, Y4, Y5, Y6, Y7)
	VADDPS Y13, Y2, Y2
	VMULPS gelc<>+96(SB), Y0, Y3
	VMULPS Y2, Y3, Y3
	VMOVUPS Y3, (DI)(AX*1)
	ADDQ $32, AX
	DECQ CX
	JNZ gfloop2
	VZEROUPPER

gfdone2:
	RET

// func geluBwdAVX2(dinp, inp, dout *float32, n int)
// For i < n&^7, as GeluBackward's Go loop: with x = inp[i], th = tanhf(√(2/π)·(x + c·x³)),
// du = √(2/π)·(1 + 3c·x·x),
//   dinp[i] += (½·(1 + th) + ½·x·(1 − th·th)·du)·dout[i]
TEXT ·geluBwdAVX2(SB), NOSPLIT, $0-32
	MOVQ dinp+0(FP), DI
	MOVQ inp+8(FP), SI
	MOVQ dout+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JZ gbdone2
	GELUCONST256
	XORQ AX, AX

gbloop2:
	VMOVUPS (SI)(AX*1), Y0
	GELUARG256(Y0, Y1)
	TANH256(Y1, Y2, Y3, Y4, Y5, Y6, Y7)
	VMULPS gelc<>+64(SB), Y0, Y3
	VMULPS Y0, Y3, Y3
	VADDPS Y13, Y3, Y3
	VMULPS gelc<>+0(SB), Y3, Y3
	VADDPS Y13, Y2, Y4
	VMULPS gelc<>+96(SB), Y4, Y4
	VMULPS Y2, Y2, Y5
	VSUBPS Y5, Y13, Y5
	VMULPS gelc<>+96(SB), Y0, Y6
	VMULPS Y5, Y6, Y6
	VMULPS Y3, Y6, Y6
	VADDPS Y6, Y4, Y4
	VMULPS (DX)(AX*1), Y4, Y4
	VADDPS (DI)(AX*1), Y4, Y4
	VMOVUPS Y4, (DI)(AX*1)
	ADDQ $32, AX
	DECQ CX
	JNZ gbloop2
	VZEROUPPER

gbdone2:
	RET

// TANH512 is TANH256 in 16 lanes, with the constants of EXPCONST512 (Z26 1, Z30 the sign
// bit) and Z31 = 2; A…D and K1…K3 are clobbered.
#define TANH512(U, T, A, B, C, D) \
	VADDPS U, U, A; \
	EXPF512(A, T, B, C, D); \
	VADDPS Z26, T, T; \
	VDIVPS T, Z31, T; \
	VSUBPS T, Z26, T; \
	VMULPS U, U, A; \
	VMULPS.BCST gelc<>+320(SB), A, B; \
	VDIVPS.BCST gelc<>+352(SB), B, B; \
	VBROADCASTSS gelc<>+288(SB), C; \
	VSUBPS B, C, C; \
	VMULPS A, C, C; \
	VADDPS.BCST gelc<>+256(SB), C, C; \
	VMULPS A, C, C; \
	VADDPS Z26, C, C; \
	VMULPS U, C, C; \
	VPANDND U, Z30, A; \
	VCMPPS.BCST $0x11, gelc<>+224(SB), A, K1; \
	VMOVAPS C, K1, T; \
	VCMPPS.BCST $0x1e, gelc<>+160(SB), U, K2; \
	VMOVAPS Z26, K2, T; \
	VCMPPS.BCST $0x11, gelc<>+192(SB), U, K3; \
	VBROADCASTSS gelc<>+384(SB), K3, T

// GELUARG512 is GELUARG256 in 16 lanes.
#define GELUARG512(X, U) \
	VMULPS.BCST gelc<>+32(SB), X, U; \
	VMULPS X, U, U; \
	VMULPS X, U, U; \
	VADDPS X, U, U; \
	VMULPS.BCST gelc<>+0(SB), U, U

// func geluFwdAVX512(out, inp *float32, n int)
// As geluFwdAVX2 for i < n&^15.
TEXT ·geluFwdAVX512(SB), NOSPLIT, $0-24
	MOVQ out+0(FP), DI
	MOVQ inp+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ gfdone512
	EXPCONST512
	VBROADCASTSS gelc<>+128(SB), Z31
	XORQ AX, AX

gfloop512:
	VMOVUPS (SI)(AX*1), Z0
	GELUARG512(Z0, Z1)
	TANH512(Z1, Z2, Z3, Z4, Z5, Z6)
	VADDPS Z26, Z2, Z2
	VMULPS.BCST gelc<>+96(SB), Z0, Z3
	VMULPS Z2, Z3, Z3
	VMOVUPS Z3, (DI)(AX*1)
	ADDQ $64, AX
	DECQ CX
	JNZ gfloop512
	VZEROUPPER

gfdone512:
	RET

// func geluBwdAVX512(dinp, inp, dout *float32, n int)
// As geluBwdAVX2 for i < n&^15.
TEXT ·geluBwdAVX512(SB), NOSPLIT, $0-32
	MOVQ dinp+0(FP), DI
	MOVQ inp+8(FP), SI
	MOVQ dout+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $4, CX
	JZ gbdone512
	EXPCONST512
	VBROADCASTSS gelc<>+128(SB), Z31
	XORQ AX, AX

gbloop512:
	VMOVUPS (SI)(AX*1), Z0
	GELUARG512(Z0, Z1)
	TANH512(Z1, Z2, Z3, Z4, Z5, Z6)
	VMULPS.BCST gelc<>+64(SB), Z0, Z3
	VMULPS Z0, Z3, Z3
	VADDPS Z26, Z3, Z3
	VMULPS.BCST gelc<>+0(SB), Z3, Z3
	VADDPS Z26, Z2, Z4
	VMULPS.BCST gelc<>+96(SB), Z4, Z4
	VMULPS Z2, Z2, Z5
	VSUBPS Z5, Z26, Z5
	VMULPS.BCST gelc<>+96(SB), Z0, Z6
	VMULPS Z5, Z6, Z6
	VMULPS Z3, Z6, Z6
	VADDPS Z6, Z4, Z4
	VMULPS (DX)(AX*1), Z4, Z4
	VADDPS (DI)(AX*1), Z4, Z4
	VMOVUPS Z4, (DI)(AX*1)
	ADDQ $64, AX
	DECQ CX
	JNZ gbloop512
	VZEROUPPER

gbdone512:
	RET
