package kernels

// Add writes a + b into out; all three have N elements.
func Add(out, a, b []float32, N int) {
	a, b, out = a[:N], b[:N], out[:N]
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

// AddBias adds bias (C) to every row of out (N, C).
func AddBias(out, bias []float32, N, C int) {
	for i := 0; i < N; i++ {
		AddTo(out[i*C:(i+1)*C], bias, C)
	}
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
