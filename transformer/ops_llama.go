package transformer

import (
	"github.com/nlpodyssey/spago/mat"

	"github.com/llmtune/llmtune/transformer/kernels"
)

// The autograd functions of the Llama family, in the manner of ops.go.

// tokenEmbeddingOp: x (N, C) = wte[ids], for families without a position embedding.
type tokenEmbeddingOp struct {
	wte mat.Tensor
	ids []int
	lender
}

func (o *tokenEmbeddingOp) Operands() []mat.Tensor { return []mat.Tensor{o.wte} }

func (o *tokenEmbeddingOp) Forward() (mat.Tensor, error) {
	N, C := len(o.ids), o.wte.Shape()[1]
	out := o.arena.DenseUninit(N, C) // every row copied
	embedRows(Floats(out), o.wte, o.ids, C)
	return out, nil
}

func (o *tokenEmbeddingOp) Backward(gy mat.Tensor) error {
	if !o.wte.RequiresGrad() {
		return nil
	}
	N, C := len(o.ids), o.wte.Shape()[1]
	g := newDense(o.wte.Shape()[0], C)
	kernels.EmbeddingBackward(Floats(g), nil, Floats(gy), o.ids, nil, N, C)
	GiveGrad(o.wte, g)
	return nil
}

// rmsNormOp: y (N, C) = RMSNorm(x) with weight (C).
type rmsNormOp struct {
	x, w mat.Tensor
	eps  float32
	rstd []float32
	lender
}

func (o *rmsNormOp) Operands() []mat.Tensor { return []mat.Tensor{o.x, o.w} }

func (o *rmsNormOp) Forward() (mat.Tensor, error) {
	N, C := rows(o.x), o.w.Size()
	out := o.arena.DenseUninit(N, C) // every row and rstd written
	o.rstd = o.arena.FloatsUninit(N)
	kernels.RMSNormForward(Floats(out), o.rstd, Floats(o.x), Floats(o.w), N, C, o.eps)
	return out, nil
}

func (o *rmsNormOp) Backward(gy mat.Tensor) error {
	N, C := rows(o.x), o.w.Size()
	var dx, dw *dense
	var dxd, dwd []float32
	if o.x.RequiresGrad() {
		dx = o.arena.Dense(N, C) // added into
		dxd = Floats(dx)
	}
	if o.w.RequiresGrad() {
		dw = newDense(C, 1)
		dwd = Floats(dw)
	}
	kernels.RMSNormBackward(dxd, dwd, Floats(gy), Floats(o.x), Floats(o.w), o.rstd, N, C)
	accGrad(o.x, dx)
	accGrad(o.w, dw)
	return nil
}

// denseOp: y (N, out) = x (N, in) · wᵀ + b, with w (out, in) and b (out) or nil:
// torch.nn.Linear.
type denseOp struct {
	x, w, b mat.Tensor
	lender
}

func (o *denseOp) Operands() []mat.Tensor {
	if o.b == nil {
		return []mat.Tensor{o.x, o.w}
	}
	return []mat.Tensor{o.x, o.w, o.b}
}

func (o *denseOp) Forward() (mat.Tensor, error) {
	N, out, in := rows(o.x), o.w.Shape()[0], o.w.Shape()[1]
	y := projOut(o.arena, N, out)
	var b []float32
	if o.b != nil {
		b = Floats(o.b)
	}
	denseWith(Floats(y), Floats(o.x), o.w, b, N, in, out)
	return y, nil
}

// denseForward sets y (N, out) = x (N, in) · wᵀ + b, w (out, in), b (out) or nil: the
// forward of denseOp and of a plain Dense in NextLogits. One row (a decode step) goes
// through kernels.MatVec, which reads w once, unpacked; more go through kernels.Sgemm.
func denseForward(y, x, w, b []float32, N, in, out int) {
	if N == 1 {
		kernels.MatVec(y, w, x, out, in)
	} else {
		kernels.Sgemm(false, true, N, out, in, 1, x, in, w, in, 0, y, out)
	}
	if b != nil {
		kernels.AddBias(y, b, N, out)
	}
}

func (o *denseOp) Backward(gy mat.Tensor) error {
	N, out, in := rows(o.x), o.w.Shape()[0], o.w.Shape()[1]
	g := Floats(gy)
	if o.x.RequiresGrad() { // dx (N, in) = gy (N, out) · w
		dx := o.arena.DenseUninit(N, in) // Sgemm with beta 0
		sgemmWeight(false, N, in, out, g, out, o.w, in, Floats(dx), in)
		GiveGrad(o.x, dx)
	}
	if o.w.RequiresGrad() { // dw (out, in) = gyᵀ · x
		dw := newDense(out, in)
		kernels.Sgemm(true, false, out, in, N, 1, g, out, Floats(o.x), in, 0, Floats(dw), in)
		GiveGrad(o.w, dw)
	}
	if o.b != nil && o.b.RequiresGrad() {
		db := newDense(out, 1)
		kernels.BiasBackward(Floats(db), g, N, out)
		GiveGrad(o.b, db)
	}
	return nil
}

// ropeAttentionOp: y (B·T, NH·hs) = causal grouped-query attention of RoPE(q) over
// RoPE(k) and v, for q (B·T, NH·hs), k and v (B·T, KVH·hs); each row is rotated by its
// position (pos), and packed rows attend only within their segment (seg).
type ropeAttentionOp struct {
	q, k, v           mat.Tensor
	pos, seg          []int // (B·T) positions, and segment ids or nil
	invFreq           []float32
	B, T, NH, KVH, hs int
	qkv, att          []float32 // rotated [q | k | v] rows and the probabilities, for backward
	lender
}

func (o *ropeAttentionOp) Operands() []mat.Tensor { return []mat.Tensor{o.q, o.k, o.v} }

func (o *ropeAttentionOp) Forward() (mat.Tensor, error) {
	N, hs := o.B*o.T, o.hs
	qd, kd := o.NH*hs, o.KVH*hs
	q, k := o.arena.FloatsUninit(N*qd), o.arena.FloatsUninit(N*kd) // copied in full
	copy(q, Floats(o.q))
	copy(k, Floats(o.k))
	kernels.RoPEForward(q, o.pos, o.invFreq, N, o.NH, hs)
	kernels.RoPEForward(k, o.pos, o.invFreq, N, o.KVH, hs)
	o.qkv = packQKV(o.arena.FloatsUninit(N*(qd+2*kd)), q, k, Floats(o.v), N, qd, kd)
	o.att = o.arena.FloatsUninit(o.B * o.NH * o.T * o.T) // every row written, zeros where masked
	y := o.arena.DenseUninit(N, qd)                      // every head's columns written
	kernels.AttentionForwardGQA(Floats(y), o.att, o.qkv, o.seg, o.B, o.T, o.NH, o.KVH, hs)
	return y, nil
}

func (o *ropeAttentionOp) Backward(gy mat.Tensor) error {
	N, hs := o.B*o.T, o.hs
	qd, kd := o.NH*hs, o.KVH*hs
	w := qd + 2*kd
	dqkv := o.arena.Floats(N * w) // added into
	kernels.AttentionBackwardGQA(dqkv, Floats(gy), o.qkv, o.att, o.B, o.T, o.NH, o.KVH, hs)
	for _, p := range []struct {
		t         mat.Tensor
		off, d, H int
		rope      bool
	}{{o.q, 0, qd, o.NH, true}, {o.k, qd, kd, o.KVH, true}, {o.v, qd + kd, kd, o.KVH, false}} {
		if !p.t.RequiresGrad() {
			continue
		}
		g := o.arena.DenseUninit(N, p.d) // every row copied
		gd := Floats(g)
		for n := range N {
			copy(gd[n*p.d:(n+1)*p.d], dqkv[n*w+p.off:n*w+p.off+p.d])
		}
		if p.rope {
			kernels.RoPEBackward(gd, o.pos, o.invFreq, N, p.H, hs)
		}
		GiveGrad(p.t, g)
	}
	return nil
}

// packQKV writes into out and returns the rows [q | k | v] (N, qd+2·kd) of q (N, qd), k
// and v (N, kd), the layout the attention kernels read; out has N·(qd+2·kd) elements,
// every one of which it writes.
func packQKV(out, q, k, v []float32, N, qd, kd int) []float32 {
	w := qd + 2*kd
	for n := range N {
		copy(out[n*w:], q[n*qd:(n+1)*qd])
		copy(out[n*w+qd:], k[n*kd:(n+1)*kd])
		copy(out[n*w+qd+kd:], v[n*kd:(n+1)*kd])
	}
	return out
}

// swigluOp: y = silu(gate) · up, element-wise: the Llama family's MLP activation.
type swigluOp struct {
	gate, up mat.Tensor
	lender
}

func (o *swigluOp) Operands() []mat.Tensor { return []mat.Tensor{o.gate, o.up} }

func (o *swigluOp) Forward() (mat.Tensor, error) {
	s := o.gate.Value().Shape()
	y := o.arena.DenseUninit(s[0], s[1]) // every element written
	kernels.SwiGLUForward(Floats(y), Floats(o.gate), Floats(o.up), o.gate.Size())
	return y, nil
}

func (o *swigluOp) Backward(gy mat.Tensor) error {
	s := o.gate.Value().Shape()
	dg, du := o.arena.Dense(s[0], s[1]), o.arena.Dense(s[0], s[1]) // added into
	kernels.SwiGLUBackward(Floats(dg), Floats(du), Floats(gy), Floats(o.gate), Floats(o.up), o.gate.Size())
	if o.gate.RequiresGrad() {
		GiveGrad(o.gate, dg)
	}
	if o.up.RequiresGrad() {
		GiveGrad(o.up, du)
	}
	return nil
}
