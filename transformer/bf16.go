package transformer

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/mat/float"
	"github.com/nlpodyssey/spago/nn"

	"github.com/llmtune/llmtune/transformer/kernels"
	"github.com/llmtune/llmtune/transformer/safetensors"
)

// WeightDType is how a model stores its weight matrices: those of its projections
// (every Conv1D and Dense: attention, MLP), the token embedding and an untied LM head;
// not GPT-2's position embedding, the norms or the biases, which stay float32.
type WeightDType string

const (
	// WeightF32 stores them in float32, trainable: the default.
	WeightF32 WeightDType = "f32"
	// WeightBF16 stores them frozen, in bfloat16 (each value rounded to nearest even, as
	// torch's .to(torch.bfloat16)), for a LoRA base or for inference: half the memory
	// and half the bytes a decode step reads. The math stays float32: a weight is
	// widened (exactly) to float32 as a product reads it, so a model in WeightBF16
	// computes what the float32 model whose weight matrices were rounded to bfloat16
	// computes, bit for bit.
	WeightBF16 WeightDType = "bf16"
)

// UnmarshalText accepts "f32" (or "float32"), "bf16" (or "bfloat16"); "" is f32.
func (d *WeightDType) UnmarshalText(b []byte) error {
	switch string(b) {
	case "", "f32", "float32":
		*d = WeightF32
	case "bf16", "bfloat16":
		*d = WeightBF16
	default:
		return fmt.Errorf("%q: want f32 or bf16", b)
	}
	return nil
}

// MarshalText returns the name UnmarshalText reads back ("" stays "", the default).
func (d WeightDType) MarshalText() ([]byte, error) { return []byte(d), nil }

// String returns "f32" or "bf16".
func (d WeightDType) String() string {
	if d == "" {
		return string(WeightF32)
	}
	return string(d)
}

// bf16Weight is the value of a frozen projection weight stored in bfloat16: a parameter
// whose Matrix it is never requires a gradient. It implements the part of mat.Matrix
// that spago's graph and parameter walks use (shape, value, gradient state); anything
// else, Data included, panics: code that reads weights goes through conv1DWith,
// denseWith and sgemmWeight (which widen it in registers or panel by panel as they
// read it) or WeightValues (a widened copy).
type bf16Weight struct {
	mat.Matrix // nil: the methods not defined below panic
	rows, cols int
	data       []uint16
}

func (w *bf16Weight) Shape() []int       { return []int{w.rows, w.cols} }
func (w *bf16Weight) Dims() int          { return 2 }
func (w *bf16Weight) Size() int          { return w.rows * w.cols }
func (w *bf16Weight) Value() mat.Tensor  { return w }
func (w *bf16Weight) Grad() mat.Tensor   { return nil }
func (w *bf16Weight) HasGrad() bool      { return false }
func (w *bf16Weight) RequiresGrad() bool { return false }
func (w *bf16Weight) ZeroGrad()          {}
func (w *bf16Weight) AccGrad(mat.Tensor) {
	panic("transformer: a bfloat16 weight is frozen: it takes no gradient")
}
func (w *bf16Weight) Data() float.Slice {
	panic("transformer: a bfloat16 weight has no float32 data: use WeightValues")
}
func (w *bf16Weight) SetRequiresGrad(v bool) { mustFrozen(v) }

func mustFrozen(trainable bool) {
	if trainable {
		panic("transformer: a bfloat16 weight is frozen: it cannot be made trainable (load the model in f32 to train it)")
	}
}

// newBF16Weight returns a frozen (rows, cols) bfloat16 weight holding the values of f
// rounded to nearest even.
func newBF16Weight(f []float32, rows, cols int) *bf16Weight {
	w := zeroBF16Weight(rows, cols)
	roundBF16(w.data, f)
	return w
}

// zeroBF16Weight returns a frozen (rows, cols) bfloat16 weight of zeros, its data off the
// Go heap where the OS allows (offHeapUint16).
func zeroBF16Weight(rows, cols int) *bf16Weight {
	w := &bf16Weight{rows: rows, cols: cols}
	w.data = offHeapUint16(w, rows*cols)
	return w
}

func roundBF16(dst []uint16, src []float32) {
	for i, v := range src[:len(dst)] {
		dst[i] = safetensors.Float32ToBFloat16(v)
	}
}

// widenBF16 widens src[:len(dst)] into dst, exactly.
func widenBF16(dst []float32, src []uint16) { kernels.WidenBF16(dst, src[:len(dst)]) }

// IsBF16 reports whether p's value is stored in bfloat16 (a frozen projection weight of
// a model loaded or made with WeightBF16).
func IsBF16(p mat.Tensor) bool {
	_, ok := p.Value().(*bf16Weight)
	return ok
}

// WeightValues returns p's values in float32: its own memory for a float32 parameter, a
// widened copy for a bfloat16 one.
func WeightValues(p mat.Tensor) []float32 {
	if w, ok := p.Value().(*bf16Weight); ok {
		f := make([]float32, w.Size())
		widenBF16(f, w.data)
		runtime.KeepAlive(w)
		return f
	}
	return Floats(p)
}

// SetF32 stores p in float32 if it is in bfloat16, still frozen; the values are the
// same (widening is exact). Merging an adapter into its base widens the base first.
func SetF32(p *nn.Param) {
	w, ok := p.Value().(*bf16Weight)
	if !ok {
		return
	}
	p.Matrix = fromData(WeightValues(w), w.rows, w.cols)
	p.SetRequiresGrad(false)
}

// setBF16 stores p, a float32 parameter, frozen in bfloat16.
func setBF16(p *nn.Param) {
	if IsBF16(p) {
		return
	}
	s := p.Shape()
	p.Matrix = newBF16Weight(Floats(p), s[0], s[1])
}

// fill sets p's values to those fill writes into a float32 buffer of p's size: p's own
// memory, or for a bfloat16 p a scratch buffer rounded into it afterwards.
func fill(p *nn.Param, fill func([]float32) error) error {
	w, ok := p.Value().(*bf16Weight)
	if !ok {
		return fill(Floats(p))
	}
	return withScratch(w.Size(), func(f []float32) error {
		if err := fill(f); err != nil {
			return err
		}
		roundBF16(w.data, f)
		runtime.KeepAlive(w)
		return nil
	})
}

// widened holds float32 buffers, reused across calls: loading a bfloat16 weight reads
// each tensor into one before rounding it (fill).
var widened sync.Pool

// largeScratch is the size (in float32s) from which withScratch maps a buffer of its own
// outside the Go heap and unmaps it on return, rather than keep it: a pooled buffer of a
// large tensor (Llama-3.2-1B's embedding: 1 GB) would stay alive through the training
// steps that follow the load, on top of their memory.
const largeScratch = 1 << 20

// withScratch calls f with a float32 buffer of n elements (of any content), which f
// must not keep.
func withScratch(n int, f func([]float32) error) error {
	if n >= largeScratch {
		buf, release := offHeapFloat32(n)
		defer release()
		return f(buf)
	}
	var buf []float32
	if p, ok := widened.Get().(*[]float32); ok && cap(*p) >= n {
		buf = (*p)[:n]
	} else {
		buf = make([]float32, n)
	}
	err := f(buf)
	widened.Put(&buf)
	return err
}

// conv1DWith is conv1DForward with the weight w (in, out) as its tensor, float32 or
// bfloat16, which it reads without widening it whole: one row (a decode step) on a
// bfloat16 weight goes through kernels.VecMatBF16 (half the bytes; the bits VecMat gives
// on the widened weight), more rows through sgemmWeight (kernels.SgemmBF16B).
func conv1DWith(y, x []float32, w mat.Tensor, b []float32, N, in, out int) {
	h, ok := w.Value().(*bf16Weight)
	switch {
	case !ok:
		conv1DForward(y, x, Floats(w), b, N, in, out)
	case N == 1:
		kernels.VecMatBF16(y, x, h.data, b, in, out)
		runtime.KeepAlive(h)
	default:
		sgemmWeight(false, N, out, in, x, in, w, out, y, out)
		if b != nil {
			kernels.AddBias(y, b, N, out)
		}
	}
}

// denseWith is denseForward with the weight w (out, in) as its tensor, float32 or
// bfloat16, read without widening it whole: one row on a bfloat16 weight through
// kernels.MatVecBF16 (the bits of MatVec on the widened weight), more through
// sgemmWeight.
func denseWith(y, x []float32, w mat.Tensor, b []float32, N, in, out int) {
	h, ok := w.Value().(*bf16Weight)
	switch {
	case !ok:
		denseForward(y, x, Floats(w), b, N, in, out)
		return
	case N == 1:
		kernels.MatVecBF16(y, h.data, x, out, in)
		runtime.KeepAlive(h)
	default:
		sgemmWeight(true, N, out, in, x, in, w, in, y, out)
	}
	if b != nil {
		kernels.AddBias(y, b, N, out)
	}
}

// embedRows sets row i of x (N, C) to row ids[i] of the embedding w (V, C), float32 or
// bfloat16 (widened exactly, one row at a time).
func embedRows(x []float32, w mat.Tensor, ids []int, C int) {
	if h, ok := w.Value().(*bf16Weight); ok {
		for i, id := range ids {
			kernels.WidenBF16(x[i*C:(i+1)*C], h.data[id*C:(id+1)*C])
		}
		runtime.KeepAlive(h)
		return
	}
	wd := Floats(w)
	for i, id := range ids {
		copy(x[i*C:(i+1)*C], wd[id*C:(id+1)*C])
	}
}

// lmHeadVec sets logits (V) = w (V, C) · h (C) for one hidden state: kernels.MatVec, or
// for a bfloat16 w kernels.MatVecBF16 (the same bits on the widened w).
func lmHeadVec(logits []float32, w mat.Tensor, h []float32, V, C int) {
	if b, ok := w.Value().(*bf16Weight); ok {
		kernels.MatVecBF16(logits, b.data, h, V, C)
		runtime.KeepAlive(b)
		return
	}
	kernels.MatVec(logits, Floats(w), h, V, C)
}

// lmHeadCrossEntropy is kernels.LMHeadCrossEntropy with the LM head w (V, C) as its
// tensor: for a bfloat16 w, kernels.LMHeadCrossEntropyBF16 (w frozen: dw must be nil).
func lmHeadCrossEntropy(losses, dh, dw, h []float32, w mat.Tensor, targets []int, gradScale float32, N, C, V int) {
	if b, ok := w.Value().(*bf16Weight); ok {
		kernels.LMHeadCrossEntropyBF16(losses, dh, h, b.data, targets, IgnoreIndex, gradScale, N, C, V)
		runtime.KeepAlive(b)
		return
	}
	kernels.LMHeadCrossEntropy(losses, dh, dw, h, Floats(w), targets, IgnoreIndex, gradScale, N, C, V)
}

// dtypeWeights returns the parameters WeightDType is about: the weight of every plain
// projection of m (under any LoRA wrapper), the token embedding and an untied LM head.
// GPT-2's position embedding, the norms and the biases stay float32.
func (m *Model) dtypeWeights() []*nn.Param {
	ps := []*nn.Param{m.WTE}
	if m.LMHead != nil {
		ps = append(ps, m.LMHead)
	}
	for _, p := range m.Projections() {
		switch b := Base(m.Linear(p)).(type) {
		case *Conv1D:
			ps = append(ps, b.Weight)
		case *Dense:
			ps = append(ps, b.Weight)
		}
	}
	return ps
}

// zeroAs stores the weights of dtypeWeights, a model just made by newZero, in dt: with
// WeightBF16 as zero bfloat16 weights, without reading the float32 zeros (untouched
// memory, which the process never holds).
func (m *Model) zeroAs(dt WeightDType) {
	if dt != WeightBF16 {
		return
	}
	for _, p := range m.dtypeWeights() {
		s := p.Shape()
		p.Matrix = zeroBF16Weight(s[0], s[1])
	}
}

// SetWeightDType stores m's dtypeWeights in dt: WeightBF16 rounds them and
// freezes them, WeightF32 widens any that are in bfloat16 back (exactly), still frozen
// (SetTrainable thaws them).
func (m *Model) SetWeightDType(dt WeightDType) {
	for _, p := range m.dtypeWeights() {
		if dt == WeightBF16 {
			setBF16(p)
		} else {
			SetF32(p)
		}
	}
}

// WeightDType returns WeightBF16 if any of m's dtypeWeights is stored in bfloat16,
// else WeightF32.
func (m *Model) WeightDType() WeightDType {
	for _, p := range m.dtypeWeights() {
		if IsBF16(p) {
			return WeightBF16
		}
	}
	return WeightF32
}

// sgemmWeight sets c (M×N, row stride ldc) = a (M×K, lda) · op(w), op(w) being wᵀ when
// transB, for w a projection weight with row stride ldb: kernels.Sgemm on its float32
// values, and for a bfloat16 weight kernels.SgemmBF16B, which widens it panel by panel
// as it packs them, with the same bits, so no float32 copy of the weight is made.
func sgemmWeight(transB bool, M, N, K int, a []float32, lda int, w mat.Tensor, ldb int, c []float32, ldc int) {
	if b, ok := w.Value().(*bf16Weight); ok {
		kernels.SgemmBF16B(false, transB, M, N, K, 1, a, lda, b.data, ldb, 0, c, ldc)
		runtime.KeepAlive(b) // b.data may be off the heap, released with b
		return
	}
	kernels.Sgemm(false, transB, M, N, K, 1, a, lda, Floats(w), ldb, 0, c, ldc)
}
