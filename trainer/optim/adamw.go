package optim

import (
	"fmt"
	"math"
	"slices"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"
)

// AdamW is torch.optim.AdamW (Loshchilov & Hutter, arXiv:1711.05101) over a fixed list of
// parameters, with the same order of float32 operations as PyTorch's single-tensor
// implementation. Like PyTorch, a parameter without a gradient is skipped by a step and
// keeps its own step count. It is written here rather than taken from spago, whose
// optimizer returns before its updates finish.
type AdamW struct {
	Config Config // AdamBeta1, AdamBeta2, AdamEpsilon and WeightDecay are used
	Params []*nn.Param
	state  []adamState
}

// adamState is one parameter's moments and step count.
type adamState struct {
	step     int
	expAvg   []float32 // first moment m
	expAvgSq []float32 // second moment v
}

// NewAdamW returns an optimizer for params with zero moments, with cfg's betas, epsilon
// and weight decay; the learning rate is given to each Step.
func NewAdamW(params []*nn.Param, cfg Config) *AdamW {
	return &AdamW{Config: cfg, Params: params, state: make([]adamState, len(params))}
}

// Step applies one update with learning rate lr to every parameter that has a gradient.
func (o *AdamW) Step(lr float64) {
	c := o.Config
	for i, p := range o.Params {
		if !p.HasGrad() { // Grad() is then a typed nil
			continue
		}
		grad := mat.Data[float32](p.Grad())
		w := mat.Data[float32](p)
		s := &o.state[i]
		if s.expAvg == nil {
			s.expAvg = make([]float32, len(w))
			s.expAvgSq = make([]float32, len(w))
		}
		s.step++
		decay := float32(1 - lr*c.WeightDecay)
		b1, b2 := float32(c.AdamBeta1), float32(c.AdamBeta2)
		bc1 := 1 - math.Pow(c.AdamBeta1, float64(s.step))
		bc2 := 1 - math.Pow(c.AdamBeta2, float64(s.step))
		stepSize := float32(lr / bc1)
		bc2Sqrt := float32(math.Sqrt(bc2))
		eps := float32(c.AdamEpsilon)
		m, v := s.expAvg, s.expAvgSq
		for j, gj := range grad {
			w[j] *= decay
			m[j] = m[j]*b1 + gj*(1-b1)
			v[j] = v[j]*b2 + gj*gj*(1-b2)
			denom := float32(math.Sqrt(float64(v[j])))/bc2Sqrt + eps
			w[j] -= stepSize * (m[j] / denom)
		}
	}
}

// ZeroGrad clears the gradients of every parameter (spago adds into existing ones).
func (o *AdamW) ZeroGrad() {
	for _, p := range o.Params {
		p.ZeroGrad()
	}
}

// State returns parameter i's step count and moments (nil before its first step); the
// slices are the optimizer's own.
func (o *AdamW) State(i int) (step int, expAvg, expAvgSq []float32) {
	s := o.state[i]
	return s.step, s.expAvg, s.expAvgSq
}

// SetState restores parameter i's step count and moments (copied), as State returned
// them; nil moments reset it to before its first step.
func (o *AdamW) SetState(i, step int, expAvg, expAvgSq []float32) error {
	n := o.Params[i].Size()
	if expAvg == nil {
		o.state[i] = adamState{}
		return nil
	}
	if len(expAvg) != n || len(expAvgSq) != n {
		return fmt.Errorf("adamw: state of parameter %d has %d and %d moments, want %d", i, len(expAvg), len(expAvgSq), n)
	}
	o.state[i] = adamState{step: step, expAvg: slices.Clone(expAvg), expAvgSq: slices.Clone(expAvgSq)}
	return nil
}
