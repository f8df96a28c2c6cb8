package transformer

import (
	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"
)

// Dense is torch.nn.Linear, the projection of the Llama family: y = x·Wᵀ + b with W
// stored (out, in) and an optional bias b (out).
type Dense struct {
	nn.Module
	Weight *nn.Param // (out, in)
	Bias   *nn.Param // (out), or nil for a projection without bias
}

// NewDense returns a zero (out, in) Dense with a trainable weight, and a trainable zero
// bias when bias is true.
func NewDense(in, out int, bias bool) *Dense {
	d := &Dense{Weight: NewParam(out, in)}
	if bias {
		d.Bias = NewParam(out, 1)
	}
	return d
}

// Forward returns x·Wᵀ + b for x (N, in).
func (d *Dense) Forward(x mat.Tensor) mat.Tensor { return d.ForwardArena(x, nil) }

// ForwardArena is Forward with the node's buffers from a (see ArenaLinear).
func (d *Dense) ForwardArena(x mat.Tensor, a *Arena) mat.Tensor {
	op := &denseOp{x: x, w: d.Weight}
	if d.Bias != nil {
		op.b = d.Bias // never a typed nil in the interface
	}
	return run(a, op)
}

// InDim returns the width of the input rows.
func (d *Dense) InDim() int { return d.Weight.Shape()[1] }

// OutDim returns the width of the output rows.
func (d *Dense) OutDim() int { return d.Weight.Shape()[0] }
