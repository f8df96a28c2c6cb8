//go:build amd64 && !purego

package kernels

// expSubSumAVX2 sets x[i] = e^(x[i]−m) for i < len(x)&^7 and returns their sum; see
// vecexp_amd64.s.
//
//go:noescape
func expSubSumAVX2(x []float32, m float32) float32

// expSubSumAVX512 is expSubSumAVX2 with AVX-512F, 16 elements a step: the same bits in
// x and the same sum.
//
//go:noescape
func expSubSumAVX512(x []float32, m float32) float32

// maxAVX2 returns the largest of x[:len(x)&^7] (len(x) ≥ 8).
//
//go:noescape
func maxAVX2(x []float32) float32

// scaleAVX2 multiplies x[:len(x)&^7] by s.
//
//go:noescape
func scaleAVX2(x []float32, s float32)
