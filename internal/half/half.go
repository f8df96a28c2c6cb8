// Package half converts between float32 and the 16-bit floats, kept in one place below
// the packages that need them: it widens IEEE 754 binary16 (float16) numbers to float32,
// exactly (the safetensors reader's F16 checkpoints, the 8-bit kernels' float16 scales of
// ggml's Q8_0 blocks), and rounds float32 to bfloat16 (the safetensors writer, the
// bfloat16 weights, the AMX kernels' operands).
package half

import "math"

// ToFloat32 returns the value of the binary16 number with bits h. Every binary16 value,
// subnormals included, is exact in float32; a NaN stays a NaN with its sign and payload.
func ToFloat32(h uint16) float32 {
	if IsNormal(h) {
		return math.Float32frombits(NormalBits(h))
	}
	return Special(h)
}

// IsNormal reports whether h is a normal binary16 number (exponent neither 0 nor 31).
// It and NormalBits inline, for the fast paths of callers that convert many values.
func IsNormal(h uint16) bool {
	e := h & 0x7c00
	return e != 0 && e != 0x7c00
}

// NormalBits returns the float32 bits of the normal binary16 number h: the same sign, the
// exponent rebiased from 15 to 127, the mantissa widened from 10 to 23 bits.
func NormalBits(h uint16) uint32 {
	return uint32(h&0x8000)<<16 | (uint32(h&0x7fff)<<13 + (127-15)<<23)
}

// Special converts the binary16 zeros, subnormals, infinities and NaNs.
func Special(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	mant := uint32(h & 0x3ff)
	switch {
	case h&0x7c00 != 0: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case mant == 0: // ±0
		return math.Float32frombits(sign)
	default: // subnormal: mant·2⁻²⁴, exact in float32
		return math.Float32frombits(sign | math.Float32bits(float32(mant)*0x1p-24))
	}
}

// BFloat16 returns the bfloat16 bits nearest to f, as PyTorch's c10::BFloat16 converts:
// round to nearest, ties to even; finite values that round past the largest bfloat16
// become ±Inf; every NaN becomes the quiet NaN 0x7fc0 (PyTorch's vectorized CPU path
// writes 0xffff instead; both are NaN).
func BFloat16(f float32) uint16 {
	if f != f {
		return 0x7fc0
	}
	b := math.Float32bits(f)
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}
