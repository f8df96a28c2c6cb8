// Package half widens IEEE 754 binary16 (float16) numbers to float32, exactly: the one
// conversion that both the safetensors reader (F16 checkpoints) and the 8-bit kernels
// (ggml's Q8_0 blocks, whose scales are float16) need, kept in one place below both.
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
