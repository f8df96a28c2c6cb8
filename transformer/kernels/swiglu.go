package kernels

// swigluGrain is how many elements one parallel range of the SwiGLU kernels covers.
const swigluGrain = 1 << 14

// SwiGLUForward is the gated activation of Hugging Face's LlamaMLP (and Qwen2MLP,
// hidden_act "silu"): out = act_fn(gate_proj(x)) · up_proj(x), element-wise over N
// elements,
//
//	out = silu(gate) · up,   silu(x) = x·sigmoid(x) = x / (1 + e^−x)
//
// computed in float32 with expf, the package's exponential (relative error below
// 2e-7, a few ulp), so out is within a few ulp of the exact value; where gate < −88.7,
// e^−gate overflows and silu gives −0 instead of a value below 3e-37 in magnitude.
// out may be the same slice as gate or up. Elements run in parallel.
func SwiGLUForward(out, gate, up []float32, N int) {
	if len(out) < N || len(gate) < N || len(up) < N {
		panic("kernels: SwiGLUForward: buffer too short for its shape")
	}
	parallelFor(N, swigluGrain, func(lo, hi int) {
		o, g, u := out[lo:hi], gate[lo:hi], up[lo:hi]
		for i, x := range g {
			o[i] = x / (1 + expf(-x)) * u[i]
		}
	})
}

// SwiGLUBackward adds the gradients of SwiGLUForward to dgate and dup (N elements each),
// given dout and the forward's gate and up:
//
//	dgate += dout · up · silu'(gate),   silu'(x) = σ(x)·(1 + x·(1 − σ(x)))
//	dup   += dout · silu(gate)
//
// in float32 with expf. Either of dgate, dup may be nil when that gradient is not
// wanted. Elements run in parallel.
func SwiGLUBackward(dgate, dup, dout, gate, up []float32, N int) {
	if (dgate != nil && len(dgate) < N) || (dup != nil && len(dup) < N) ||
		len(dout) < N || len(gate) < N || len(up) < N {
		panic("kernels: SwiGLUBackward: buffer too short for its shape")
	}
	parallelFor(N, swigluGrain, func(lo, hi int) {
		d, g, u := dout[lo:hi], gate[lo:hi], up[lo:hi]
		for i, x := range g {
			s := 1 / (1 + expf(-x))
			if dgate != nil {
				dgate[lo+i] += d[i] * u[i] * (s * (1 + x*(1-s)))
			}
			if dup != nil {
				dup[lo+i] += d[i] * (x * s)
			}
		}
	})
}
