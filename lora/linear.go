package lora

import (
	"math"
	"math/rand/v2"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/llmtune/llmtune/transformer"
	"github.com/llmtune/llmtune/transformer/kernels"
)

// Part is one low-rank adapter inside a Linear: it adds Scaling·x·Aᵀ·Bᵀ to the output
// columns [Lo, Hi) of the base projection.
type Part struct {
	Name    string    // "q", "k" or "v" for a column block of GPT-2's c_attn; "" for the whole output
	Lo, Hi  int       // the output columns it adds to
	A       *nn.Param // (r, in), kaiming-uniform at Apply
	B       *nn.Param // (Hi−Lo, r), zero at Apply
	Scaling float64   // alpha/r, or alpha/√r with RSLoRA
}

// Rank returns r, the inner dimension of the part.
func (p *Part) Rank() int { return p.A.Shape()[0] }

// Linear is a frozen base projection plus low-rank adapters: y = base(x) + Σ parts. It
// implements transformer.Linear, transformer.ArenaLinear and transformer.Wrapper, and
// takes the place of the base in its block. Once merged, it is the base alone.
type Linear struct {
	nn.Module
	Proj    transformer.Proj // the projection it takes the place of; h.3.attn.c_attn or layers.3.self_attn.q_proj, say
	Parts   []*Part
	Dropout float64 // dropout probability on each part's input, in training only

	base     transformer.Linear
	training bool
	merged   bool
	rng      *rand.Rand // dropout masks
}

// Base returns the wrapped projection.
func (l *Linear) Base() transformer.Linear { return l.base }

// InDim returns the width of the input rows.
func (l *Linear) InDim() int { return l.base.InDim() }

// OutDim returns the width of the output rows.
func (l *Linear) OutDim() int { return l.base.OutDim() }

// Forward returns base(x) plus every part's delta, for x (N, in). In training with
// Dropout > 0, each part sees its own dropout of x; the base always sees x itself.
func (l *Linear) Forward(x mat.Tensor) mat.Tensor { return l.ForwardArena(x, nil) }

// ForwardArena is Forward with the buffers of the nodes, the base's included, from a
// (see transformer.ArenaLinear); the adapters' gradients are never the arena's.
func (l *Linear) ForwardArena(x mat.Tensor, a *transformer.Arena) mat.Tensor {
	y := transformer.ForwardIn(l.base, x, a)
	if l.merged || len(l.Parts) == 0 {
		return y
	}
	return a.RunOp(func(a *transformer.Arena) ag.AutoGradFunction {
		op := &loraOp{x: x, y: y, parts: l.Parts, a: a}
		if l.training && l.Dropout > 0 {
			op.masks = make([][]float32, len(l.Parts))
			n := x.Value().Size()
			keep := float32(1 / (1 - l.Dropout))
			for i := range op.masks {
				m := a.FloatsUninit(n) // every element written
				for j := range m {
					if l.rng.Float64() >= l.Dropout {
						m[j] = keep
					} else {
						m[j] = 0
					}
				}
				op.masks[i] = m
			}
		}
		return op
	})
}

// loraOp: out (N, O) = y + Σ_p s_p · (x ⊙ mask_p)·A_pᵀ·B_pᵀ on columns [Lo, Hi) of part p,
// where y (N, O) is the base's output and x (N, in) its input.
type loraOp struct {
	x, y  mat.Tensor
	parts []*Part
	masks [][]float32        // per part, (N, in) with 0 or 1/(1−p); nil without dropout
	xd    [][]float32        // per part, the dropped-out input (nil: x itself)
	xa    [][]float32        // per part, (N, r) = xd·Aᵀ, for backward
	a     *transformer.Arena // the buffers but dA's and dB's (the parameters'), or nil
}

func (o *loraOp) Operands() []mat.Tensor {
	ts := []mat.Tensor{o.x, o.y}
	for _, p := range o.parts {
		ts = append(ts, p.A, p.B)
	}
	return ts
}

func (o *loraOp) Forward() (mat.Tensor, error) {
	shape := o.y.Value().Shape()
	N, O := shape[0], shape[1]
	in := o.x.Value().Shape()[1]
	out := o.a.DenseUninit(N, O) // y copied in full
	od := transformer.Floats(out)
	copy(od, transformer.Floats(o.y))
	x := transformer.Floats(o.x)
	o.xd, o.xa = make([][]float32, len(o.parts)), make([][]float32, len(o.parts))
	for i, p := range o.parts {
		xd := x
		if o.masks != nil {
			xd = o.a.FloatsUninit(len(x)) // written in full
			for j, m := range o.masks[i] {
				xd[j] = x[j] * m
			}
			o.xd[i] = xd
		}
		r, w := p.Rank(), p.Hi-p.Lo
		xa := o.a.FloatsUninit(N * r) // Sgemm with beta 0
		kernels.Sgemm(false, true, N, r, in, 1, xd, in, transformer.Floats(p.A), in, 0, xa, r)
		kernels.Sgemm(false, true, N, w, r, float32(p.Scaling), xa, r, transformer.Floats(p.B), r, 1, od[p.Lo:], O)
		o.xa[i] = xa
	}
	return out, nil
}

func (o *loraOp) Backward(gy mat.Tensor) error {
	shape := o.y.Value().Shape()
	N, O := shape[0], shape[1]
	in := o.x.Value().Shape()[1]
	g := transformer.Floats(gy)
	var dx []float32
	if o.x.RequiresGrad() {
		dx = o.a.Floats(N * in) // added into
	}
	for i, p := range o.parts {
		r, w, s := p.Rank(), p.Hi-p.Lo, float32(p.Scaling)
		gp := g[p.Lo:] // (N, w) with row stride O
		xa := o.xa[i]
		if p.B.RequiresGrad() { // dB (w, r) = s·gpᵀ·xa
			dB := mat.NewDense[float32](mat.WithShape(w, r))
			kernels.Sgemm(true, false, w, r, N, s, gp, O, xa, r, 0, transformer.Floats(dB), r)
			transformer.GiveGrad(p.B, dB)
		}
		if !p.A.RequiresGrad() && dx == nil {
			continue
		}
		dxa := o.a.FloatsUninit(N * r) // (N, r) = s·gp·B, Sgemm with beta 0
		kernels.Sgemm(false, false, N, r, w, s, gp, O, transformer.Floats(p.B), r, 0, dxa, r)
		if p.A.RequiresGrad() { // dA (r, in) = dxaᵀ·xd
			xd := o.xd[i]
			if xd == nil {
				xd = transformer.Floats(o.x)
			}
			dA := mat.NewDense[float32](mat.WithShape(r, in))
			kernels.Sgemm(true, false, r, in, N, 1, dxa, r, xd, in, 0, transformer.Floats(dA), in)
			transformer.GiveGrad(p.A, dA)
		}
		if dx != nil { // dx += (dxa·A) ⊙ mask
			if o.masks == nil {
				kernels.Sgemm(false, false, N, in, r, 1, dxa, r, transformer.Floats(p.A), in, 1, dx, in)
			} else {
				t := o.a.FloatsUninit(N * in) // Sgemm with beta 0
				kernels.Sgemm(false, false, N, in, r, 1, dxa, r, transformer.Floats(p.A), in, 0, t, in)
				for j, m := range o.masks[i] {
					dx[j] += t[j] * m
				}
			}
		}
	}
	if dx != nil {
		transformer.GiveGrad(o.x, mat.NewDense[float32](mat.WithShape(N, in), mat.WithBacking(dx)))
	}
	if o.y.RequiresGrad() { // the base output's gradient is gy itself: handed on last
		transformer.GiveGrad(o.y, gy)
	}
	return nil
}

// delta returns the part's contribution to the base weight in the base's layout: s·B·A
// as (Hi−Lo, in) for a Dense base (dense true), s·(B·A)ᵀ as (in, Hi−Lo) for a Conv1D.
func (p *Part) delta(dense bool) []float32 {
	r, in, w := p.Rank(), p.A.Shape()[1], p.Hi-p.Lo
	d := make([]float32, in*w)
	if dense {
		kernels.Sgemm(false, false, w, in, r, float32(p.Scaling), transformer.Floats(p.B), r, transformer.Floats(p.A), in, 0, d, in)
		return d
	}
	kernels.Sgemm(true, true, in, w, r, float32(p.Scaling), transformer.Floats(p.A), in, transformer.Floats(p.B), r, 0, d, w)
	return d
}

// kaimingUniform fills a (r, in) matrix as torch.nn.init.kaiming_uniform_(a=√5) does:
// U(−1/√in, 1/√in).
func kaimingUniform(d []float32, in int, rng *rand.Rand) {
	bound := 1 / math.Sqrt(float64(in))
	for i := range d {
		d[i] = float32((2*rng.Float64() - 1) * bound)
	}
}
