package optim

import (
	"math"
	"testing"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"
	"github.com/stretchr/testify/assert"
)

// TestClipGrads checks the norm and torch's clip_grad_norm_ scaling on a hand example:
// gradients (3, 4) and (12) have norm 13; a parameter without a gradient is ignored.
func TestClipGrads(t *testing.T) {
	newParam := func(grad ...float32) *nn.Param {
		p := nn.NewParam(mat.NewDense[float32](mat.WithShape(len(grad), 1)))
		p.AccGrad(mat.NewDense[float32](mat.WithShape(len(grad), 1), mat.WithBacking(grad)))
		return p
	}
	tests := []struct {
		maxNorm float64
		scale   float64
	}{
		{0, 1},                   // disabled
		{20, 1},                  // already under the limit
		{6.5, 6.5 / (13 + 1e-6)}, // clipped as torch does
	}
	for _, tt := range tests {
		a, b := newParam(3, 4), newParam(12)
		frozen := nn.NewParam(mat.NewDense[float32](mat.WithShape(1, 1)))
		ps := []*nn.Param{a, frozen, b}
		norm := GradNorm(ps)
		assert.InDelta(t, 13, norm, 1e-12, "GradNorm")
		ClipGrads(ps, norm, tt.maxNorm)
		got := append(mat.Data[float32](a.Grad()), mat.Data[float32](b.Grad())...)
		for i, g := range []float64{3, 4, 12} {
			assert.InDelta(t, g*tt.scale, float64(got[i]), 1e-6, "ClipGrads(maxNorm %g) grad %d", tt.maxNorm, i)
		}
		assert.False(t, frozen.HasGrad(), "a parameter without gradient got one")
	}
	assert.True(t, math.IsNaN(GradNorm([]*nn.Param{newParam(float32(math.NaN()))})))
}

// TestConfigValidate checks that every problem is reported at once, under its key.
func TestConfigValidate(t *testing.T) {
	assert.NoError(t, DefaultConfig().Validate())
	c := Config{LRScheduler: "step", WarmupSteps: 2, WarmupRatio: 0.1, AdamBeta2: 1, WeightDecay: -1, MaxGradNorm: math.Inf(1)}
	err := c.Validate()
	for _, want := range []string{
		"learning_rate: must be > 0, got 0",
		`lr_scheduler: unknown value "step" (allowed: constant, linear, cosine)`,
		"warmup_ratio: set either warmup_steps or warmup_ratio, not both",
		"weight_decay: must be ≥ 0, got -1",
		"adam_beta2: must be in [0, 1), got 1",
		"adam_epsilon: must be > 0, got 0",
		"max_grad_norm: must be ≥ 0 (0 = no clipping), got +Inf",
	} {
		assert.ErrorContains(t, err, want)
	}
}
