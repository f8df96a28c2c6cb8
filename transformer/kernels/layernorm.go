package kernels

import (
	"math"
	"unsafe"
)

// lnGrain is how many rows one parallel range of the LayerNorm kernels covers.
const lnGrain = 32

// LayerNormForward normalises each of the N rows of inp (N, C) to zero mean and unit
// variance (biased variance, eps inside the square root, as torch.nn.LayerNorm), then
// scales by weight (C) and shifts by bias (C) into out (N, C). It stores each row's mean
// and 1/sqrt(var+eps) in mean (N) and rstd (N) for LayerNormBackward. Row statistics
// are accumulated in float64, in order; rows run in parallel. Every path gives the same
// bits (see layerNormForward).
func LayerNormForward(out, mean, rstd, inp, weight, bias []float32, N, C int, eps float32) {
	if len(out) < N*C || len(inp) < N*C || len(mean) < N || len(rstd) < N || len(weight) < C || len(bias) < C {
		panic("kernels: LayerNormForward: buffer too short for its shape")
	}
	p := CurrentPath()
	parallelFor(N, lnGrain, func(lo, hi int) {
		layerNormForward(p, out[lo*C:hi*C], mean[lo:hi], rstd[lo:hi], inp[lo*C:hi*C], weight[:C], bias[:C], hi-lo, C, eps)
	})
}

// layerNormForward is LayerNormForward over N rows on path p. Each row's two sums (of
// x, then of (x − mean)²) run in float64 in order, one add after the other, on every
// path; four rows' sums interleave, so that the core overlaps their chains of adds
// instead of waiting out each add's latency. The output pass, element-wise, runs on the
// path's vector kernel (layernorm_amd64.s), with the same float64 and float32
// operations: every path gives the same bits.
func layerNormForward(p Path, out, mean, rstd, inp, weight, bias []float32, N, C int, eps float32) {
	notePath("LayerNormForward", p)
	var mu, sq [4]float64 // each row's mean and Σ (x − mean)²
	for i := 0; i < N; i += 4 {
		rows := min(4, N-i)
		if rows == 4 {
			x0, x1, x2, x3 := inp[i*C:][:C], inp[(i+1)*C:][:C], inp[(i+2)*C:][:C], inp[(i+3)*C:][:C]
			var s0, s1, s2, s3 float64
			for j := range x0 {
				s0 += float64(x0[j])
				s1 += float64(x1[j])
				s2 += float64(x2[j])
				s3 += float64(x3[j])
			}
			m0, m1, m2, m3 := s0/float64(C), s1/float64(C), s2/float64(C), s3/float64(C)
			var q0, q1, q2, q3 float64
			for j := range x0 {
				d0, d1, d2, d3 := float64(x0[j])-m0, float64(x1[j])-m1, float64(x2[j])-m2, float64(x3[j])-m3
				q0 += float64(d0 * d0)
				q1 += float64(d1 * d1)
				q2 += float64(d2 * d2)
				q3 += float64(d3 * d3)
			}
			mu, sq = [4]float64{m0, m1, m2, m3}, [4]float64{q0, q1, q2, q3}
		} else {
			for r := range rows {
				x := inp[(i+r)*C:][:C]
				var s float64
				for _, v := range x {
					s += float64(v)
				}
				m := s / float64(C)
				var q float64
				for _, v := range x {
					d := float64(v) - m
					q += float64(d * d)
				}
				mu[r], sq[r] = m, q
			}
		}
		for r := range rows {
			m := mu[r]
			rs := 1 / math.Sqrt(sq[r]/float64(C)+float64(eps))
			mean[i+r], rstd[i+r] = float32(m), float32(rs)
			lnOut(p, out[(i+r)*C:][:C], inp[(i+r)*C:][:C], weight, bias, m, rs)
		}
	}
}

// lnOut sets o[j] = float32(float32((x[j] − m)·rs)·w[j]) + b[j] (the difference and
// product in float64) on path p; x, w and b are as long as o.
func lnOut(p Path, o, x, w, b []float32, m, rs float64) {
	n := len(o)
	x, w, b = x[:n], w[:n], b[:n]
	j := 0
	switch p {
	case PathAVX512:
		j = n &^ 15
		lnOutAVX512(unsafe.SliceData(o), unsafe.SliceData(x), unsafe.SliceData(w), unsafe.SliceData(b), j, m, rs)
	case PathAVX2:
		j = n &^ 7
		lnOutAVX2(unsafe.SliceData(o), unsafe.SliceData(x), unsafe.SliceData(w), unsafe.SliceData(b), j, m, rs)
	}
	for ; j < n; j++ {
		o[j] = float32(float32((float64(x[j])-m)*rs)*w[j]) + b[j]
	}
}

// LayerNormBackward adds the gradients of LayerNormForward to dinp (N, C), dweight (C)
// and dbias (C), given dout (N, C) and the forward's inp, weight, mean and rstd. Any of
// dinp, dweight, dbias may be nil when that gradient is not wanted. Rows run in parallel
// ranges whose weight and bias gradients are summed in range order, so the result does
// not depend on the number of cores.
func LayerNormBackward(dinp, dweight, dbias, dout, inp, weight, mean, rstd []float32, N, C int) {
	if (dinp != nil && len(dinp) < N*C) || (dweight != nil && len(dweight) < C) || (dbias != nil && len(dbias) < C) ||
		len(dout) < N*C || len(inp) < N*C || len(weight) < C || len(mean) < N || len(rstd) < N {
		panic("kernels: LayerNormBackward: buffer too short for its shape")
	}
	p := CurrentPath()
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
		layerNormBackward(p, di, dw, db, dout[lo*C:hi*C], inp[lo*C:hi*C], weight[:C], mean[lo:hi], rstd[lo:hi], hi-lo, C)
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

// layerNormBackward is LayerNormBackward over N rows on path p, adding into dweight and
// dbias (C each) directly. As in layerNormForward, each row's sums run in float64 in
// order, four rows interleaved, and the element-wise pass runs on the path's vector
// kernel with the same operations, row after row: every path gives the same bits.
func layerNormBackward(p Path, dinp, dweight, dbias, dout, inp, weight, mean, rstd []float32, N, C int) {
	notePath("LayerNormBackward", p)
	var a, b [4]float64 // Σ dnorm and Σ dnorm·norm of each row, dnorm = dout ⊙ weight
	for i := 0; i < N; i += 4 {
		rows := min(4, N-i)
		if rows == 4 {
			x0, x1, x2, x3 := inp[i*C:][:C], inp[(i+1)*C:][:C], inp[(i+2)*C:][:C], inp[(i+3)*C:][:C]
			g0, g1, g2, g3 := dout[i*C:][:C], dout[(i+1)*C:][:C], dout[(i+2)*C:][:C], dout[(i+3)*C:][:C]
			m0, m1, m2, m3 := mean[i], mean[i+1], mean[i+2], mean[i+3]
			r0, r1, r2, r3 := rstd[i], rstd[i+1], rstd[i+2], rstd[i+3]
			var a0, a1, a2, a3, b0, b1, b2, b3 float64
			for j := range x0 {
				w := weight[j]
				n0, n1, n2, n3 := (x0[j]-m0)*r0, (x1[j]-m1)*r1, (x2[j]-m2)*r2, (x3[j]-m3)*r3
				d0, d1, d2, d3 := float64(g0[j]*w), float64(g1[j]*w), float64(g2[j]*w), float64(g3[j]*w)
				a0 += d0
				a1 += d1
				a2 += d2
				a3 += d3
				b0 += float64(d0 * float64(n0))
				b1 += float64(d1 * float64(n1))
				b2 += float64(d2 * float64(n2))
				b3 += float64(d3 * float64(n3))
			}
			a, b = [4]float64{a0, a1, a2, a3}, [4]float64{b0, b1, b2, b3}
		} else {
			for r := range rows {
				x, g := inp[(i+r)*C:][:C], dout[(i+r)*C:][:C]
				m, rs := mean[i+r], rstd[i+r]
				var s, q float64
				for j := range x {
					norm := (x[j] - m) * rs
					dn := float64(g[j] * weight[j])
					s += dn
					q += float64(dn * float64(norm))
				}
				a[r], b[r] = s, q
			}
		}
		for r := range rows {
			var di []float32
			if dinp != nil {
				di = dinp[(i+r)*C:][:C]
			}
			lnBackward(p, di, dweight, dbias, dout[(i+r)*C:][:C], inp[(i+r)*C:][:C], weight, mean[i+r], rstd[i+r], a[r]/float64(C), b[r]/float64(C))
		}
	}
}

// lnBackward is the element-wise pass of one row's LayerNorm backward on path p, with
// norm = (x[j] − m)·rs and dn = g[j]·w[j] (float32):
//
//	dbias[j]   += g[j]
//	dweight[j] += norm·g[j]
//	dinp[j]    += float32((dn − dm − norm·dnm)·rs)   (in float64)
//
// each of dinp, dweight, dbias skipped when nil; the others are as long as g.
func lnBackward(p Path, dinp, dweight, dbias, g, x, w []float32, m, rs float32, dm, dnm float64) {
	n := len(g)
	x, w = x[:n], w[:n]
	if dinp != nil {
		dinp = dinp[:n]
	}
	if dweight != nil {
		dweight = dweight[:n]
	}
	if dbias != nil {
		dbias = dbias[:n]
	}
	j := 0
	switch p {
	case PathAVX512:
		j = n &^ 15
		lnBwdAVX512(unsafe.SliceData(dinp), unsafe.SliceData(dweight), unsafe.SliceData(dbias), unsafe.SliceData(g), unsafe.SliceData(x), unsafe.SliceData(w), j, m, rs, dm, dnm)
	case PathAVX2:
		j = n &^ 7
		lnBwdAVX2(unsafe.SliceData(dinp), unsafe.SliceData(dweight), unsafe.SliceData(dbias), unsafe.SliceData(g), unsafe.SliceData(x), unsafe.SliceData(w), j, m, rs, dm, dnm)
	}
	for ; j < n; j++ {
		norm := (x[j] - m) * rs
		if dbias != nil {
			dbias[j] += g[j]
		}
		if dweight != nil {
			dweight[j] += float32(norm * g[j])
		}
		if dinp != nil {
			dn := float64(g[j] * w[j])
			dinp[j] += float32((dn - dm - float64(float64(norm)*dnm)) * float64(rs))
		}
	}
}
