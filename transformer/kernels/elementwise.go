package kernels

// addGrain is how many elements one parallel range of Add and AddBias covers at the
// least: a residual add or a bias of GPT-2 small's step (512 rows of 768 to 3072) is
// worth 12 to 48 ranges, a decode step's row runs on its caller alone.
const addGrain = 1 << 15

// Add writes a + b into out; all three have N elements. Large adds are split over the
// cores (each element is the one addition, whatever the split).
func Add(out, a, b []float32, N int) {
	a, b, out = a[:N], b[:N], out[:N]
	if N <= addGrain { // one range: no closure to allocate
		add(out, a, b)
		return
	}
	parallelFor(N, addGrain, func(lo, hi int) { add(out[lo:hi], a[lo:hi], b[lo:hi]) })
}

// add writes a + b into out, all of len(out).
func add(out, a, b []float32) {
	a, b = a[:len(out)], b[:len(out)]
	for i := range out {
		out[i] = a[i] + b[i]
	}
}

// AddTo adds src into dst element-wise (dst += src); both have N elements.
func AddTo(dst, src []float32, N int) {
	dst, src = dst[:N], src[:N]
	for i := range dst {
		dst[i] += src[i]
	}
}

// AddBias adds bias (C) to every row of out (N, C). Many rows are split over the cores,
// whole rows to a range (each element is the one addition, whatever the split).
func AddBias(out, bias []float32, N, C int) {
	out, bias = out[:N*C], bias[:C]
	grain := max(1, addGrain/max(C, 1))
	if N <= grain { // one range: no closure to allocate
		for i := range N {
			AddTo(out[i*C:(i+1)*C], bias, C)
		}
		return
	}
	parallelFor(N, grain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			AddTo(out[i*C:(i+1)*C], bias, C)
		}
	})
}

// BiasBackward adds the column sums of dout (N, C) into dbias (C).
func BiasBackward(dbias, dout []float32, N, C int) {
	for i := 0; i < N; i++ {
		AddTo(dbias, dout[i*C:(i+1)*C], C)
	}
}

// EmbeddingForward writes wte[ids[i]] + wpe[pos[i]] into row i of out (N, C), with
// wte (V, C) and wpe (P, C). Callers check that ids and pos are in range.
func EmbeddingForward(out []float32, ids, pos []int, wte, wpe []float32, N, C int) {
	for i := 0; i < N; i++ {
		Add(out[i*C:(i+1)*C], wte[ids[i]*C:(ids[i]+1)*C], wpe[pos[i]*C:(pos[i]+1)*C], C)
	}
}

// EmbeddingBackward scatters the rows of dout (N, C) into dwte (V, C) at ids and into
// dwpe (P, C) at pos, adding. Either of dwte, dwpe may be nil.
func EmbeddingBackward(dwte, dwpe, dout []float32, ids, pos []int, N, C int) {
	for i := 0; i < N; i++ {
		g := dout[i*C : (i+1)*C]
		if dwte != nil {
			AddTo(dwte[ids[i]*C:(ids[i]+1)*C], g, C)
		}
		if dwpe != nil {
			AddTo(dwpe[pos[i]*C:(pos[i]+1)*C], g, C)
		}
	}
}
