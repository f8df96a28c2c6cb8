package transformer

import (
	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"
)

// Linear is the seam LoRA plugs into: a projection applied to every row of its input,
// (N, InDim()) → (N, OutDim()). Every projection of a Block is a Linear; Conv1D (GPT-2)
// and Dense (the Llama family) are the plain ones, and package lora wraps them in a Linear
// of its own.
type Linear interface {
	// Forward returns the graph node of the projection of x (N, InDim()).
	Forward(x mat.Tensor) mat.Tensor
	InDim() int
	OutDim() int
}

// ArenaLinear is a Linear whose graph nodes can take their buffers from an Arena: a
// model's forward pass with an arena (Model.SetArena) calls ForwardArena instead of
// Forward. ForwardArena(x, nil) is Forward(x). ForwardArena must build its nodes with
// a.RunOp, or through ForwardIn (a wrapper, for its base), so that the arena knows what
// reads which buffer, and must never hand its parameters a lent gradient. A Linear that
// does not implement it builds its nodes in fresh memory, arena or not.
type ArenaLinear interface {
	Linear
	ForwardArena(x mat.Tensor, a *Arena) mat.Tensor
}

// ForwardIn returns the projection of x by l, with buffers from a where l is an
// ArenaLinear. Any other Linear gets x's buffer pinned until the arena's release, since
// its nodes read x without the arena knowing when they are done.
func ForwardIn(l Linear, x mat.Tensor, a *Arena) mat.Tensor {
	if a == nil {
		return l.Forward(x)
	}
	if al, ok := l.(ArenaLinear); ok {
		return al.ForwardArena(x, a)
	}
	a.pin(x)
	return l.Forward(x)
}

// Wrapper is implemented by a Linear that wraps another one (a LoRA layer around its
// frozen base); Base returns the wrapped Linear.
type Wrapper interface {
	Base() Linear
}

// Base unwraps l through any Wrapper layers down to the plain projection at its core (a
// *Conv1D or a *Dense), or returns l itself if it wraps nothing.
func Base(l Linear) Linear {
	for {
		w, ok := l.(Wrapper)
		if !ok {
			return l
		}
		l = w.Base()
	}
}

// BaseConv1D unwraps l through any Wrapper layers down to the Conv1D at its core, or
// returns nil if there is none.
func BaseConv1D(l Linear) *Conv1D {
	c, _ := Base(l).(*Conv1D)
	return c
}

// Conv1D is GPT-2's projection: y = x·W + b with W stored (in, out), the transpose of
// torch.nn.Linear's layout, and b (out).
type Conv1D struct {
	nn.Module
	Weight *nn.Param // (in, out)
	Bias   *nn.Param // (out)
}

// NewConv1D returns a zero (in, out) Conv1D with trainable weight and bias.
func NewConv1D(in, out int) *Conv1D {
	return &Conv1D{Weight: NewParam(in, out), Bias: NewParam(out, 1)}
}

// Forward returns x·W + b for x (N, in).
func (l *Conv1D) Forward(x mat.Tensor) mat.Tensor { return l.ForwardArena(x, nil) }

// ForwardArena is Forward with the node's buffers from a (see ArenaLinear).
func (l *Conv1D) ForwardArena(x mat.Tensor, a *Arena) mat.Tensor {
	return run(a, &conv1DOp{x: x, w: l.Weight, b: l.Bias})
}

// InDim returns the width of the input rows.
func (l *Conv1D) InDim() int { return l.Weight.Shape()[0] }

// OutDim returns the width of the output rows.
func (l *Conv1D) OutDim() int { return l.Weight.Shape()[1] }

// LayerNorm normalises each row over its C channels, then applies Weight and Bias (C).
type LayerNorm struct {
	nn.Module
	Weight *nn.Param // (C), initialised to 1
	Bias   *nn.Param // (C), initialised to 0
	Eps    float32
}

// NewLayerNorm returns a LayerNorm of width c with weight 1 and bias 0.
func NewLayerNorm(c int, eps float32) *LayerNorm {
	ln := &LayerNorm{Weight: NewParam(c, 1), Bias: NewParam(c, 1), Eps: eps}
	w := Floats(ln.Weight)
	for i := range w {
		w[i] = 1
	}
	return ln
}

// Forward normalises x (N, C).
func (ln *LayerNorm) Forward(x mat.Tensor) mat.Tensor { return ln.forwardIn(x, nil) }

func (ln *LayerNorm) forwardIn(x mat.Tensor, a *Arena) mat.Tensor {
	return run(a, &layerNormOp{x: x, w: ln.Weight, b: ln.Bias, eps: ln.Eps})
}

// NewParam returns a zeroed trainable float32 parameter of shape (rows, cols); a vector
// is (n, 1), as every bias and LayerNorm parameter of this package.
func NewParam(rows, cols int) *nn.Param {
	p := &nn.Param{Matrix: newDense(rows, cols)}
	p.SetRequiresGrad(true)
	return p
}
