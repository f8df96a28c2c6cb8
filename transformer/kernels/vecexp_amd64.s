//go:build amd64 && !purego

#include "textflag.h"

// Cephes expf constants, each broadcast to 8 lanes (32 bytes).
DATA vexp<>+0(SB)/4, $0x3fb8aa3b
DATA vexp<>+4(SB)/4, $0x3fb8aa3b
DATA vexp<>+8(SB)/4, $0x3fb8aa3b
DATA vexp<>+12(SB)/4, $0x3fb8aa3b
DATA vexp<>+16(SB)/4, $0x3fb8aa3b
DATA vexp<>+20(SB)/4, $0x3fb8aa3b
DATA vexp<>+24(SB)/4, $0x3fb8aa3b
DATA vexp<>+28(SB)/4, $0x3fb8aa3b
DATA vexp<>+32(SB)/4, $0x3f318000
DATA vexp<>+36(SB)/4, $0x3f318000
DATA vexp<>+40(SB)/4, $0x3f318000
DATA vexp<>+44(SB)/4, $0x3f318000
DATA vexp<>+48(SB)/4, $0x3f318000
DATA vexp<>+52(SB)/4, $0x3f318000
DATA vexp<>+56(SB)/4, $0x3f318000
DATA vexp<>+60(SB)/4, $0x3f318000
DATA vexp<>+64(SB)/4, $0xb95e8083
DATA vexp<>+68(SB)/4, $0xb95e8083
DATA vexp<>+72(SB)/4, $0xb95e8083
DATA vexp<>+76(SB)/4, $0xb95e8083
DATA vexp<>+80(SB)/4, $0xb95e8083
DATA vexp<>+84(SB)/4, $0xb95e8083
DATA vexp<>+88(SB)/4, $0xb95e8083
DATA vexp<>+92(SB)/4, $0xb95e8083
DATA vexp<>+96(SB)/4, $0x39506967
DATA vexp<>+100(SB)/4, $0x39506967
DATA vexp<>+104(SB)/4, $0x39506967
DATA vexp<>+108(SB)/4, $0x39506967
DATA vexp<>+112(SB)/4, $0x39506967
DATA vexp<>+116(SB)/4, $0x39506967
DATA vexp<>+120(SB)/4, $0x39506967
DATA vexp<>+124(SB)/4, $0x39506967
DATA vexp<>+128(SB)/4, $0x3ab743ce
DATA vexp<>+132(SB)/4, $0x3ab743ce
DATA vexp<>+136(SB)/4, $0x3ab743ce
DATA vexp<>+140(SB)/4, $0x3ab743ce
DATA vexp<>+144(SB)/4, $0x3ab743ce
DATA vexp<>+148(SB)/4, $0x3ab743ce
DATA vexp<>+152(SB)/4, $0x3ab743ce
DATA vexp<>+156(SB)/4, $0x3ab743ce
DATA vexp<>+160(SB)/4, $0x3c088908
DATA vexp<>+164(SB)/4, $0x3c088908
DATA vexp<>+168(SB)/4, $0x3c088908
DATA vexp<>+172(SB)/4, $0x3c088908
DATA vexp<>+176(SB)/4, $0x3c088908
DATA vexp<>+180(SB)/4, $0x3c088908
DATA vexp<>+184(SB)/4, $0x3c088908
DATA vexp<>+188(SB)/4, $0x3c088908
DATA vexp<>+192(SB)/4, $0x3d2aa9c1
DATA vexp<>+196(SB)/4, $0x3d2aa9c1
DATA vexp<>+200(SB)/4, $0x3d2aa9c1
DATA vexp<>+204(SB)/4, $0x3d2aa9c1
DATA vexp<>+208(SB)/4, $0x3d2aa9c1
DATA vexp<>+212(SB)/4, $0x3d2aa9c1
DATA vexp<>+216(SB)/4, $0x3d2aa9c1
DATA vexp<>+220(SB)/4, $0x3d2aa9c1
DATA vexp<>+224(SB)/4, $0x3e2aaaaa
DATA vexp<>+228(SB)/4, $0x3e2aaaaa
DATA vexp<>+232(SB)/4, $0x3e2aaaaa
DATA vexp<>+236(SB)/4, $0x3e2aaaaa
DATA vexp<>+240(SB)/4, $0x3e2aaaaa
DATA vexp<>+244(SB)/4, $0x3e2aaaaa
DATA vexp<>+248(SB)/4, $0x3e2aaaaa
DATA vexp<>+252(SB)/4, $0x3e2aaaaa
DATA vexp<>+256(SB)/4, $0x3f000000
DATA vexp<>+260(SB)/4, $0x3f000000
DATA vexp<>+264(SB)/4, $0x3f000000
DATA vexp<>+268(SB)/4, $0x3f000000
DATA vexp<>+272(SB)/4, $0x3f000000
DATA vexp<>+276(SB)/4, $0x3f000000
DATA vexp<>+280(SB)/4, $0x3f000000
DATA vexp<>+284(SB)/4, $0x3f000000
DATA vexp<>+288(SB)/4, $0x3f800000
DATA vexp<>+292(SB)/4, $0x3f800000
DATA vexp<>+296(SB)/4, $0x3f800000
DATA vexp<>+300(SB)/4, $0x3f800000
DATA vexp<>+304(SB)/4, $0x3f800000
DATA vexp<>+308(SB)/4, $0x3f800000
DATA vexp<>+312(SB)/4, $0x3f800000
DATA vexp<>+316(SB)/4, $0x3f800000
DATA vexp<>+320(SB)/4, $0xc2aeac50
DATA vexp<>+324(SB)/4, $0xc2aeac50
DATA vexp<>+328(SB)/4, $0xc2aeac50
DATA vexp<>+332(SB)/4, $0xc2aeac50
DATA vexp<>+336(SB)/4, $0xc2aeac50
DATA vexp<>+340(SB)/4, $0xc2aeac50
DATA vexp<>+344(SB)/4, $0xc2aeac50
DATA vexp<>+348(SB)/4, $0xc2aeac50
DATA vexp<>+352(SB)/4, $0x0000007f
DATA vexp<>+356(SB)/4, $0x0000007f
DATA vexp<>+360(SB)/4, $0x0000007f
DATA vexp<>+364(SB)/4, $0x0000007f
DATA vexp<>+368(SB)/4, $0x0000007f
DATA vexp<>+372(SB)/4, $0x0000007f
DATA vexp<>+376(SB)/4, $0x0000007f
DATA vexp<>+380(SB)/4, $0x0000007f
GLOBL vexp<>(SB), RODATA|NOPTR, $384

// func expSubSumAVX2(x []float32, m float32) float32
// x[i] = e^(x[i]-m) for i < len(x)&^7 and returns the sum of those values; x[i] ≤ m is
// assumed (m is the row's maximum). Arguments below -87.33654 are raised to it: their
// e^x, ~1e-38, stands for 0 next to the largest term, 1. NaN stays NaN.
TEXT ·expSubSumAVX2(SB), NOSPLIT, $0-36
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	SHRQ $3, CX
	VBROADCASTSS m+24(FP), Y15
	VMOVUPS vexp<>+320(SB), Y5
	VXORPS Y4, Y4, Y4
	TESTQ CX, CX
	JZ expdone

exploop:
	VMOVUPS (SI), Y0
	VSUBPS Y15, Y0, Y0
	VMAXPS Y0, Y5, Y0
	VMULPS vexp<>+0(SB), Y0, Y1
	VROUNDPS $0, Y1, Y1
	VFNMADD231PS vexp<>+32(SB), Y1, Y0
	VFNMADD231PS vexp<>+64(SB), Y1, Y0
	VCVTPS2DQ Y1, Y3
	VPADDD vexp<>+352(SB), Y3, Y3
	VPSLLD $23, Y3, Y3
	VMOVUPS vexp<>+96(SB), Y2
	VFMADD213PS vexp<>+128(SB), Y0, Y2
	VFMADD213PS vexp<>+160(SB), Y0, Y2
	VFMADD213PS vexp<>+192(SB), Y0, Y2
	VFMADD213PS vexp<>+224(SB), Y0, Y2
	VFMADD213PS vexp<>+256(SB), Y0, Y2
	VMULPS Y0, Y0, Y1
	VFMADD213PS Y0, Y1, Y2
	VADDPS vexp<>+288(SB), Y2, Y2
	VMULPS Y3, Y2, Y2
	VMOVUPS Y2, (SI)
	VADDPS Y2, Y4, Y4
	ADDQ $32, SI
	DECQ CX
	JNZ exploop

expdone:
	VEXTRACTF128 $1, Y4, X0
	VADDPS X0, X4, X4
	VHADDPS X4, X4, X4
	VHADDPS X4, X4, X4
	VZEROUPPER
	MOVSS X4, ret+32(FP)
	RET

// EXPSUB512 sets Z2 to e^(Z0−m) in 16 lanes with expSubSumAVX2's operations (the same
// FMAs, roundings and clamp, so each lane gets its bits); Z15 holds m, Z5 the clamp.
#define EXPSUB512 \
	VSUBPS Z15, Z0, Z0; \
	VMAXPS Z0, Z5, Z0; \
	VMULPS.BCST vexp<>+0(SB), Z0, Z1; \
	VRNDSCALEPS $0, Z1, Z1; \
	VFNMADD231PS.BCST vexp<>+32(SB), Z1, Z0; \
	VFNMADD231PS.BCST vexp<>+64(SB), Z1, Z0; \
	VCVTPS2DQ Z1, Z3; \
	VPADDD.BCST vexp<>+352(SB), Z3, Z3; \
	VPSLLD $23, Z3, Z3; \
	VBROADCASTSS vexp<>+96(SB), Z2; \
	VFMADD213PS.BCST vexp<>+128(SB), Z0, Z2; \
	VFMADD213PS.BCST vexp<>+160(SB), Z0, Z2; \
	VFMADD213PS.BCST vexp<>+192(SB), Z0, Z2; \
	VFMADD213PS.BCST vexp<>+224(SB), Z0, Z2; \
	VFMADD213PS.BCST vexp<>+256(SB), Z0, Z2; \
	VMULPS Z0, Z0, Z1; \
	VFMADD213PS Z0, Z1, Z2; \
	VADDPS.BCST vexp<>+288(SB), Z2, Z2; \
	VMULPS Z3, Z2, Z2

// func expSubSumAVX512(x []float32, m float32) float32
// expSubSumAVX2 with 16 lanes a step: the same bits in x and the same sum, which it
// keeps in expSubSumAVX2's 8 float32 lanes, adding the two halves of each 16 in order.
TEXT ·expSubSumAVX512(SB), NOSPLIT, $0-36
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	SHRQ $3, CX
	VBROADCASTSS m+24(FP), Z15
	VBROADCASTSS vexp<>+320(SB), Z5
	VXORPS Y4, Y4, Y4
	MOVQ CX, DX
	SHRQ $1, CX
	JZ exp512tail

exp512loop:
	VMOVUPS (SI), Z0
	EXPSUB512
	VMOVUPS Z2, (SI)
	VADDPS Y2, Y4, Y4
	VEXTRACTF64X4 $1, Z2, Y6
	VADDPS Y6, Y4, Y4
	ADDQ $64, SI
	DECQ CX
	JNZ exp512loop

exp512tail:
	ANDQ $1, DX
	JZ exp512done
	VMOVUPS (SI), Y0
	EXPSUB512
	VMOVUPS Y2, (SI)
	VADDPS Y2, Y4, Y4

exp512done:
	VEXTRACTF128 $1, Y4, X0
	VADDPS X0, X4, X4
	VHADDPS X4, X4, X4
	VHADDPS X4, X4, X4
	VZEROUPPER
	MOVSS X4, ret+32(FP)
	RET

// func maxAVX2(x []float32) float32
// The largest of x[:len(x)&^7], which must not be empty.
TEXT ·maxAVX2(SB), NOSPLIT, $0-28
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	SHRQ $3, CX
	VMOVUPS (SI), Y0
	ADDQ $32, SI
	DECQ CX
	JZ maxdone

maxloop:
	VMAXPS (SI), Y0, Y0
	ADDQ $32, SI
	DECQ CX
	JNZ maxloop

maxdone:
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0x4e, X0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0xb1, X0, X1
	VMAXPS X1, X0, X0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func scaleAVX2(x []float32, s float32)
// x[i] *= s for i < len(x)&^7.
TEXT ·scaleAVX2(SB), NOSPLIT, $0-28
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	SHRQ $3, CX
	VBROADCASTSS s+24(FP), Y1
	TESTQ CX, CX
	JZ scaledone

scaleloop:
	VMULPS (SI), Y1, Y0
	VMOVUPS Y0, (SI)
	ADDQ $32, SI
	DECQ CX
	JNZ scaleloop

scaledone:
	VZEROUPPER
	RET

