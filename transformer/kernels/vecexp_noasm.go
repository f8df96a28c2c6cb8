//go:build !amd64 || purego

package kernels

func expSubSumAVX2(x []float32, m float32) float32   { panic("kernels: no AVX2") }
func maxAVX2(x []float32) float32                    { panic("kernels: no AVX2") }
func scaleAVX2(x []float32, s float32)               { panic("kernels: no AVX2") }
func expSubSumAVX512(x []float32, m float32) float32 { panic("kernels: no AVX-512") }
