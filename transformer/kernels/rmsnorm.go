package kernels

import (
	"math"
	"unsafe"
)

// rmsLanes is how many partial sums RMSNorm's row statistics accumulate in: element j of
// a row goes to partial sum j mod 16 (in order within each), and the 16 are added
// pairwise at the end (reduceLanes). Every path sums in this order, the vector ones 8 or
// 4 float64 lanes at a time, so every path gives the same bits.
const rmsLanes = 16

// reduceLanes adds the partial sums of a row statistic pairwise: a[j] += a[j+8], then
// a[j] += a[j+4], a[j+2], a[j+1], and returns a[0].
func reduceLanes(a *[rmsLanes]float64) float64 {
	for h := rmsLanes / 2; h > 0; h /= 2 {
		for j := range h {
			a[j] += a[j+h]
		}
	}
	return a[0]
}

// sumSqLanes adds float64(x[j])² into acc[j mod 16] for every j, on path p.
func sumSqLanes(p Path, x []float32, acc *[rmsLanes]float64) {
	n := len(x) &^ (rmsLanes - 1)
	switch p {
	case PathAVX512:
		sumSq16AVX512(unsafe.SliceData(x), n, acc)
	case PathAVX2:
		sumSq16AVX2(unsafe.SliceData(x), n, acc)
	default:
		for i := 0; i < n; i += rmsLanes {
			for j, v := range x[i : i+rmsLanes] {
				acc[j] += float64(v) * float64(v)
			}
		}
	}
	for j, v := range x[n:] {
		acc[j] += float64(v) * float64(v)
	}
}

// dotLanes adds float64(d[j]·w[j])·float64(x[j]·rs), the float32 products rounded first,
// into acc[j mod 16] for every j < len(x), on path p; d and w are at least as long as x.
func dotLanes(p Path, d, w, x []float32, rs float32, acc *[rmsLanes]float64) {
	d, w = d[:len(x)], w[:len(x)]
	n := len(x) &^ (rmsLanes - 1)
	switch p {
	case PathAVX512:
		dot16AVX512(unsafe.SliceData(d), unsafe.SliceData(w), unsafe.SliceData(x), n, rs, acc)
	case PathAVX2:
		dot16AVX2(unsafe.SliceData(d), unsafe.SliceData(w), unsafe.SliceData(x), n, rs, acc)
	default:
		for i := 0; i < n; i += rmsLanes {
			for j := range rmsLanes {
				acc[j] += float64(d[i+j]*w[i+j]) * float64(x[i+j]*rs)
			}
		}
	}
	for j := n; j < len(x); j++ {
		acc[j-n] += float64(d[j]*w[j]) * float64(x[j]*rs)
	}
}

// rmsNormForwardRows is RMSNormForward over N rows on path p.
func rmsNormForwardRows(p Path, out, rstd, inp, weight []float32, N, C int, eps float32) {
	notePath("RMSNormForward", p)
	weight = weight[:C]
	n := 0
	if p != PathGo {
		n = C &^ (rmsLanes - 1)
	}
	for i := range N {
		x, o := inp[i*C:(i+1)*C], out[i*C:(i+1)*C]
		var acc [rmsLanes]float64
		sumSqLanes(p, x, &acc)
		rs := 1 / math.Sqrt(reduceLanes(&acc)/float64(C)+float64(eps))
		rstd[i] = float32(rs)
		switch p {
		case PathAVX512:
			rmsScaleAVX512(unsafe.SliceData(o), unsafe.SliceData(x), unsafe.SliceData(weight), n, rs)
		case PathAVX2:
			rmsScaleAVX2(unsafe.SliceData(o), unsafe.SliceData(x), unsafe.SliceData(weight), n, rs)
		}
		for j := n; j < C; j++ {
			o[j] = float32(float64(x[j])*rs) * weight[j]
		}
	}
}

// rmsNormBackwardRows is RMSNormBackward over N rows on path p, with the weight
// gradients added to dweight row after row.
func rmsNormBackwardRows(p Path, dinp, dweight, dout, inp, weight, rstd []float32, N, C int) {
	notePath("RMSNormBackward", p)
	weight = weight[:C]
	if dweight != nil {
		dweight = dweight[:C]
	}
	n := 0
	if p != PathGo {
		n = C &^ (rmsLanes - 1)
	}
	for i := range N {
		x, g := inp[i*C:(i+1)*C], dout[i*C:(i+1)*C]
		rs := rstd[i]
		// norm = x·rstd, dnorm = g ⊙ weight; dx = rstd·(dnorm − norm·mean(dnorm ⊙ norm))
		var acc [rmsLanes]float64
		dotLanes(p, g, weight, x, rs, &acc)
		mean := reduceLanes(&acc) / float64(C)
		if dweight != nil {
			switch p {
			case PathAVX512:
				rmsDweightAVX512(unsafe.SliceData(dweight), unsafe.SliceData(g), unsafe.SliceData(x), n, rs)
			case PathAVX2:
				rmsDweightAVX2(unsafe.SliceData(dweight), unsafe.SliceData(g), unsafe.SliceData(x), n, rs)
			}
			for j := n; j < C; j++ {
				dweight[j] += float32(x[j] * rs * g[j])
			}
		}
		if dinp != nil {
			di := dinp[i*C : (i+1)*C]
			switch p {
			case PathAVX512:
				rmsDinpAVX512(unsafe.SliceData(di), unsafe.SliceData(g), unsafe.SliceData(weight), unsafe.SliceData(x), n, rs, mean)
			case PathAVX2:
				rmsDinpAVX2(unsafe.SliceData(di), unsafe.SliceData(g), unsafe.SliceData(weight), unsafe.SliceData(x), n, rs, mean)
			}
			for j := n; j < C; j++ {
				dn := float64(g[j] * weight[j])
				di[j] += float32((dn - float64(float64(x[j]*rs)*mean)) * float64(rs))
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
// RMSNormBackward. Row statistics are accumulated in float64, in 16 interleaved partial
// sums (rmsLanes) rather than one running sum, which changes their rounding by a few
// float64 ulp, far below float32's; the normalised value is rounded to float32 before
// the weight multiplies it, as LlamaRMSNorm does. Rows run in parallel; every path
// gives the same bits.
func RMSNormForward(out, rstd, inp, weight []float32, N, C int, eps float32) {
	if len(out) < N*C || len(rstd) < N || len(inp) < N*C || len(weight) < C {
		panic("kernels: RMSNormForward: buffer too short for its shape")
	}
	p := CurrentPath()
	parallelFor(N, lnGrain, func(lo, hi int) {
		rmsNormForwardRows(p, out[lo*C:hi*C], rstd[lo:hi], inp[lo*C:hi*C], weight, hi-lo, C, eps)
	})
}

// RMSNormBackward adds the gradients of RMSNormForward to dinp (N, C) and dweight (C),
// given dout (N, C) and the forward's inp, weight and rstd: with norm = inp·rstd,
//
//	dweight += Σ_rows dout ⊙ norm
//	dinp    += rstd · (dout ⊙ weight − norm · mean(dout ⊙ weight ⊙ norm))
//
// with mean(dout ⊙ weight ⊙ norm) accumulated in float64 as RMSNormForward's statistics
// are, and dinp's bracket in float64. Either of dinp, dweight may be nil when that
// gradient is not wanted. Rows run in parallel ranges whose weight gradients are summed
// in range order, so the result does not depend on the number of cores; every path
// gives the same bits.
func RMSNormBackward(dinp, dweight, dout, inp, weight, rstd []float32, N, C int) {
	if (dinp != nil && len(dinp) < N*C) || (dweight != nil && len(dweight) < C) ||
		len(dout) < N*C || len(inp) < N*C || len(weight) < C || len(rstd) < N {
		panic("kernels: RMSNormBackward: buffer too short for its shape")
	}
	chunks := (N + lnGrain - 1) / lnGrain
	p := CurrentPath()
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
		rmsNormBackwardRows(p, di, dw, dout[lo*C:hi*C], inp[lo*C:hi*C], weight, rstd[lo:hi], hi-lo, C)
	})
	if dweight != nil {
		for k := range chunks {
			AddTo(dweight, dws[k*C:(k+1)*C], C)
		}
	}
}
