package kernels

import "math"

// layerNormForwardRef is the plain reference of LayerNormForward, which normalises each of the N rows of inp (N, C) to zero mean and unit
// variance (biased variance, eps inside the square root, as torch.nn.LayerNorm), then
// scales by weight (C) and shifts by bias (C) into out (N, C). It stores each row's mean
// and 1/sqrt(var+eps) in mean (N) and rstd (N) for LayerNormBackward. Row statistics
// are accumulated in float64.
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
			ss += d * d
		}
		rs := 1 / math.Sqrt(ss/float64(C)+float64(eps))
		mean[i], rstd[i] = float32(m), float32(rs)
		o := out[i*C : (i+1)*C]
		for j, v := range x {
			o[j] = float32((float64(v)-m)*rs)*weight[j] + bias[j]
		}
	}
}

// layerNormBackwardRef is the plain reference of LayerNormBackward, which adds the gradients of LayerNormForward to dinp (N, C), dweight (C)
// and dbias (C), given dout (N, C) and the forward's inp, weight, mean and rstd. Any of
// dinp, dweight, dbias may be nil when that gradient is not wanted.
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
			dnormNormMean += dn * float64(norm)
		}
		dnormMean /= float64(C)
		dnormNormMean /= float64(C)
		for j := range x {
			norm := (x[j] - m) * rs
			if dbias != nil {
				dbias[j] += g[j]
			}
			if dweight != nil {
				dweight[j] += norm * g[j]
			}
			if dinp != nil {
				dn := float64(g[j] * weight[j])
				dinp[i*C+j] += float32((dn - dnormMean - float64(norm)*dnormNormMean) * float64(rs))
			}
		}
	}
}

// lnGrain is how many rows one parallel range of the LayerNorm kernels covers.
const lnGrain = 32

// LayerNormForward normalises each of the N rows of inp (N, C) to zero mean and unit
// variance (biased variance, eps inside the square root, as torch.nn.LayerNorm), then
// scales by weight (C) and shifts by bias (C) into out (N, C). It stores each row's mean
// and 1/sqrt(var+eps) in mean (N) and rstd (N) for LayerNormBackward. Row statistics
// are accumulated in float64; rows run in parallel.
func LayerNormForward(out, mean, rstd, inp, weight, bias []float32, N, C int, eps float32) {
	parallelFor(N, lnGrain, func(lo, hi int) {
		layerNormForwardRef(out[lo*C:hi*C], mean[lo:hi], rstd[lo:hi], inp[lo*C:hi*C], weight, bias, hi-lo, C, eps)
	})
}

// LayerNormBackward adds the gradients of LayerNormForward to dinp (N, C), dweight (C)
// and dbias (C), given dout (N, C) and the forward's inp, weight, mean and rstd. Any of
// dinp, dweight, dbias may be nil when that gradient is not wanted. Rows run in parallel
// ranges whose weight and bias gradients are summed in range order, so the result does
// not depend on the number of cores.
func LayerNormBackward(dinp, dweight, dbias, dout, inp, weight, mean, rstd []float32, N, C int) {
	chunks := (N + lnGrain - 1) / lnGrain
	var dws, dbs []float32
	if dweight != nil {
		dws = make([]float32, chunks*C)
	}
	if dbias != nil {
		dbs = make([]float32, chunks*C)
	}
	parallelFor(N, lnGrain, func(lo, hi int) {
		k := lo / lnGrain
		var di, dw, db []float32
		if dinp != nil {
			di = dinp[lo*C : hi*C]
		}
		if dws != nil {
			dw = dws[k*C : (k+1)*C]
		}
		if dbs != nil {
			db = dbs[k*C : (k+1)*C]
		}
		layerNormBackwardRef(di, dw, db, dout[lo*C:hi*C], inp[lo*C:hi*C], weight, mean[lo:hi], rstd[lo:hi], hi-lo, C)
	})
	for k := range chunks {
		if dweight != nil {
			AddTo(dweight, dws[k*C:(k+1)*C], C)
		}
		if dbias != nil {
			AddTo(dbias, dbs[k*C:(k+1)*C], C)
		}
	}
}
