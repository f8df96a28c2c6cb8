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
	// WeightQ8 stores them frozen in 8-bit blocks, ggml's Q8_0 (see QuantizeQ8Block),
	// byte for byte: about a quarter of float32's bytes (1.0625 bytes a weight); each
	// block of 32 weights along a row of the input dimension shares one float16 scale. A
	// weight whose input dimension is not a multiple of 32 stays float32. Decoding reads
	// the blocks as they are (kernels.MatVecQ8); a product of several rows (a prompt, a
	// training step) widens them as its panels are packed (kernels.SgemmQ8B). The model
	// computes what the float32 model whose weights were replaced by their Q8_0 values
	// computes: bit for bit for products of several rows, within float32 rounding for
	// one row (MatVecQ8 sums in its own order).
	WeightQ8 WeightDType = "q8_0"
	// WeightBF16AMX stores them as WeightBF16 does, and runs their products of several
	// rows (a prompt, a training step, the LM head's) on Intel AMX tiles in mixed
	// precision, as torch.autocast does on such a CPU: the activations (or gradients)
	// that multiply a weight are rounded to bfloat16 too, and the products are summed in
	// float32 (kernels.SgemmAMX). Each weight is packed for the tiles on its first such
	// product, once per orientation (two more bytes a weight each: a training step uses
	// both). One-row products (decoding), the rest of the model and the adapter stay in
	// float32. It needs a CPU with AMX-BF16 (Intel Xeon since Sapphire Rapids) and Linux
	// (CheckSupported).
	WeightBF16AMX WeightDType = "bf16_amx"
)

// CheckSupported returns an error if this machine cannot run d: WeightBF16AMX without
// AMX bfloat16 tiles.
func (d WeightDType) CheckSupported() error {
	if d == WeightBF16AMX && !kernels.HaveAMX() {
		return fmt.Errorf("weight type %s needs a CPU with AMX-BF16 tiles (Intel Xeon since Sapphire Rapids) and Linux; this machine has none: use bf16", d)
	}
	return nil
}

// UnmarshalText accepts "f32" (or "float32"), "bf16" (or "bfloat16"), "q8_0" (or
// "q8"), "bf16_amx"; "" is f32.
func (d *WeightDType) UnmarshalText(b []byte) error {
	switch string(b) {
	case "", "f32", "float32":
		*d = WeightF32
	case "bf16", "bfloat16":
		*d = WeightBF16
	case "q8_0", "q8":
		*d = WeightQ8
	case "bf16_amx":
		*d = WeightBF16AMX
	default:
		return fmt.Errorf("%q: want f32, bf16, q8_0 or bf16_amx", b)
	}
	return nil
}

// MarshalText returns the name UnmarshalText reads back ("" stays "", the default).
func (d WeightDType) MarshalText() ([]byte, error) { return []byte(d), nil }

// String returns "f32", "bf16", "q8_0" or "bf16_amx".
func (d WeightDType) String() string {
	if d == "" {
		return string(WeightF32)
	}
	return string(d)
}

// frozenWeight is the part common to the values of frozen weights stored in fewer bits
// than float32 (bf16Weight, q8Weight): a parameter whose Matrix one is never requires a
// gradient. It implements the part of mat.Matrix that spago's graph and parameter walks
// use (shape, gradient state); anything else, Data included, panics: code that reads
// weights goes through conv1DWith, denseWith, embedRows, lmHeadVec,
// lmHeadCrossEntropy and sgemmWeight (which widen them in registers, or panel by panel
// or a few rows at a time as they read them) or WeightValues (a widened copy).
type frozenWeight struct {
	mat.Matrix // nil: the methods not defined below panic
	rows, cols int
}

func (w *frozenWeight) Shape() []int       { return []int{w.rows, w.cols} }
func (w *frozenWeight) Dims() int          { return 2 }
func (w *frozenWeight) Size() int          { return w.rows * w.cols }
func (w *frozenWeight) Grad() mat.Tensor   { return nil }
func (w *frozenWeight) HasGrad() bool      { return false }
func (w *frozenWeight) RequiresGrad() bool { return false }
func (w *frozenWeight) ZeroGrad()          {}
func (w *frozenWeight) AccGrad(mat.Tensor) {
	panic("transformer: a bfloat16 or 8-bit weight is frozen: it takes no gradient")
}
func (w *frozenWeight) Data() float.Slice {
	panic("transformer: a bfloat16 or 8-bit weight has no float32 data: use WeightValues")
}
func (w *frozenWeight) SetRequiresGrad(v bool) { mustFrozen(v) }

func mustFrozen(trainable bool) {
	if trainable {
		panic("transformer: a bfloat16 or 8-bit weight is frozen: it cannot be made trainable (load the model in f32 to train it)")
	}
}

// bf16Weight is the value of a frozen weight stored in bfloat16, row-major.
type bf16Weight struct {
	frozenWeight
	data []uint16
	amx  *amxPacks // non-nil with WeightBF16AMX: products of several rows run on AMX tiles
}

// amxPacks holds a WeightBF16AMX weight packed for kernels.SgemmAMXPacked, built on
// first use: [0] the weight as it is (rows × cols), [1] transposed.
type amxPacks struct {
	mu sync.Mutex
	p  [2]*kernels.AMXPanels
}

// amxPanels returns w (transB false) or wᵀ (true) packed for the AMX tiles.
func (w *bf16Weight) amxPanels(transB bool) *kernels.AMXPanels {
	i, K, N := 0, w.rows, w.cols
	if transB {
		i, K, N = 1, w.cols, w.rows
	}
	w.amx.mu.Lock()
	defer w.amx.mu.Unlock()
	if w.amx.p[i] == nil {
		dst := offHeap[uint16](w, kernels.AMXPanelsLen(K, N)) // as w.data: off the GC's pacing
		w.amx.p[i] = kernels.PackAMXBF16Into(dst, transB, K, N, w.data, w.cols)
		runtime.KeepAlive(w)
	}
	return w.amx.p[i]
}

// mulAMX is a kernels.MulW on w for the LM head: c = a · op(w) on the AMX tiles.
func (w *bf16Weight) mulAMX(transB bool, M, N, K int, a []float32, lda int, c []float32, ldc int) {
	p := w.amxPanels(transB)
	if p.K != K || p.N != N {
		panic("transformer: an AMX weight is multiplied whole")
	}
	kernels.SgemmAMXPacked(false, M, 1, a, lda, p, 0, c, ldc)
}

func (w *bf16Weight) Value() mat.Tensor { return w }

// newBF16Weight returns a frozen (rows, cols) bfloat16 weight holding the values of f
// rounded to nearest even.
func newBF16Weight(f []float32, rows, cols int) *bf16Weight {
	w := zeroBF16Weight(rows, cols)
	roundBF16(w.data, f)
	return w
}

// zeroBF16Weight returns a frozen (rows, cols) bfloat16 weight of zeros, its data off the
// Go heap where the OS allows (offHeap).
func zeroBF16Weight(rows, cols int) *bf16Weight {
	w := &bf16Weight{frozenWeight: frozenWeight{rows: rows, cols: cols}}
	w.data = offHeap[uint16](w, rows*cols)
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

// IsLowPrecision reports whether p's value is stored in fewer bits than float32: in
// bfloat16 (WeightBF16) or in 8-bit blocks (WeightQ8). Such a weight is frozen.
func IsLowPrecision(p mat.Tensor) bool {
	switch p.Value().(type) {
	case *bf16Weight, *q8Weight:
		return true
	}
	return false
}

// WeightValues returns p's values in float32: its own memory for a float32 parameter, a
// widened copy for a bfloat16 or 8-bit one.
func WeightValues(p mat.Tensor) []float32 {
	switch w := p.Value().(type) {
	case *bf16Weight:
		f := make([]float32, w.Size())
		widenBF16(f, w.data)
		runtime.KeepAlive(w)
		return f
	case *q8Weight:
		return w.values()
	}
	return Floats(p)
}

// SetF32 stores p in float32 if it is in bfloat16 or 8-bit blocks, still frozen, with the
// values it has (widening is exact). Merging an adapter into its base widens the base
// first.
func SetF32(p *nn.Param) {
	if !IsLowPrecision(p) {
		return
	}
	s := p.Shape()
	p.Matrix = fromData(WeightValues(p), s[0], s[1])
	p.SetRequiresGrad(false)
}

// setBF16 stores p frozen in bfloat16: its values (widened first if it is in 8-bit
// blocks) rounded.
func setBF16(p *nn.Param) {
	if IsBF16(p) {
		return
	}
	s := p.Shape()
	p.Matrix = newBF16Weight(WeightValues(p), s[0], s[1])
}

// fill sets p's values to those fill writes into a float32 buffer of p's size: p's own
// memory, or for a bfloat16 or 8-bit p a scratch buffer rounded or quantized into it
// afterwards.
func fill(p *nn.Param, fill func([]float32) error) error {
	switch w := p.Value().(type) {
	case *bf16Weight:
		return withScratch(w.Size(), func(f []float32) error {
			if err := fill(f); err != nil {
				return err
			}
			roundBF16(w.data, f)
			runtime.KeepAlive(w)
			if w.amx != nil {
				w.amx = new(amxPacks) // new values: pack them again
			}
			return nil
		})
	case *q8Weight:
		return withScratch(w.Size(), func(f []float32) error {
			if err := fill(f); err != nil {
				return err
			}
			w.quantize(f)
			return nil
		})
	}
	return fill(Floats(p))
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
// on the widened weight), more rows through sgemmWeight (kernels.SgemmBF16B); an 8-bit
// weight goes through q8Weight.forward.
func conv1DWith(y, x []float32, w mat.Tensor, b []float32, N, in, out int) {
	if q, ok := w.Value().(*q8Weight); ok {
		q.forward(y, x, b, N)
		return
	}
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
// sgemmWeight; an 8-bit weight through q8Weight.forward.
func denseWith(y, x []float32, w mat.Tensor, b []float32, N, in, out int) {
	if q, ok := w.Value().(*q8Weight); ok {
		q.forward(y, x, b, N)
		return
	}
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

// embedRows sets row i of x (N, C) to row ids[i] of the embedding w (V, C), float32,
// bfloat16 or 8-bit (widened exactly, one row at a time).
func embedRows(x []float32, w mat.Tensor, ids []int, C int) {
	if q, ok := w.Value().(*q8Weight); ok {
		q.rowsOf(x, ids)
		return
	}
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
// for a bfloat16 w kernels.MatVecBF16 (the same bits on the widened w), for an 8-bit one
// kernels.MatVecQ8.
func lmHeadVec(logits []float32, w mat.Tensor, h []float32, V, C int) {
	if q, ok := w.Value().(*q8Weight); ok {
		q.forward(logits, h, nil, 1)
		return
	}
	if b, ok := w.Value().(*bf16Weight); ok {
		kernels.MatVecBF16(logits, b.data, h, V, C)
		runtime.KeepAlive(b)
		return
	}
	kernels.MatVec(logits, Floats(w), h, V, C)
}

// lmHeadCrossEntropy is kernels.LMHeadCrossEntropy with the LM head w (V, C) as its
// tensor: for a bfloat16 w, kernels.LMHeadCrossEntropyBF16, for an 8-bit one
// kernels.LMHeadCrossEntropyFunc over q8Weight.mulW (w frozen: dw must be nil).
func lmHeadCrossEntropy(losses, dh, dw, h []float32, w mat.Tensor, targets []int, gradScale float32, N, C, V int) {
	if q, ok := w.Value().(*q8Weight); ok {
		kernels.LMHeadCrossEntropyFunc(losses, dh, h, q.mulW, targets, IgnoreIndex, gradScale, N, C, V)
		return
	}
	if b, ok := w.Value().(*bf16Weight); ok && b.amx != nil {
		// 128 rows: whole 32-row tile blocks (132, Sgemm's chunk, measured ~8% slower here)
		kernels.LMHeadCrossEntropyFuncChunk(losses, dh, h, b.mulAMX, targets, IgnoreIndex, gradScale, N, C, V, 128)
		return
	}
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
	var ps []*nn.Param
	for _, w := range m.dtypeWeightsIn() {
		ps = append(ps, w.p)
	}
	return ps
}

// dtypeWeight is one of dtypeWeights, with whether its rows run along its input
// dimension (a Conv1D weight, (in, out)) rather than its output (a Dense weight, an
// embedding).
type dtypeWeight struct {
	p      *nn.Param
	inRows bool
}

// dtypeWeightsIn is dtypeWeights with the orientation of each.
func (m *Model) dtypeWeightsIn() []dtypeWeight {
	ws := []dtypeWeight{{p: m.WTE}}
	if m.LMHead != nil {
		ws = append(ws, dtypeWeight{p: m.LMHead})
	}
	for _, p := range m.Projections() {
		switch b := Base(m.Linear(p)).(type) {
		case *Conv1D:
			ws = append(ws, dtypeWeight{p: b.Weight, inRows: true})
		case *Dense:
			ws = append(ws, dtypeWeight{p: b.Weight})
		}
	}
	return ws
}

// zeroAs stores the weights of dtypeWeights, a model just made by newZero, in dt: with
// WeightBF16 or WeightQ8 as zero weights of that type, without reading the float32 zeros
// (untouched memory, which the process never holds). A weight that WeightQ8 cannot block
// stays float32.
func (m *Model) zeroAs(dt WeightDType) {
	for _, w := range m.dtypeWeightsIn() {
		s := w.p.Shape()
		switch dt {
		case WeightBF16, WeightBF16AMX:
			z := zeroBF16Weight(s[0], s[1])
			if dt == WeightBF16AMX {
				z.amx = new(amxPacks)
			}
			w.p.Matrix = z
		case WeightQ8:
			if q8Fits(s[0], s[1], w.inRows) {
				w.p.Matrix = zeroQ8Weight(s[0], s[1], w.inRows)
			}
		}
	}
}

// SetWeightDType stores m's dtypeWeights in dt: WeightBF16 rounds them, WeightQ8
// quantizes them (those it can block), both freezing them; WeightF32 widens any that are
// in fewer bits back (exactly), still frozen (SetTrainable thaws them).
func (m *Model) SetWeightDType(dt WeightDType) {
	for _, w := range m.dtypeWeightsIn() {
		switch dt {
		case WeightBF16:
			setBF16(w.p)
			w.p.Value().(*bf16Weight).amx = nil
		case WeightBF16AMX:
			setBF16(w.p)
			if b := w.p.Value().(*bf16Weight); b.amx == nil {
				b.amx = new(amxPacks)
			}
		case WeightQ8:
			setQ8(w.p, w.inRows)
		default:
			SetF32(w.p)
		}
	}
}

// WeightDType returns WeightBF16 or WeightQ8 if any of m's dtypeWeights is stored in
// bfloat16 or 8-bit blocks, else WeightF32.
func (m *Model) WeightDType() WeightDType {
	for _, p := range m.dtypeWeights() {
		switch w := p.Value().(type) {
		case *bf16Weight:
			if w.amx != nil {
				return WeightBF16AMX
			}
			return WeightBF16
		case *q8Weight:
			return WeightQ8
		}
	}
	return WeightF32
}

// sgemmWeight sets c (M×N, row stride ldc) = a (M×K, lda) · op(w), op(w) being wᵀ when
// transB, for w a projection weight with row stride ldb: kernels.Sgemm on its float32
// values, and for a bfloat16 weight kernels.SgemmBF16B, which widens it panel by panel
// as it packs them, with the same bits, so no float32 copy of the weight is made; for an
// 8-bit weight q8Weight.mulW, which widens it a few hundred rows at a time (ldb must be
// its width).
func sgemmWeight(transB bool, M, N, K int, a []float32, lda int, w mat.Tensor, ldb int, c []float32, ldc int) {
	if q, ok := w.Value().(*q8Weight); ok {
		if ldb != q.cols {
			panic("transformer: sgemmWeight: an 8-bit weight is read whole (ldb must be its width)")
		}
		q.mulW(transB, M, N, K, a, lda, c, ldc)
		return
	}
	if b, ok := w.Value().(*bf16Weight); ok {
		if b.amx != nil && ldb == b.cols && M > 1 { // one row: VecMat-like, exact
			b.mulAMX(transB, M, N, K, a, lda, c, ldc)
			return
		}
		kernels.SgemmBF16B(false, transB, M, N, K, 1, a, lda, b.data, ldb, 0, c, ldc)
		runtime.KeepAlive(b) // b.data may be off the heap, released with b
		return
	}
	kernels.Sgemm(false, transB, M, N, K, 1, a, lda, Floats(w), ldb, 0, c, ldc)
}
