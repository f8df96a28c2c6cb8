package optim

import (
	"math"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"
)

// GradNorm returns the global L2 norm of the gradients of params, accumulated in float64;
// parameters without a gradient count as zero.
func GradNorm(params []*nn.Param) float64 {
	var ss float64
	for _, p := range params {
		if !p.HasGrad() {
			continue
		}
		for _, v := range mat.Data[float32](p.Grad()) {
			ss += float64(v) * float64(v)
		}
	}
	return math.Sqrt(ss)
}

// ClipGrads scales the gradients of params so that their global norm, given as norm
// (GradNorm's result), is at most maxNorm, as torch.nn.utils.clip_grad_norm_ does: by
// maxNorm / (norm + 1e-6) when norm > maxNorm. maxNorm 0 disables clipping.
func ClipGrads(params []*nn.Param, norm, maxNorm float64) {
	if maxNorm <= 0 || !(norm > maxNorm) {
		return
	}
	scale := float32(maxNorm / (norm + 1e-6))
	for _, p := range params {
		if !p.HasGrad() {
			continue
		}
		g := mat.Data[float32](p.Grad())
		for i := range g {
			g[i] *= scale
		}
	}
}
