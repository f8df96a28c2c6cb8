package safetensors

import (
	"fmt"
	"math"

	"github.com/llmtune/llmtune/internal/half"
)

// DType names the element type of a tensor as the header spells it ("F32", "BF16", ...).
type DType string

// The element types of the safetensors format whose elements are whole bytes.
const (
	F64    DType = "F64"     // IEEE 754 binary64
	F32    DType = "F32"     // IEEE 754 binary32
	F16    DType = "F16"     // IEEE 754 binary16
	BF16   DType = "BF16"    // bfloat16: the upper half of a binary32
	F8E5M2 DType = "F8_E5M2" // 8-bit float, 5 exponent and 2 mantissa bits
	F8E4M3 DType = "F8_E4M3" // 8-bit float, 4 exponent and 3 mantissa bits
	I64    DType = "I64"     // signed 64-bit integer
	I32    DType = "I32"     // signed 32-bit integer
	I16    DType = "I16"     // signed 16-bit integer
	I8     DType = "I8"      // signed 8-bit integer
	U64    DType = "U64"     // unsigned 64-bit integer
	U32    DType = "U32"     // unsigned 32-bit integer
	U16    DType = "U16"     // unsigned 16-bit integer
	U8     DType = "U8"      // unsigned 8-bit integer
	BOOL   DType = "BOOL"    // one byte, 0 or 1
)

// Size returns the size of one element in bytes, or 0 for a dtype this package does not
// know.
func (d DType) Size() int {
	switch d {
	case F64, I64, U64:
		return 8
	case F32, I32, U32:
		return 4
	case F16, BF16, I16, U16:
		return 2
	case F8E5M2, F8E4M3, I8, U8, BOOL:
		return 1
	}
	return 0
}

// IsFloat32Readable reports whether File.ReadFloat32 can read a tensor of this dtype:
// F32, F16, BF16 or F64.
func (d DType) IsFloat32Readable() bool {
	return d == F32 || d == F16 || d == BF16 || d == F64
}

// IsWritable reports whether Write can store []float32 data as d: F32, F16 or BF16.
func (d DType) IsWritable() bool {
	return d == F32 || d == F16 || d == BF16
}

// UnmarshalText sets d from its header spelling and rejects a dtype this package does not
// know.
func (d *DType) UnmarshalText(text []byte) error {
	v := DType(text)
	if v.Size() == 0 {
		return fmt.Errorf("unknown dtype %q", text)
	}
	*d = v
	return nil
}

// Float16ToFloat32 returns the value of the IEEE 754 binary16 number with bits h. Every
// binary16 value, subnormals included, is exact in float32; a NaN stays a NaN with its
// sign and payload (half.ToFloat32).
func Float16ToFloat32(h uint16) float32 { return half.ToFloat32(h) }

// BFloat16ToFloat32 returns the value of the bfloat16 number with bits b, which is exact:
// a bfloat16 is the upper 16 bits of a float32.
func BFloat16ToFloat32(b uint16) float32 {
	return math.Float32frombits(uint32(b) << 16)
}

// Float32ToFloat16 returns the IEEE 754 binary16 bits nearest to f, as PyTorch converts:
// round to nearest, ties to even; magnitudes from 65520 up become ±Inf; magnitudes up to
// 2⁻²⁵ become ±0; every NaN becomes the quiet NaN 0x7e00 with f's sign.
func Float32ToFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15 // binary16 biased exponent
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e >= 1 { // normal: drop 13 mantissa bits
		return sign | roundShift(uint32(e)<<10|mant>>13, mant&0x1fff, 13)
	}
	// Subnormal or zero: the result counts units of 2⁻²⁴. The full significand m (with
	// its implicit 1) is m·2^(exp-150) = (m >> shift) units, shift = 14 - e.
	shift := uint(14 - e)
	if exp == 0 || shift > 24 { // float32 subnormals and anything below 2⁻²⁵
		return sign
	}
	m := mant | 0x800000
	return sign | roundShift(m>>shift, m&(1<<shift-1), shift)
}

// roundShift rounds q (the kept high bits) by rest (the dropped low `bits` bits) to
// nearest, ties to even. A carry out of the mantissa correctly bumps the exponent, and
// from the largest finite value on to infinity.
func roundShift(q, rest uint32, bits uint) uint16 {
	half := uint32(1) << (bits - 1)
	if rest > half || rest == half && q&1 == 1 {
		q++
	}
	return uint16(q)
}

// Float32ToBFloat16 returns the bfloat16 bits nearest to f: half.BFloat16 (round to
// nearest, ties to even, as PyTorch's c10::BFloat16; every NaN becomes 0x7fc0).
func Float32ToBFloat16(f float32) uint16 { return half.BFloat16(f) }
