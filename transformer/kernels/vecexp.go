package kernels

// Row primitives of the softmax: AVX2 over the first len&^7 elements where available,
// scalar Go for the rest (and everywhere with SetPureGo).

// rowMax returns the largest element of a non-empty x.
func rowMax(x []float32) float32 {
	m, i := x[0], 0
	if useAsm() && len(x) >= 8 {
		m, i = maxAVX2(x), len(x)&^7
	}
	for _, v := range x[i:] {
		m = max(m, v)
	}
	return m
}

// expSubSum sets x[i] = e^(x[i]−m) (expf) and returns the sum. The AVX2 path sums
// blocks of 1024 in float32 lanes and the blocks in float64, which bounds the rounding
// error of the sum near 1e-5 relative at worst whatever len(x) is.
func expSubSum(x []float32, m float32) float64 {
	var sum float64
	i := 0
	if useAsm() {
		n := len(x) &^ 7
		for ; i < n; i += 1024 {
			sum += float64(expSubSumAVX2(x[i:min(i+1024, n)], m))
		}
		i = n
	}
	for j := i; j < len(x); j++ {
		e := expf(x[j] - m)
		x[j] = e
		sum += float64(e)
	}
	return sum
}

// scale multiplies x by s.
func scale(x []float32, s float32) {
	i := 0
	if useAsm() {
		i = len(x) &^ 7
		scaleAVX2(x[:i], s)
	}
	for j := i; j < len(x); j++ {
		x[j] *= s
	}
}
