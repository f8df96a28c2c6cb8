package kernels

import "math"

// geluScale is √(2/π), the constant of GELU's tanh approximation.
var geluScale = math.Sqrt(2 / math.Pi)

// geluGrain is how many elements one parallel range of the GELU kernels covers.
const geluGrain = 1 << 14

// GeluForward applies GELU's tanh approximation (Hugging Face "gelu_new", PyTorch
// gelu(approximate="tanh")) element-wise: out = ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
// out and inp have N elements and may be the same slice. It computes in float32 with
// tanhf, in parallel.
func GeluForward(out, inp []float32, N int) {
	const s, c = float32(0.7978845608028654), float32(0.044715)
	parallelFor(N, geluGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			x := inp[i]
			out[i] = 0.5 * x * (1 + tanhf(s*(x+c*x*x*x)))
		}
	})
}

// GeluBackward adds dout ⊙ gelu'(inp) to dinp; all three have N elements.
func GeluBackward(dinp, inp, dout []float32, N int) {
	const s, c = float32(0.7978845608028654), float32(0.044715)
	parallelFor(N, geluGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			x := inp[i]
			th := tanhf(s * (x + c*x*x*x))
			du := s * (1 + 3*c*x*x)
			dinp[i] += (0.5*(1+th) + 0.5*x*(1-th*th)*du) * dout[i]
		}
	})
}
