// Included by transpose_amd64.s and pack_bf16_amd64.s: the AVX-512 16×16 transpose.

// TR16OUT writes output rows c, 4+c, 8+c, 12+c of a 16×16 block (at DX, AX = 4 rows of
// dst, BX = 12 rows) from stage-2 registers U0 (rows 0–3 of src), U4 (4–7), U8 (8–11),
// U12 (12–15): 128-bit lanes gathered with VSHUFF32X4 in two steps.
#define TR16OUT(U0, U4, U8, U12) \
	VSHUFF32X4 $0x88, U4, U0, Z16; \
	VSHUFF32X4 $0xDD, U4, U0, Z17; \
	VSHUFF32X4 $0x88, U12, U8, Z18; \
	VSHUFF32X4 $0xDD, U12, U8, Z19; \
	VSHUFF32X4 $0x88, Z18, Z16, Z20; \
	VSHUFF32X4 $0xDD, Z18, Z16, Z21; \
	VSHUFF32X4 $0x88, Z19, Z17, Z22; \
	VSHUFF32X4 $0xDD, Z19, Z17, Z23; \
	VMOVUPS Z20, (DX); \
	VMOVUPS Z22, (DX)(AX*1); \
	VMOVUPS Z21, (DX)(AX*2); \
	VMOVUPS Z23, (DX)(BX*1)

// TRANSPOSE16 transposes the 16×16 block of floats in Z0…Z15 (row x of src in Zx) and
// stores it at DX: row k of the block (column k of src) at DX + k·dstStride, with R8 = 1
// row of dst, AX = 4 rows and BX = 12 rows (bytes); DX, Z0…Z15 and Z16…Z31 are clobbered.
// Unpack and shuffle within 128-bit lanes (16 + 16 shuffles), then gather the lanes
// with VSHUFF32X4 in two rounds (32): a quarter of a shuffle per element.
#define TRANSPOSE16 \
	VUNPCKLPS Z1, Z0, Z16; \
	VUNPCKHPS Z1, Z0, Z17; \
	VUNPCKLPS Z3, Z2, Z18; \
	VUNPCKHPS Z3, Z2, Z19; \
	VUNPCKLPS Z5, Z4, Z20; \
	VUNPCKHPS Z5, Z4, Z21; \
	VUNPCKLPS Z7, Z6, Z22; \
	VUNPCKHPS Z7, Z6, Z23; \
	VUNPCKLPS Z9, Z8, Z24; \
	VUNPCKHPS Z9, Z8, Z25; \
	VUNPCKLPS Z11, Z10, Z26; \
	VUNPCKHPS Z11, Z10, Z27; \
	VUNPCKLPS Z13, Z12, Z28; \
	VUNPCKHPS Z13, Z12, Z29; \
	VUNPCKLPS Z15, Z14, Z30; \
	VUNPCKHPS Z15, Z14, Z31; \
	VSHUFPS $0x44, Z18, Z16, Z0; \
	VSHUFPS $0xEE, Z18, Z16, Z1; \
	VSHUFPS $0x44, Z19, Z17, Z2; \
	VSHUFPS $0xEE, Z19, Z17, Z3; \
	VSHUFPS $0x44, Z22, Z20, Z4; \
	VSHUFPS $0xEE, Z22, Z20, Z5; \
	VSHUFPS $0x44, Z23, Z21, Z6; \
	VSHUFPS $0xEE, Z23, Z21, Z7; \
	VSHUFPS $0x44, Z26, Z24, Z8; \
	VSHUFPS $0xEE, Z26, Z24, Z9; \
	VSHUFPS $0x44, Z27, Z25, Z10; \
	VSHUFPS $0xEE, Z27, Z25, Z11; \
	VSHUFPS $0x44, Z30, Z28, Z12; \
	VSHUFPS $0xEE, Z30, Z28, Z13; \
	VSHUFPS $0x44, Z31, Z29, Z14; \
	VSHUFPS $0xEE, Z31, Z29, Z15; \
	TR16OUT(Z0, Z4, Z8, Z12); \
	ADDQ R8, DX; \
	TR16OUT(Z1, Z5, Z9, Z13); \
	ADDQ R8, DX; \
	TR16OUT(Z2, Z6, Z10, Z14); \
	ADDQ R8, DX; \
	TR16OUT(Z3, Z7, Z11, Z15)
