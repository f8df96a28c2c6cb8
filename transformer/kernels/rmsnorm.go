package kernels

import "math"

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

// RMSNormForward is Hugging Face's LlamaRMSNorm (also Qwen2RMSNorm) in float32: each of
// the N rows of inp (N, C) is divided by its root mean square and scaled by weight (C)
// into out (N, C),
//
//	out = inp · rsqrt(mean(inp²) + eps) · weight
//
// with the plain weight (not 1 + weight, as Gemma's RMSNorm has) and eps inside the
// square root. It stores each row's rsqrt(mean(inp²) + eps) in rstd (N) for
// RMSNormBackward. Row statistics are accumulated in float64, and the normalised value
// is rounded to float32 before the weight multiplies it, as LlamaRMSNorm does; rows run
// in parallel.
func RMSNormForward(out, rstd, inp, weight []float32, N, C int, eps float32) {
	if len(out) < N*C || len(rstd) < N || len(inp) < N*C || len(weight) < C {
		panic("kernels: RMSNormForward: buffer too short for its shape")
	}
	parallelFor(N, lnGrain, func(lo, hi int) {
		rmsNormForwardRef(out[lo*C:hi*C], rstd[lo:hi], inp[lo*C:hi*C], weight, hi-lo, C, eps)
	})
}

// RMSNormBackward adds the gradients of RMSNormForward to dinp (N, C) and dweight (C),
// given dout (N, C) and the forward's inp, weight and rstd: with norm = inp·rstd,
//
//	dweight += Σ_rows dout ⊙ norm
//	dinp    += rstd · (dout ⊙ weight − norm · mean(dout ⊙ weight ⊙ norm))
//
// Either of dinp, dweight may be nil when that gradient is not wanted. Rows run in
// parallel ranges whose weight gradients are summed in range order, so the result does
// not depend on the number of cores.
func RMSNormBackward(dinp, dweight, dout, inp, weight, rstd []float32, N, C int) {
	if (dinp != nil && len(dinp) < N*C) || (dweight != nil && len(dweight) < C) ||
		len(dout) < N*C || len(inp) < N*C || len(weight) < C || len(rstd) < N {
		panic("kernels: RMSNormBackward: buffer too short for its shape")
	}
	chunks := (N + lnGrain - 1) / lnGrain
	var dws []float32
	if dweight != nil {
		dws = make([]float32, chunks*C)
	}
	parallelFor(N, lnGrain, func(lo, hi int) {
		var di, dw []float32
		if dinp != nil {
			di = dinp[lo*C : hi*C]
		}
		if dws != nil {
			k := lo / lnGrain
			dw = dws[k*C : (k+1)*C]
		}
		rmsNormBackwardRef(di, dw, dout[lo*C:hi*C], inp[lo*C:hi*C], weight, rstd[lo:hi], hi-lo, C)
	})
	if dweight != nil {
		for k := range chunks {
			AddTo(dweight, dws[k*C:(k+1)*C], C)
		}
	}
}
