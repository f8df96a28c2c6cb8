package kernels

import "unsafe"

// geluS and geluC are GELU's constants in float32: √(2/π) and 0.044715, the cube's
// weight (gelc<> in vexpf_amd64.s holds the same bits).
const geluS, geluC = float32(0.7978845608028654), float32(0.044715)

// geluGrain is how many elements one parallel range of the GELU kernels covers.
const geluGrain = 1 << 14

// GeluForward applies GELU's tanh approximation (Hugging Face "gelu_new", PyTorch
// gelu(approximate="tanh")) element-wise: out = ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
// out and inp have N elements and may be the same slice. It computes in float32 with
// tanhf, each product rounded before it is added to (no fused multiply-add, whatever the
// build), in parallel. The AVX2 and AVX-512 paths compute 8 or 16 elements at a time
// with the same float32 operations (vexpf_amd64.s), so every path gives the same bits.
func GeluForward(out, inp []float32, N int) {
	if len(out) < N || len(inp) < N {
		panic("kernels: GeluForward: buffer too short for its shape")
	}
	p := CurrentPath()
	parallelFor(N, geluGrain, func(lo, hi int) {
		geluForward(p, out[lo:hi], inp[lo:hi])
	})
}

// geluForward is GeluForward over the elements of x on path p; o is at least as long.
func geluForward(p Path, o, x []float32) {
	notePath("GeluForward", p)
	n := len(x)
	o = o[:n]
	i := 0
	switch p {
	case PathAVX512:
		i = n &^ 15
		geluFwdAVX512(unsafe.SliceData(o), unsafe.SliceData(x), i)
	case PathAVX2:
		i = n &^ 7
		geluFwdAVX2(unsafe.SliceData(o), unsafe.SliceData(x), i)
	}
	for ; i < n; i++ {
		v := x[i]
		o[i] = float32(0.5*v) * (1 + tanhf(geluArg(v)))
	}
}

// geluArg is the argument of GELU's tanh, √(2/π)·(x + 0.044715·x³), as every path
// rounds it.
func geluArg(x float32) float32 {
	return geluS * (x + float32(geluC*x*x*x))
}

// GeluBackward adds dout ⊙ gelu'(inp) to dinp; all three have N elements. As for
// GeluForward, every path gives the same bits.
func GeluBackward(dinp, inp, dout []float32, N int) {
	if len(dinp) < N || len(inp) < N || len(dout) < N {
		panic("kernels: GeluBackward: buffer too short for its shape")
	}
	p := CurrentPath()
	parallelFor(N, geluGrain, func(lo, hi int) {
		geluBackward(p, dinp[lo:hi], inp[lo:hi], dout[lo:hi])
	})
}

// geluBackward is GeluBackward over the elements of x on path p; dx and d are at least
// as long.
func geluBackward(p Path, dx, x, d []float32) {
	notePath("GeluBackward", p)
	n := len(x)
	dx, d = dx[:n], d[:n]
	i := 0
	switch p {
	case PathAVX512:
		i = n &^ 15
		geluBwdAVX512(unsafe.SliceData(dx), unsafe.SliceData(x), unsafe.SliceData(d), i)
	case PathAVX2:
		i = n &^ 7
		geluBwdAVX2(unsafe.SliceData(dx), unsafe.SliceData(x), unsafe.SliceData(d), i)
	}
	for ; i < n; i++ {
		v := x[i]
		th := tanhf(geluArg(v))
		du := geluS * (1 + float32(3*geluC*v*v))
		g := (float32(0.5*(1+th)) + float32(float32(float32(0.5*v)*(1-float32(th*th)))*du)) * d[i]
		dx[i] += float32(g)
	}
}
