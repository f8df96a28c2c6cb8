package kernels

import "unsafe"

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
// out may be the same slice as gate or up. Elements run in parallel. The AVX2 and
// AVX-512 paths compute 8 or 16 elements at a time with a vector expf (vexpf_amd64.s)
// and the same float32 operations, so every path gives the same bits.
func SwiGLUForward(out, gate, up []float32, N int) {
	if len(out) < N || len(gate) < N || len(up) < N {
		panic("kernels: SwiGLUForward: buffer too short for its shape")
	}
	p := CurrentPath()
	parallelFor(N, swigluGrain, func(lo, hi int) {
		swigluForward(p, out[lo:hi], gate[lo:hi], up[lo:hi])
	})
}

// swigluForward is SwiGLUForward over the elements of g on path p; o and u are at
// least as long as g.
func swigluForward(p Path, o, g, u []float32) {
	notePath("SwiGLUForward", p)
	n := len(g)
	o, u = o[:n], u[:n]
	i := 0
	switch p {
	case PathAVX512:
		i = n &^ 15
		swigluFwdAVX512(unsafe.SliceData(o), unsafe.SliceData(g), unsafe.SliceData(u), i)
	case PathAVX2:
		i = n &^ 7
		swigluFwdAVX2(unsafe.SliceData(o), unsafe.SliceData(g), unsafe.SliceData(u), i)
	}
	for ; i < n; i++ {
		x := g[i]
		o[i] = x / (1 + expf(-x)) * u[i]
	}
}

// SwiGLUBackward adds the gradients of SwiGLUForward to dgate and dup (N elements each),
// given dout and the forward's gate and up:
//
//	dgate += dout · up · silu'(gate),   silu'(x) = σ(x)·(1 + x·(1 − σ(x)))
//	dup   += dout · silu(gate)
//
// in float32 with expf, each product rounded before it is added to (no fused
// multiply-add, whatever the build). Either of dgate, dup may be nil when that gradient
// is not wanted. Elements run in parallel; as for SwiGLUForward, every path gives the
// same bits.
func SwiGLUBackward(dgate, dup, dout, gate, up []float32, N int) {
	if (dgate != nil && len(dgate) < N) || (dup != nil && len(dup) < N) ||
		len(dout) < N || len(gate) < N || len(up) < N {
		panic("kernels: SwiGLUBackward: buffer too short for its shape")
	}
	p := CurrentPath()
	parallelFor(N, swigluGrain, func(lo, hi int) {
		var dg, du []float32
		if dgate != nil {
			dg = dgate[lo:hi]
		}
		if dup != nil {
			du = dup[lo:hi]
		}
		swigluBackward(p, dg, du, dout[lo:hi], gate[lo:hi], up[lo:hi])
	})
}

// swigluBackward is SwiGLUBackward over the elements of g on path p; d, u and the
// gradients that are not nil are at least as long as g.
func swigluBackward(p Path, dgate, dup, d, g, u []float32) {
	notePath("SwiGLUBackward", p)
	n := len(g)
	d, u = d[:n], u[:n]
	if dgate != nil {
		dgate = dgate[:n]
	}
	if dup != nil {
		dup = dup[:n]
	}
	i := 0
	switch p {
	case PathAVX512:
		i = n &^ 15
		swigluBwdAVX512(unsafe.SliceData(dgate), unsafe.SliceData(dup), unsafe.SliceData(d), unsafe.SliceData(g), unsafe.SliceData(u), i)
	case PathAVX2:
		i = n &^ 7
		swigluBwdAVX2(unsafe.SliceData(dgate), unsafe.SliceData(dup), unsafe.SliceData(d), unsafe.SliceData(g), unsafe.SliceData(u), i)
	}
	for ; i < n; i++ {
		x := g[i]
		s := 1 / (1 + expf(-x))
		if dgate != nil {
			dgate[i] += float32(d[i] * u[i] * (s * (1 + float32(x*(1-s)))))
		}
		if dup != nil {
			dup[i] += float32(d[i] * (x * s))
		}
	}
}
