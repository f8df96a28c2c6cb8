//go:build amd64 && !purego

#include "textflag.h"

// func vecMatAVX(y *float32, n int, x *float32, k int, w *float32, ldw int)
//
// y[0:n] += Σ_{i<k} x[i]·w[i·ldw : i·ldw+n], for n a multiple of 8 (≥ 8) and k ≥ 1. The k rows
// of w are cut into four quarters (q = k/4 rows each; the last k%4 come after) that are walked
// in step, one row of each at a time: four long sequential streams, which keep more memory
// requests in flight than one. Per 8 columns of four rows: one load and one store of y and four
// FMAs, in a fixed order.
TEXT ·vecMatAVX(SB), NOSPLIT, $0-48
	MOVQ y+0(FP), DI
	MOVQ n+8(FP), BX
	MOVQ x+16(FP), SI
	MOVQ k+24(FP), DX
	MOVQ w+32(FP), R8
	MOVQ ldw+40(FP), R9
	SHLQ $2, BX                // n in bytes
	SHLQ $2, R9                // ldw in bytes
	MOVQ BX, R13
	ANDQ $-64, R13             // bytes handled 16 floats at a time

	MOVQ DX, CX
	SHRQ $2, CX                // q, counted down
	JZ   rows1
	ANDQ $3, DX                // rows left after the quarters
	MOVQ CX, AX
	IMULQ R9, AX               // a quarter of w, in bytes
	LEAQ (R8)(AX*1), R10
	LEAQ (R10)(AX*1), R11
	LEAQ (R11)(AX*1), R12
	LEAQ (CX*4), R14           // x of quarter 1 at SI+R14, of quarter 2 at SI+2·R14

rows4:
	VBROADCASTSS (SI), Y0
	VBROADCASTSS (SI)(R14*1), Y1
	VBROADCASTSS (SI)(R14*2), Y2
	LEAQ (SI)(R14*2), AX
	VBROADCASTSS (AX)(R14*1), Y3
	XORQ AX, AX

cols16:
	CMPQ AX, R13
	JGE  cols8
	VMOVUPS (DI)(AX*1), Y4
	VMOVUPS 32(DI)(AX*1), Y5
	VFMADD231PS (R8)(AX*1), Y0, Y4
	VFMADD231PS 32(R8)(AX*1), Y0, Y5
	VFMADD231PS (R10)(AX*1), Y1, Y4
	VFMADD231PS 32(R10)(AX*1), Y1, Y5
	VFMADD231PS (R11)(AX*1), Y2, Y4
	VFMADD231PS 32(R11)(AX*1), Y2, Y5
	VFMADD231PS (R12)(AX*1), Y3, Y4
	VFMADD231PS 32(R12)(AX*1), Y3, Y5
	VMOVUPS Y4, (DI)(AX*1)
	VMOVUPS Y5, 32(DI)(AX*1)
	ADDQ $64, AX
	JMP  cols16

cols8:
	CMPQ AX, BX
	JGE  next4
	VMOVUPS (DI)(AX*1), Y4
	VFMADD231PS (R8)(AX*1), Y0, Y4
	VFMADD231PS (R10)(AX*1), Y1, Y4
	VFMADD231PS (R11)(AX*1), Y2, Y4
	VFMADD231PS (R12)(AX*1), Y3, Y4
	VMOVUPS Y4, (DI)(AX*1)
	ADDQ $32, AX
	JMP  cols8

next4:
	ADDQ R9, R8
	ADDQ R9, R10
	ADDQ R9, R11
	ADDQ R9, R12
	ADDQ $4, SI
	DECQ CX
	JNZ  rows4

	LEAQ (SI)(R14*2), SI       // x of the rows after the quarters
	ADDQ R14, SI
	MOVQ R12, R8               // and their w

rows1:
	CMPQ DX, $0
	JLE  done
	VBROADCASTSS (SI), Y0
	XORQ AX, AX

cols1:
	CMPQ AX, BX
	JGE  next1
	VMOVUPS (DI)(AX*1), Y4
	VFMADD231PS (R8)(AX*1), Y0, Y4
	VMOVUPS Y4, (DI)(AX*1)
	ADDQ $32, AX
	JMP  cols1

next1:
	ADDQ R9, R8
	ADDQ $4, SI
	DECQ DX
	JMP  rows1

done:
	VZEROUPPER
	RET

// func matVecAVX(out *float32, rows int, w *float32, ldw int, x *float32, k int)
//
// out[r] = Σ_{i<k} w[r·ldw+i]·x[i] for r < rows, with k a multiple of 8 (≥ 8) and rows ≥ 1.
// The rows are cut into four quarters (q = rows/4 each; the last rows%4 come after) that are
// walked in step, one row of each at a time: four long sequential streams, which keep more
// memory requests in flight than one. Each row sums into one 8-wide accumulator, reduced as
// ((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7)) whether it is in a quarter or after them, so a row's
// value does not depend on rows.
TEXT ·matVecAVX(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ rows+8(FP), DX
	MOVQ w+16(FP), R8
	MOVQ ldw+24(FP), R9
	MOVQ x+32(FP), SI
	MOVQ k+40(FP), BX
	SHLQ $2, R9                // ldw in bytes
	SHLQ $2, BX                // k in bytes

	MOVQ DX, AX
	SHRQ $2, AX                // q
	JZ   mtail
	ANDQ $3, DX                // rows left after the quarters
	MOVQ AX, R13
	IMULQ R9, R13              // a quarter of w, in bytes
	LEAQ (R8)(R13*1), R10
	LEAQ (R10)(R13*1), R11
	LEAQ (R11)(R13*1), R12
	MOVQ AX, CX                // rows per quarter, counted down
	LEAQ (AX*4), R13           // out of quarter 1 at DI+R13, of quarter 2 at DI+2·R13
	LEAQ (R13)(R13*2), R14     // out of quarter 3 at DI+R14

mquad:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ AX, AX

mk4:
	VMOVUPS (SI)(AX*1), Y4
	VFMADD231PS (R8)(AX*1), Y4, Y0
	VFMADD231PS (R10)(AX*1), Y4, Y1
	VFMADD231PS (R11)(AX*1), Y4, Y2
	VFMADD231PS (R12)(AX*1), Y4, Y3
	ADDQ $32, AX
	CMPQ AX, BX
	JLT  mk4

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
	JNZ  mquad

	ADDQ R14, DI               // out of the rows after the quarters
	MOVQ R12, R8               // and their w
	CMPQ DX, $0
	JEQ  mdone

mtail:
	VXORPS Y0, Y0, Y0
	XORQ AX, AX

mk1:
	VMOVUPS (SI)(AX*1), Y4
	VFMADD231PS (R8)(AX*1), Y4, Y0
	ADDQ $32, AX
	CMPQ AX, BX
	JLT  mk1

	VHADDPS Y0, Y0, Y0
	VHADDPS Y0, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVSS X0, (DI)
	ADDQ $4, DI
	ADDQ R9, R8
	DECQ DX
	JNZ  mtail

mdone:
	VZEROUPPER
	RET
