//go:build amd64 && !purego

package kernels

// The vector element-wise kernels of vexpf_amd64.s (GELU, SwiGLU, the softmax's
// exponentials), rmsnorm_amd64.s (RMSNorm's rows) and layernorm_amd64.s (LayerNorm's
// element-wise passes). Each AVX2 function handles the first n&^7 (or len&^7) elements
// and each AVX-512 one the first n&^15, except the RMSNorm ones, which all handle n&^15;
// the callers do the rest in Go. Pointers may be nil where no element is handled, and
// the nil-able gradients of swigluBwd* and lnBwd* where that gradient is skipped.

//go:noescape
func expSubAVX2(x []float32, m float32)

//go:noescape
func expSubAVX512(x []float32, m float32)

//go:noescape
func swigluFwdAVX2(out, gate, up *float32, n int)

//go:noescape
func swigluFwdAVX512(out, gate, up *float32, n int)

//go:noescape
func swigluBwdAVX2(dgate, dup, dout, gate, up *float32, n int)

//go:noescape
func swigluBwdAVX512(dgate, dup, dout, gate, up *float32, n int)

//go:noescape
func sumSq16AVX2(x *float32, n int, acc *[16]float64)

//go:noescape
func sumSq16AVX512(x *float32, n int, acc *[16]float64)

//go:noescape
func dot16AVX2(d, w, x *float32, n int, rs float32, acc *[16]float64)

//go:noescape
func dot16AVX512(d, w, x *float32, n int, rs float32, acc *[16]float64)

//go:noescape
func rmsScaleAVX2(out, x, w *float32, n int, rs float64)

//go:noescape
func rmsScaleAVX512(out, x, w *float32, n int, rs float64)

//go:noescape
func rmsDweightAVX2(dweight, d, x *float32, n int, rs float32)

//go:noescape
func rmsDweightAVX512(dweight, d, x *float32, n int, rs float32)

//go:noescape
func rmsDinpAVX2(dinp, d, w, x *float32, n int, rs float32, mean float64)

//go:noescape
func rmsDinpAVX512(dinp, d, w, x *float32, n int, rs float32, mean float64)

//go:noescape
func geluFwdAVX2(out, inp *float32, n int)

//go:noescape
func geluFwdAVX512(out, inp *float32, n int)

//go:noescape
func geluBwdAVX2(dinp, inp, dout *float32, n int)

//go:noescape
func geluBwdAVX512(dinp, inp, dout *float32, n int)

//go:noescape
func lnOutAVX2(o, x, w, b *float32, n int, m, rs float64)

//go:noescape
func lnOutAVX512(o, x, w, b *float32, n int, m, rs float64)

//go:noescape
func lnBwdAVX2(dinp, dweight, dbias, dout, x, w *float32, n int, m, rs float32, dm, dnm float64)

//go:noescape
func lnBwdAVX512(dinp, dweight, dbias, dout, x, w *float32, n int, m, rs float32, dm, dnm float64)
