package transformer

import (
	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"

	"github.com/llmtune/llmtune/transformer/kernels"
)

// This file holds the custom autograd functions: one graph node per sub-layer, each a
// Forward/Backward pair over the kernels. Every Backward hands a gradient to each operand
// that requires one (spago waits for it otherwise) and to no other.
//
// An op's arena (lender) is where its buffers come from (nil: fresh memory): its output,
// the scratch it keeps for its backward, and the gradients it hands to other graph nodes.
// The gradients it hands to parameters (dw, db, an embedding's gradient) are never lent:
// a parameter keeps its gradient until the optimizer's ZeroGrad. A buffer that a kernel
// adds into comes zeroed (Arena.Dense); one that the op writes in full before reading
// it may come as it is (Arena.DenseUninit): the kernels' contracts say which (Sgemm with
// beta 0 ignores what C held; the forward kernels write every output element).

// dense is the matrix type of the whole package.
type dense = mat.Dense[float32]

// newDense returns a zeroed (rows, cols) matrix.
func newDense(rows, cols int) *dense {
	return mat.NewDense[float32](mat.WithShape(rows, cols))
}

// fromData wraps data as a (rows, cols) matrix without copying it.
func fromData(data []float32, rows, cols int) *dense {
	return mat.NewDense[float32](mat.WithShape(rows, cols), mat.WithBacking(data))
}

// Floats returns the float32 values of a tensor of this package's type (a parameter, or
// a graph node, waiting for its operator's forward), row after row: the tensor's own
// memory, not a copy. It panics if the tensor does not hold float32 values.
func Floats(t mat.Tensor) []float32 { return mat.Data[float32](t.Value()) }

// rows returns the first dimension of a tensor.
func rows(t mat.Tensor) int { return t.Value().Shape()[0] }

// lender is embedded in every op of this package: the arena its buffers come from, the
// op's view that Arena.RunOp gives it, or nil for fresh memory.
type lender struct{ arena *Arena }

func (l *lender) useArena(a *Arena) { l.arena = a }

// arenaFunc is an op of this package.
type arenaFunc interface {
	ag.AutoGradFunction
	useArena(a *Arena)
}

// run runs f as a graph node with its buffers from a (nil: fresh memory); see
// Arena.RunOp.
func run(a *Arena, f arenaFunc) mat.Tensor {
	if a == nil {
		return ag.NewOperator(f).Run()
	}
	op := a.newOp() // Arena.RunOp without its closure
	f.useArena(&op.v)
	op.f = f
	return op.run()
}

// embeddingOp: x (N, C) = wte[ids] + wpe[pos].
type embeddingOp struct {
	wte, wpe mat.Tensor
	ids, pos []int
	lender
}

func (o *embeddingOp) Operands() []mat.Tensor { return []mat.Tensor{o.wte, o.wpe} }

func (o *embeddingOp) Forward() (mat.Tensor, error) {
	N, C := len(o.ids), o.wte.Shape()[1]
	out := o.arena.DenseUninit(N, C) // every row written
	if IsLowPrecision(o.wte) {
		y, wpe := Floats(out), Floats(o.wpe)
		embedRows(y, o.wte, o.ids, C)
		for i, p := range o.pos {
			kernels.AddTo(y[i*C:(i+1)*C], wpe[p*C:(p+1)*C], C)
		}
		return out, nil
	}
	kernels.EmbeddingForward(Floats(out), o.ids, o.pos, Floats(o.wte), Floats(o.wpe), N, C)
	return out, nil
}

func (o *embeddingOp) Backward(gy mat.Tensor) error {
	N, C := len(o.ids), o.wte.Shape()[1]
	if o.wte.RequiresGrad() {
		g := newDense(o.wte.Shape()[0], C)
		kernels.EmbeddingBackward(Floats(g), nil, Floats(gy), o.ids, o.pos, N, C)
		GiveGrad(o.wte, g)
	}
	if o.wpe.RequiresGrad() {
		g := newDense(o.wpe.Shape()[0], C)
		kernels.EmbeddingBackward(nil, Floats(g), Floats(gy), o.ids, o.pos, N, C)
		GiveGrad(o.wpe, g)
	}
	return nil
}

// layerNormOp: y (N, C) = LayerNorm(x) with weight and bias (C).
type layerNormOp struct {
	x, w, b    mat.Tensor
	eps        float32
	mean, rstd []float32
	lender
}

func (o *layerNormOp) Operands() []mat.Tensor { return []mat.Tensor{o.x, o.w, o.b} }

func (o *layerNormOp) Forward() (mat.Tensor, error) {
	N, C := rows(o.x), o.w.Size()
	out := o.arena.DenseUninit(N, C) // every row, mean and rstd written
	o.mean, o.rstd = o.arena.FloatsUninit(N), o.arena.FloatsUninit(N)
	kernels.LayerNormForward(Floats(out), o.mean, o.rstd, Floats(o.x), Floats(o.w), Floats(o.b), N, C, o.eps)
	return out, nil
}

func (o *layerNormOp) Backward(gy mat.Tensor) error {
	N, C := rows(o.x), o.w.Size()
	var dx, dw, db *dense
	var dxd, dwd, dbd []float32
	if o.x.RequiresGrad() {
		dx = o.arena.Dense(N, C) // added into
		dxd = Floats(dx)
	}
	if o.w.RequiresGrad() {
		dw = newDense(C, 1)
		dwd = Floats(dw)
	}
	if o.b.RequiresGrad() {
		db = newDense(C, 1)
		dbd = Floats(db)
	}
	kernels.LayerNormBackward(dxd, dwd, dbd, Floats(gy), Floats(o.x), Floats(o.w), o.mean, o.rstd, N, C)
	accGrad(o.x, dx)
	accGrad(o.w, dw)
	accGrad(o.b, db)
	return nil
}

// accGrad hands g to t when g was computed (g is nil when t needs no gradient).
func accGrad(t mat.Tensor, g *dense) {
	if g != nil {
		GiveGrad(t, g)
	}
}

// GiveGrad adds g to t's gradient, handing g over: after the call nothing writes to or
// reads g but t. spago's Dense.AccGrad clones the first gradient a node receives (an
// allocation and a copy the size of the node, ~7% of a SmolLM2 LoRA step, all of it
// garbage a moment later); a handed-over gradient is adopted instead, with the same
// values bit for bit. A gradient an op's Backward allocated is handed over with its last
// use; so is gy, the gradient of the op's own output, once the op has no further use for
// it (nothing reads an output's gradient after its op's Backward: the output's readers
// have all added theirs before it runs). A node given the same buffer twice, as x + x
// does, gets it added to itself: 2·g, as it should. g of another type than *mat.Dense
// [float32] is added the ordinary way.
func GiveGrad(t, g mat.Tensor) {
	d, ok := g.(*dense)
	if !ok {
		t.AccGrad(g)
		return
	}
	t.AccGrad(handedOver{d})
}

// handedOver is a gradient whose Clone is itself, so that spago's Dense.AccGrad, which
// keeps a clone of the first gradient it gets, keeps the buffer.
type handedOver struct{ *dense }

func (h handedOver) Clone() mat.Matrix { return h.dense }

// conv1DOp: y (N, out) = x (N, in) · w (in, out) + b (out), GPT-2's Conv1D.
type conv1DOp struct {
	x, w, b mat.Tensor
	lender
}

func (o *conv1DOp) Operands() []mat.Tensor { return []mat.Tensor{o.x, o.w, o.b} }

func (o *conv1DOp) Forward() (mat.Tensor, error) {
	N, in, out := rows(o.x), o.w.Shape()[0], o.w.Shape()[1]
	y := projOut(o.arena, N, out)
	conv1DWith(Floats(y), Floats(o.x), o.w, Floats(o.b), N, in, out)
	return y, nil
}

// conv1DForward sets y (N, out) = x (N, in) · w (in, out) + b (out), GPT-2's Conv1D: the
// forward of conv1DOp and of a plain Conv1D in NextLogits. One row (a decode step) goes
// through kernels.VecMat, which reads w once, unpacked; more go through kernels.Sgemm.
func conv1DForward(y, x, w, b []float32, N, in, out int) {
	if N == 1 {
		kernels.VecMat(y, x, w, b, in, out)
		return
	}
	kernels.Sgemm(false, false, N, out, in, 1, x, in, w, out, 0, y, out)
	kernels.AddBias(y, b, N, out)
}

// projOut returns the (N, out) output of a projection: as it is for N > 1, which Sgemm
// overwrites with beta 0; zeroed for one row, which the decode kernels (MatVec, VecMat)
// write.
func projOut(a *Arena, N, out int) *dense {
	if N == 1 {
		return a.Dense(N, out)
	}
	return a.DenseUninit(N, out)
}

func (o *conv1DOp) Backward(gy mat.Tensor) error {
	N, in, out := rows(o.x), o.w.Shape()[0], o.w.Shape()[1]
	g := Floats(gy)
	if o.x.RequiresGrad() { // dx (N, in) = gy (N, out) · wᵀ
		dx := o.arena.DenseUninit(N, in) // Sgemm with beta 0
		sgemmWeight(true, N, in, out, g, out, o.w, out, Floats(dx), in)
		GiveGrad(o.x, dx)
	}
	if o.w.RequiresGrad() { // dw (in, out) = xᵀ · gy
		dw := newDense(in, out)
		kernels.Sgemm(true, false, in, out, N, 1, Floats(o.x), in, g, out, 0, Floats(dw), out)
		GiveGrad(o.w, dw)
	}
	if o.b.RequiresGrad() {
		db := newDense(out, 1)
		kernels.BiasBackward(Floats(db), g, N, out)
		GiveGrad(o.b, db)
	}
	return nil
}

// attentionOp: y (B·T, C) = causal multi-head attention over qkv (B·T, 3C).
type attentionOp struct {
	qkv         mat.Tensor
	seg         []int // (B·T) segment ids, or nil
	B, T, C, NH int
	att         []float32 // (B, NH, T, T) softmax probabilities, for backward
	lender
}

func (o *attentionOp) Operands() []mat.Tensor { return []mat.Tensor{o.qkv} }

func (o *attentionOp) Forward() (mat.Tensor, error) {
	y := o.arena.DenseUninit(o.B*o.T, o.C)               // every head's columns written
	o.att = o.arena.FloatsUninit(o.B * o.NH * o.T * o.T) // every row written, zeros where masked
	kernels.AttentionForward(Floats(y), o.att, Floats(o.qkv), o.seg, o.B, o.T, o.C, o.NH)
	return y, nil
}

func (o *attentionOp) Backward(gy mat.Tensor) error {
	if !o.qkv.RequiresGrad() {
		return nil
	}
	d := o.arena.Dense(o.B*o.T, 3*o.C) // added into
	kernels.AttentionBackward(Floats(d), Floats(gy), Floats(o.qkv), o.att, o.B, o.T, o.C, o.NH)
	GiveGrad(o.qkv, d)
	return nil
}

// geluOp: y = gelu_tanh(x), element-wise.
type geluOp struct {
	x mat.Tensor
	lender
}

func (o *geluOp) Operands() []mat.Tensor { return []mat.Tensor{o.x} }

func (o *geluOp) Forward() (mat.Tensor, error) {
	s := o.x.Value().Shape()
	y := o.arena.DenseUninit(s[0], s[1]) // every element written
	kernels.GeluForward(Floats(y), Floats(o.x), o.x.Size())
	return y, nil
}

func (o *geluOp) Backward(gy mat.Tensor) error {
	if !o.x.RequiresGrad() {
		return nil
	}
	s := o.x.Value().Shape()
	dx := o.arena.Dense(s[0], s[1]) // added into
	kernels.GeluBackward(Floats(dx), Floats(o.x), Floats(gy), o.x.Size())
	GiveGrad(o.x, dx)
	return nil
}

// copyOp: y = x, a second node for the same values (see graphPass.share).
type copyOp struct {
	x mat.Tensor
	lender
}

func (o *copyOp) Operands() []mat.Tensor { return []mat.Tensor{o.x} }

func (o *copyOp) Forward() (mat.Tensor, error) {
	s := o.x.Value().Shape()
	y := o.arena.DenseUninit(s[0], s[1])
	copy(Floats(y), Floats(o.x))
	return y, nil
}

func (o *copyOp) Backward(gy mat.Tensor) error {
	if o.x.RequiresGrad() {
		GiveGrad(o.x, gy)
	}
	return nil
}

// addOp: y = a + b, the residual connection.
type addOp struct {
	a, b mat.Tensor
	lender
}

func (o *addOp) Operands() []mat.Tensor { return []mat.Tensor{o.a, o.b} }

func (o *addOp) Forward() (mat.Tensor, error) {
	s := o.a.Value().Shape()
	y := o.arena.DenseUninit(s[0], s[1])
	kernels.Add(Floats(y), Floats(o.a), Floats(o.b), o.a.Size())
	return y, nil
}

func (o *addOp) Backward(gy mat.Tensor) error {
	// b takes a copy of gy before a is handed gy itself (a's other reader may add to it
	// at once)
	if o.b.RequiresGrad() {
		if o.a.RequiresGrad() {
			s := gy.Shape()
			c := o.arena.DenseUninit(s[0], s[1])
			copy(Floats(c), Floats(gy))
			GiveGrad(o.b, c)
		} else {
			GiveGrad(o.b, gy)
		}
	}
	if o.a.RequiresGrad() {
		GiveGrad(o.a, gy)
	}
	return nil
}

// lossOp: the scalar Σ_i CE(h_i·wᵀ, targets_i) / count over rows whose target is not
// IgnoreIndex, for hidden states h (N, C) and the LM head w (V, C). The gradients are
// computed in Forward while the logits are at hand (see kernels.LMHeadCrossEntropy) and
// only scaled by the incoming gradient in Backward.
type lossOp struct {
	h, w    mat.Tensor
	targets []int
	count   int  // targets that count, > 0
	grads   bool // compute gradients for the operands that require them
	dh, dw  *dense
	lender  // dh's, the losses'; never dw's (a parameter's)
}

func (o *lossOp) Operands() []mat.Tensor { return []mat.Tensor{o.h, o.w} }

func (o *lossOp) Forward() (mat.Tensor, error) {
	N, C := o.h.Value().Shape()[0], o.h.Value().Shape()[1]
	V := o.w.Shape()[0]
	var dhd, dwd []float32
	if o.grads && o.h.RequiresGrad() {
		o.dh = o.arena.Dense(N, C) // added into
		dhd = Floats(o.dh)
	}
	if o.grads && o.w.RequiresGrad() {
		o.dw = newDense(V, C)
		dwd = Floats(o.dw)
	}
	losses := o.arena.FloatsUninit(N) // every row written
	lmHeadCrossEntropy(losses, dhd, dwd, Floats(o.h), o.w, o.targets, 1/float32(o.count), N, C, V)
	var sum float64
	for _, l := range losses {
		sum += float64(l)
	}
	return mat.Scalar(float32(sum / float64(o.count))), nil
}

func (o *lossOp) Backward(gy mat.Tensor) error {
	s := mat.Data[float32](gy)[0]
	// w's gradient first: handing h's lets the rest of the backward pass run, which
	// with a tied LM head ends in the token embedding's gradient for the same parameter;
	// w's must not race it, or with gradient accumulation the three-term sum (earlier
	// micro-batches', the head's, the embedding's) would round differently from run to
	// run
	for _, p := range []struct {
		t mat.Tensor
		g *dense
		a *Arena // nil for w, a parameter
	}{{o.w, o.dw, nil}, {o.h, o.dh, o.arena}} {
		if !p.t.RequiresGrad() {
			continue
		}
		if p.g == nil { // the loss was built without gradients: hand back zeros
			p.g = p.a.Dense(p.t.Value().Shape()[0], p.t.Value().Shape()[1])
		} else if s != 1 {
			g := Floats(p.g)
			for i := range g {
				g[i] *= s
			}
		}
		GiveGrad(p.t, p.g)
	}
	o.dh, o.dw = nil, nil
	return nil
}
