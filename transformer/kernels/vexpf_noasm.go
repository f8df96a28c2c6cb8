//go:build !amd64 || purego

package kernels

// Stubs of the vector element-wise kernels: this build has no assembly, Paths() is
// PathGo alone, and nothing calls them.

func expSubAVX2(x []float32, m float32)                               { panic("kernels: no AVX2") }
func expSubAVX512(x []float32, m float32)                             { panic("kernels: no AVX-512") }
func swigluFwdAVX2(out, gate, up *float32, n int)                     { panic("kernels: no AVX2") }
func swigluFwdAVX512(out, gate, up *float32, n int)                   { panic("kernels: no AVX-512") }
func swigluBwdAVX2(dgate, dup, dout, gate, up *float32, n int)        { panic("kernels: no AVX2") }
func swigluBwdAVX512(dgate, dup, dout, gate, up *float32, n int)      { panic("kernels: no AVX-512") }
func sumSq16AVX2(x *float32, n int, acc *[16]float64)                 { panic("kernels: no AVX2") }
func sumSq16AVX512(x *float32, n int, acc *[16]float64)               { panic("kernels: no AVX-512") }
func dot16AVX2(d, w, x *float32, n int, rs float32, acc *[16]float64) { panic("kernels: no AVX2") }
func dot16AVX512(d, w, x *float32, n int, rs float32, acc *[16]float64) {
	panic("kernels: no AVX-512")
}
func rmsScaleAVX2(out, x, w *float32, n int, rs float64)         { panic("kernels: no AVX2") }
func rmsScaleAVX512(out, x, w *float32, n int, rs float64)       { panic("kernels: no AVX-512") }
func rmsDweightAVX2(dweight, d, x *float32, n int, rs float32)   { panic("kernels: no AVX2") }
func rmsDweightAVX512(dweight, d, x *float32, n int, rs float32) { panic("kernels: no AVX-512") }
func rmsDinpAVX2(dinp, d, w, x *float32, n int, rs float32, mean float64) {
	panic("kernels: no AVX2")
}
func rmsDinpAVX512(dinp, d, w, x *float32, n int, rs float32, mean float64) {
	panic("kernels: no AVX-512")
}
func geluFwdAVX2(out, inp *float32, n int)                  { panic("kernels: no AVX2") }
func geluFwdAVX512(out, inp *float32, n int)                { panic("kernels: no AVX-512") }
func geluBwdAVX2(dinp, inp, dout *float32, n int)           { panic("kernels: no AVX2") }
func geluBwdAVX512(dinp, inp, dout *float32, n int)         { panic("kernels: no AVX-512") }
func lnOutAVX2(o, x, w, b *float32, n int, m, rs float64)   { panic("kernels: no AVX2") }
func lnOutAVX512(o, x, w, b *float32, n int, m, rs float64) { panic("kernels: no AVX-512") }
func lnBwdAVX2(dinp, dweight, dbias, dout, x, w *float32, n int, m, rs float32, dm, dnm float64) {
	panic("kernels: no AVX2")
}
func lnBwdAVX512(dinp, dweight, dbias, dout, x, w *float32, n int, m, rs float32, dm, dnm float64) {
	panic("kernels: no AVX-512")
}
