package transformer

import (
	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"
)

// Norm is a block's normalisation of each row over its C channels: *LayerNorm (GPT-2) or
// *RMSNorm (the Llama family).
type Norm interface {
	// Forward returns the graph node of the normalised x (N, C).
	Forward(x mat.Tensor) mat.Tensor
	// normParams returns the parameters with their names under prefix.
	normParams(prefix string) []NamedParam
	// forwardIn is Forward with the node's buffers from a (nil: fresh memory).
	forwardIn(x mat.Tensor, a *Arena) mat.Tensor
}

// normParams names LayerNorm's weight and bias.
func (ln *LayerNorm) normParams(prefix string) []NamedParam {
	return []NamedParam{{prefix + ".weight", ln.Weight}, {prefix + ".bias", ln.Bias}}
}

// RMSNorm is Hugging Face's LlamaRMSNorm: y = x · rsqrt(mean(x²) + eps) · Weight, over the
// C channels of each row, in float32, with no bias and no mean subtraction.
type RMSNorm struct {
	nn.Module
	Weight *nn.Param // (C), initialised to 1
	Eps    float32
}

// NewRMSNorm returns an RMSNorm of width c with weight 1.
func NewRMSNorm(c int, eps float32) *RMSNorm {
	n := &RMSNorm{Weight: NewParam(c, 1), Eps: eps}
	w := Floats(n.Weight)
	for i := range w {
		w[i] = 1
	}
	return n
}

// Forward normalises x (N, C).
func (n *RMSNorm) Forward(x mat.Tensor) mat.Tensor { return n.forwardIn(x, nil) }

func (n *RMSNorm) forwardIn(x mat.Tensor, a *Arena) mat.Tensor {
	return run(a, &rmsNormOp{x: x, w: n.Weight, eps: n.Eps})
}

func (n *RMSNorm) normParams(prefix string) []NamedParam {
	return []NamedParam{{prefix + ".weight", n.Weight}}
}

// newNorm returns the norm of cfg's family, of width c.
func newNorm(cfg Config, c int) Norm {
	if cfg.IsLlama() {
		return NewRMSNorm(c, float32(cfg.LayerNormEps))
	}
	return NewLayerNorm(c, float32(cfg.LayerNormEps))
}
