package kernels

import "math"

// expf returns e^x in float32 with a relative error below 2e-7 (Cephes' expf: range
// reduction by ln 2, a degree-6 polynomial, scaling by 2^n), about four times as fast as
// float64 math.Exp. Results below 2^-126 (x < −87.3) flush to 0; x > 88.72 gives +Inf.
func expf(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		c1    = 0.693359375
		c2    = -2.12194440e-4
	)
	if !(x >= -87.33654) { // also NaN
		if x != x {
			return x
		}
		return 0
	}
	if x > 88.72283 {
		return float32(math.Inf(1))
	}
	// fx = round(x·log2e): adding 1.5·2²³ leaves the integer part in the mantissa.
	// Every product is converted to float32 before it is added to: that rounds it, so
	// no build (GOAMD64=v3 included) fuses a multiply and an add, and the vector
	// versions of vexpf_amd64.s give the same bits.
	const magic = 12582912
	fx := (float32(log2e*x) + magic) - magic
	x = x - float32(fx*c1) - float32(fx*c2)
	z := x * x
	y := float32(1.9875691500e-4*x) + 1.3981999507e-3
	y = float32(y*x) + 8.3334519073e-3
	y = float32(y*x) + 4.1665795894e-2
	y = float32(y*x) + 1.6666665459e-1
	y = float32(y*x) + 5.0000001201e-1
	y = float32(y*z) + x + 1
	n := int32(fx)
	if n > 127 { // y·2^n with n = 128: split the scaling
		return y * 2 * math.Float32frombits(uint32(n-1+127)<<23)
	}
	return y * math.Float32frombits(uint32(n+127)<<23)
}

// tanhf returns tanh(x) in float32 through expf: 1 − 2/(e^{2x} + 1), exact to a few ulp.
func tanhf(x float32) float32 {
	if x > 9 { // tanh is 1 to float32 precision
		return 1
	}
	if x < -9 {
		return -1
	}
	if x > -0.125 && x < 0.125 { // avoid cancellation near 0: tanh x ≈ x − x³/3 + 2x⁵/15 − 17x⁷/315
		// Each product is rounded before it is added to, as the vector GELU kernels
		// (vexpf_amd64.s) do.
		x2 := x * x
		t := 2.0/15 - x2*17.0/315
		t = -1.0/3 + float32(x2*t)
		t = 1 + float32(x2*t)
		return x * t
	}
	return 1 - 2/(expf(2*x)+1)
}
