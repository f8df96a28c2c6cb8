package optim

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/internal/numtest"
	"github.com/llmtune/llmtune/internal/reftest"
	"github.com/llmtune/llmtune/lora"
	"github.com/llmtune/llmtune/transformer"
)

// TestAdamWGolden runs 3 AdamW steps (lr 1e-2, weight decay 0.01) on every parameter of
// the reference model and compares the losses and some updated weights with PyTorch's.
func TestAdamWGolden(t *testing.T) {
	g := reftest.Load(t)
	var adam struct {
		LR          float64   `json:"lr"`
		Betas       []float64 `json:"betas"`
		Eps         float64   `json:"eps"`
		WeightDecay float64   `json:"weight_decay"`
		Losses      []float64 `json:"losses"`
	}
	g.Decode(t, "adamw", &adam)
	require.Len(t, adam.Losses, 4)
	batch := transformer.Batch(g.Batch(t))

	m, err := transformer.Load(reftest.Path("tiny-f32"))
	require.NoError(t, err)
	var params []*nn.Param
	byName := map[string]*nn.Param{}
	for _, p := range m.Params() {
		params = append(params, p.Param)
		byName[p.Name] = p.Param
	}
	opt := NewAdamW(params, Config{AdamBeta1: adam.Betas[0], AdamBeta2: adam.Betas[1], AdamEpsilon: adam.Eps, WeightDecay: adam.WeightDecay})
	for step := 0; step < 4; step++ {
		opt.ZeroGrad()
		loss, err := m.Loss(batch)
		require.NoError(t, err)
		assert.InDelta(t, adam.Losses[step], float64(loss.Value().Item().F32()), 1e-5, "loss before step %d", step+1)
		if step == 3 {
			break
		}
		require.NoError(t, ag.Backward(loss))
		opt.Step(adam.LR)
	}
	for _, name := range []string{"wte.weight", "h.1.attn.c_attn.weight", "ln_f.bias"} {
		// Adam divides each gradient element by its own magnitude, so an element whose
		// gradient is small next to the tensor's largest carries float32 noise of ~1e-3
		// relative into its update: compare the weights to 1e-3 of the tensor's max (a step
		// moves them by up to 1e-2). TestAdamWSteps pins the arithmetic exactly.
		numtest.AssertCloseRel(t, "after 3 steps "+name, mat.Data[float32](byName[name]), g.Tensor(t, "adamw3."+name), 1e-3)
	}
}

// TestAdamWSteps checks two updates of one parameter against the AdamW formulas in
// float64: decoupled weight decay, bias-corrected moments, eps outside the square root;
// and that a parameter without a gradient is skipped.
func TestAdamWSteps(t *testing.T) {
	p := nn.NewParam(mat.NewDense[float32](mat.WithShape(2, 1), mat.WithBacking([]float32{0.5, -2})))
	frozen := nn.NewParam(mat.NewDense[float32](mat.WithShape(1, 1), mat.WithBacking([]float32{3})))
	cfg := Config{AdamBeta1: 0.8, AdamBeta2: 0.9, AdamEpsilon: 1e-3, WeightDecay: 0.1}
	opt := NewAdamW([]*nn.Param{p, frozen}, cfg)
	grads := [][]float32{{0.3, -1}, {-0.2, 4}}
	lrs := []float64{0.1, 0.05}
	w := []float64{0.5, -2}
	m, v := []float64{0, 0}, []float64{0, 0}
	for step := range 2 {
		opt.ZeroGrad()
		p.AccGrad(mat.NewDense[float32](mat.WithShape(2, 1), mat.WithBacking(grads[step])))
		opt.Step(lrs[step])
		lr := lrs[step]
		for j := range w {
			g := float64(grads[step][j])
			w[j] *= 1 - lr*cfg.WeightDecay
			m[j] = cfg.AdamBeta1*m[j] + (1-cfg.AdamBeta1)*g
			v[j] = cfg.AdamBeta2*v[j] + (1-cfg.AdamBeta2)*g*g
			mHat := m[j] / (1 - math.Pow(cfg.AdamBeta1, float64(step+1)))
			vHat := v[j] / (1 - math.Pow(cfg.AdamBeta2, float64(step+1)))
			w[j] -= lr * mHat / (math.Sqrt(vHat) + cfg.AdamEpsilon)
		}
		got := mat.Data[float32](p)
		for j := range w {
			assert.InDelta(t, w[j], float64(got[j]), 1e-6, "step %d weight %d", step+1, j)
		}
	}
	assert.Equal(t, float32(3), mat.Data[float32](frozen)[0], "a parameter without gradient moved")
}

// TestAdamWGoldenLoRA runs 3 AdamW steps on the LoRA parameters only (r=4, alpha=8 on q
// and v, the reference's initial A and B) and compares with PyTorch.
func TestAdamWGoldenLoRA(t *testing.T) {
	g := reftest.Load(t)
	var losses []float64
	g.Decode(t, "lora_adamw_losses", &losses)
	require.Len(t, losses, 4)
	batch := transformer.Batch(g.Batch(t))

	m, err := transformer.Load(reftest.Path("tiny-f32"))
	require.NoError(t, err)
	ad, err := lora.Apply(m, lora.Config{Rank: 4, Alpha: 8}, rand.New(rand.NewPCG(1, 1)))
	require.NoError(t, err)
	var params []*nn.Param
	for _, p := range ad.Params() {
		copy(mat.Data[float32](p.Param), g.Tensor(t, "lora_init."+p.Name))
		params = append(params, p.Param)
	}
	opt := NewAdamW(params, Config{AdamBeta1: 0.9, AdamBeta2: 0.999, AdamEpsilon: 1e-8, WeightDecay: 0.01})
	for step := range 4 {
		opt.ZeroGrad()
		loss, err := m.Loss(batch)
		require.NoError(t, err)
		assert.InDelta(t, losses[step], float64(loss.Value().Item().F32()), 1e-5, "loss before step %d", step+1)
		if step == 3 {
			break
		}
		require.NoError(t, ag.Backward(loss))
		opt.Step(1e-2)
	}
	for _, p := range ad.Params() {
		numtest.AssertCloseRel(t, "after 3 steps "+p.Name, mat.Data[float32](p.Param), g.Tensor(t, "lora_adamw3."+p.Name), 1e-3)
	}
}
