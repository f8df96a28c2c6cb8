package kernels

// Row primitives of the softmax: AVX2 over the first len&^7 elements where available,
// scalar Go for the rest (and everywhere with SetPureGo).

// rowMax returns the largest element of a non-empty x.
func rowMax(x []float32) float32 { return rowMaxOn(useAsm(), x) }

// rowMaxOn is rowMax, with the AVX2 loop when asm is set.
func rowMaxOn(asm bool, x []float32) float32 {
	m, i := x[0], 0
	if asm && len(x) >= 8 {
		m, i = maxAVX2(x), len(x)&^7
	}
	for _, v := range x[i:] {
		m = max(m, v)
	}
	return m
}

// expSubSum sets x[i] = e^(x[i]−m) (expf) and returns the sum. The AVX2 path sums
// blocks of 1024 in float32 lanes and the blocks in float64, which bounds the rounding
// error of the sum near 1e-5 relative at worst whatever len(x) is; the AVX-512 path
// computes 16 exponentials at a time and gives the AVX2 path's bits.
func expSubSum(x []float32, m float32) float64 {
	var sum float64
	i := 0
	if p := CurrentPath(); p != PathGo {
		n := len(x) &^ 7
		for ; i < n; i += 1024 {
			if p == PathAVX512 {
				sum += float64(expSubSumAVX512(x[i:min(i+1024, n)], m))
			} else {
				sum += float64(expSubSumAVX2(x[i:min(i+1024, n)], m))
			}
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
func scale(x []float32, s float32) { scaleOn(useAsm(), x, s) }

// scaleOn is scale, with the AVX2 loop when asm is set. Either way each element is one
// float32 product: the bits do not depend on asm.
func scaleOn(asm bool, x []float32, s float32) {
	i := 0
	if asm {
		i = len(x) &^ 7
		scaleAVX2(x[:i], s)
	}
	for j := i; j < len(x); j++ {
		x[j] *= s
	}
}

// expSubVec sets x[i] = expf(x[i] − m) for every i on vector path p (PathAVX2 or
// PathAVX512), with expf's bits: the vector exponential of vexpf_amd64.s over whole
// vectors, and the last partial vector through a buffer on the stack.
func expSubVec(p Path, x []float32, m float32) {
	w := 8
	if p == PathAVX512 {
		w = 16
	}
	n := len(x) &^ (w - 1)
	var buf [16]float32
	tail := n < len(x)
	if tail {
		copy(buf[:], x[n:])
	}
	// Direct calls, not through a func value: buf must not escape to the heap.
	if p == PathAVX512 {
		expSubAVX512(x[:n], m)
		if tail {
			expSubAVX512(buf[:], m)
		}
	} else {
		expSubAVX2(x[:n], m)
		if tail {
			expSubAVX2(buf[:8], m)
		}
	}
	if tail {
		copy(x[n:], buf[:])
	}
}
