//go:build !purego

package kernels

//go:noescape
func fmaLoopAVX512(iters int)

//go:noescape
func fmaLoopAVX2(iters int)

//go:noescape
func mulChain(iters int)

// fmaLoop runs iters iterations of the path's FMA loop and returns the float32 operations
// it did (2 per lane per FMA), or 0 where the path has no loop (pure Go).
func fmaLoop(p Path, iters int) float64 {
	switch p {
	case PathAVX512:
		fmaLoopAVX512(iters)
		return float64(iters) * 24 * 16 * 2
	case PathAVX2:
		fmaLoopAVX2(iters)
		return float64(iters) * 12 * 8 * 2
	}
	return 0
}

// clockLoop runs iters iterations of 8 dependent multiplies (24 cycles) and returns the
// cycles, or 0 where there is no such loop.
func clockLoop(iters int) float64 {
	mulChain(iters)
	return float64(iters) * 8 * 3
}
