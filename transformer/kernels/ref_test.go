package kernels

import "math"

// The plain references of GELU, LayerNorm, RoPE and SwiGLU: the formulas as
// written, one loop each, that the tests compare every path of each kernel with. They
// are test code: no kernel path calls them.

// geluScale is √(2/π), the constant of GELU's tanh approximation, in float64.
var geluScale = math.Sqrt(2 / math.Pi)

// geluForwardRef is the plain float64 reference of GeluForward. GeluForward applies GELU's tanh approximation (Hugging Face "gelu_new", PyTorch
// gelu(approximate="tanh")) element-wise: out = ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
// out and inp have N elements and may be the same slice.
func geluForwardRef(out, inp []float32, N int) {
	for i := 0; i < N; i++ {
		x := float64(inp[i])
		out[i] = float32(0.5 * x * (1 + math.Tanh(geluScale*(x+0.044715*x*x*x))))
	}
}

// geluBackwardRef is the plain reference of GeluBackward, which adds dout ⊙ gelu'(inp) to dinp; all three have N elements.
func geluBackwardRef(dinp, inp, dout []float32, N int) {
	for i := 0; i < N; i++ {
		x := float64(inp[i])
		u := geluScale * (x + 0.044715*x*x*x)
		th := math.Tanh(u)
		sech2 := 1 - th*th
		du := geluScale * (1 + 3*0.044715*x*x)
		dinp[i] += float32((0.5*(1+th) + 0.5*x*sech2*du) * float64(dout[i]))
	}
}

// ropeForwardRef is the plain reference of RoPEForwardStrided: one head, one pair
// (x[i], x[i+hs/2]) after another, the angle computed afresh for each.
func ropeForwardRef(x []float32, ld int, pos []int, invFreq []float32, N, H, hs int) {
	half := hs / 2
	for n := 0; n < N; n++ {
		for h := 0; h < H; h++ {
			head := x[n*ld+h*hs:][:hs]
			for i := 0; i < half; i++ {
				c, s := ropeAngle(pos[n], invFreq[i])
				x1, x2 := head[i], head[i+half]
				head[i] = float32(x1*c) - float32(x2*s)
				head[i+half] = float32(x2*c) + float32(x1*s)
			}
		}
	}
}

// ropeBackwardRef is the plain reference of RoPEBackwardStrided: the transposed
// rotation, by −θ, of every pair.
func ropeBackwardRef(dx []float32, ld int, pos []int, invFreq []float32, N, H, hs int) {
	half := hs / 2
	for n := 0; n < N; n++ {
		for h := 0; h < H; h++ {
			head := dx[n*ld+h*hs:][:hs]
			for i := 0; i < half; i++ {
				c, s := ropeAngle(pos[n], invFreq[i])
				d1, d2 := head[i], head[i+half]
				head[i] = float32(d1*c) + float32(d2*s)
				head[i+half] = float32(d2*c) - float32(d1*s)
			}
		}
	}
}

// swigluForwardRef is the plain float64 reference of SwiGLUForward: out = silu(gate)·up
// element-wise, silu(x) = x·sigmoid(x), the SiLU rounded to float32 before up multiplies
// it.
func swigluForwardRef(out, gate, up []float32, N int) {
	for i := 0; i < N; i++ {
		g := float64(gate[i])
		out[i] = float32(g/(1+math.Exp(-g))) * up[i]
	}
}

// swigluBackwardRef is the plain float64 reference of SwiGLUBackward: it adds
// dout·up·silu'(gate) to dgate and dout·silu(gate) to dup, silu'(x) =
// σ(x)·(1 + x·(1 − σ(x))). Either of dgate, dup may be nil.
func swigluBackwardRef(dgate, dup, dout, gate, up []float32, N int) {
	for i := 0; i < N; i++ {
		g, d := float64(gate[i]), float64(dout[i])
		s := 1 / (1 + math.Exp(-g))
		if dgate != nil {
			dgate[i] += float32(d * float64(up[i]) * s * (1 + g*(1-s)))
		}
		if dup != nil {
			dup[i] += float32(d * g * s)
		}
	}
}

// rmsNormForwardRef is the plain reference of RMSNormForward: each of the N rows of inp
// (N, C) divided by its root mean square, out = inp · rsqrt(mean(inp²) + eps) · weight,
// with rsqrt(mean(inp²) + eps) stored in rstd (N). Row statistics are accumulated in
// float64; the normalised value is rounded to float32 before the weight multiplies it,
// as LlamaRMSNorm casts it back to the input dtype first.
func rmsNormForwardRef(out, rstd, inp, weight []float32, N, C int, eps float32) {
	for i := 0; i < N; i++ {
		x := inp[i*C : (i+1)*C]
		var ss float64
		for _, v := range x {
			ss += float64(v) * float64(v)
		}
		rs := 1 / math.Sqrt(ss/float64(C)+float64(eps))
		rstd[i] = float32(rs)
		o := out[i*C : (i+1)*C]
		for j, v := range x {
			o[j] = float32(float64(v)*rs) * weight[j]
		}
	}
}

// rmsNormBackwardRef is the plain reference of RMSNormBackward: it adds the gradients of
// RMSNormForward to dinp (N, C) and dweight (C), given dout (N, C) and the forward's inp,
// weight and rstd. Either of dinp, dweight may be nil when that gradient is not wanted.
func rmsNormBackwardRef(dinp, dweight, dout, inp, weight, rstd []float32, N, C int) {
	for i := 0; i < N; i++ {
		x := inp[i*C : (i+1)*C]
		g := dout[i*C : (i+1)*C]
		rs := rstd[i]
		// norm = x·rstd, dnorm = g ⊙ weight; dx = rstd·(dnorm − norm·mean(dnorm ⊙ norm))
		var dnormNormMean float64
		for j := range x {
			norm := x[j] * rs
			dnormNormMean += float64(g[j]*weight[j]) * float64(norm)
		}
		dnormNormMean /= float64(C)
		for j := range x {
			norm := x[j] * rs
			if dweight != nil {
				dweight[j] += norm * g[j]
			}
			if dinp != nil {
				dn := float64(g[j] * weight[j])
				dinp[i*C+j] += float32((dn - float64(norm)*dnormNormMean) * float64(rs))
			}
		}
	}
}

// layerNormForwardRef is the plain reference of LayerNormForward, which normalises each of the N rows of inp (N, C) to zero mean and unit
// variance (biased variance, eps inside the square root, as torch.nn.LayerNorm), then
// scales by weight (C) and shifts by bias (C) into out (N, C). It stores each row's mean
// and 1/sqrt(var+eps) in mean (N) and rstd (N) for LayerNormBackward. Row statistics
// are accumulated in float64, one element after the other; each product is rounded before
// it is added to (no fused multiply-add, whatever the build). LayerNormForward gives its
// bits on every path.
func layerNormForwardRef(out, mean, rstd, inp, weight, bias []float32, N, C int, eps float32) {
	for i := 0; i < N; i++ {
		x := inp[i*C : (i+1)*C]
		var s float64
		for _, v := range x {
			s += float64(v)
		}
		m := s / float64(C)
		var ss float64
		for _, v := range x {
			d := float64(v) - m
			ss += float64(d * d)
		}
		rs := 1 / math.Sqrt(ss/float64(C)+float64(eps))
		mean[i], rstd[i] = float32(m), float32(rs)
		o := out[i*C : (i+1)*C]
		for j, v := range x {
			o[j] = float32(float32((float64(v)-m)*rs)*weight[j]) + bias[j]
		}
	}
}

// layerNormBackwardRef is the plain reference of LayerNormBackward, which adds the gradients of LayerNormForward to dinp (N, C), dweight (C)
// and dbias (C), given dout (N, C) and the forward's inp, weight, mean and rstd. Any of
// dinp, dweight, dbias may be nil when that gradient is not wanted. LayerNormBackward
// gives its bits on every path, for dweight and dbias within each range of lnGrain rows.
func layerNormBackwardRef(dinp, dweight, dbias, dout, inp, weight, mean, rstd []float32, N, C int) {
	for i := 0; i < N; i++ {
		x := inp[i*C : (i+1)*C]
		g := dout[i*C : (i+1)*C]
		m, rs := mean[i], rstd[i]
		// dnorm = g ⊙ weight; dx = rstd·(dnorm − mean(dnorm) − norm·mean(dnorm ⊙ norm))
		var dnormMean, dnormNormMean float64
		for j := range x {
			norm := (x[j] - m) * rs
			dn := float64(g[j] * weight[j])
			dnormMean += dn
			dnormNormMean += float64(dn * float64(norm))
		}
		dnormMean /= float64(C)
		dnormNormMean /= float64(C)
		for j := range x {
			norm := (x[j] - m) * rs
			if dbias != nil {
				dbias[j] += g[j]
			}
			if dweight != nil {
				dweight[j] += float32(norm * g[j])
			}
			if dinp != nil {
				dn := float64(g[j] * weight[j])
				dinp[i*C+j] += float32((dn - dnormMean - float64(float64(norm)*dnormNormMean)) * float64(rs))
			}
		}
	}
}
