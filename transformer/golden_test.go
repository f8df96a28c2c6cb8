package transformer

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/nlpodyssey/spago/ag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/internal/numtest"
	"github.com/llmtune/llmtune/internal/reftest"
	"github.com/llmtune/llmtune/transformer/kernels"
)

// The golden files come from testdata/gen_reference.py (PyTorch); see its docstring.
var refDir = reftest.Dir()

// Tolerances against PyTorch: logits absolute, loss absolute, gradients relative to the
// largest element of each tensor.
const (
	logitsTol = 2e-5
	lossTol   = 1e-5
	gradTol   = 1e-4
)

var flatten = reftest.Flatten

var bothPaths = reftest.BothPaths

func TestGoldenLogits(t *testing.T) { bothPaths(t, testGoldenLogits) }

func testGoldenLogits(t *testing.T) {
	g := reftest.Load(t)
	m, err := Load(filepath.Join(refDir, "tiny-f32"))
	require.NoError(t, err)
	for _, T := range []int{1, 7, 33} {
		name := fmt.Sprintf("logits.T%d", T)
		numtest.AssertClose(t, name, flatten(m.Logits(g.Ints(t, fmt.Sprintf("ids.T%d", T)))), g.Tensor(t, name), logitsTol)
	}
}

func TestGoldenLogitsBF16Hub(t *testing.T) { bothPaths(t, testGoldenLogitsBF16Hub) }

func testGoldenLogitsBF16Hub(t *testing.T) {
	g := reftest.Load(t)
	m, err := Load(filepath.Join(refDir, "tiny-bf16"))
	require.NoError(t, err)
	numtest.AssertClose(t, "logits_bf16.T33", flatten(m.Logits(g.Ints(t, "ids.T33"))), g.Tensor(t, "logits_bf16.T33"), logitsTol)
}

func TestGoldenLossAndGradients(t *testing.T) { bothPaths(t, testGoldenLossAndGradients) }

func testGoldenLossAndGradients(t *testing.T) {
	g := reftest.Load(t)
	m, err := Load(filepath.Join(refDir, "tiny-f32"))
	require.NoError(t, err)
	loss, err := m.Loss(Batch(g.Batch(t)))
	require.NoError(t, err)
	assert.InDelta(t, g.Float(t, "loss"), float64(loss.Value().Item().F32()), lossTol, "loss")
	require.NoError(t, ag.Backward(loss))
	for _, p := range m.Params() {
		require.True(t, p.Param.HasGrad(), "%s has no gradient", p.Name)
		numtest.AssertCloseRel(t, "grad."+p.Name, Floats(p.Param.Grad()), g.Tensor(t, "grad."+p.Name), gradTol)
	}

	// EvalLoss gives the same loss and builds no gradient.
	for _, p := range m.Params() {
		p.Param.ZeroGrad()
	}
	sum, n, err := m.EvalLoss(Batch(g.Batch(t)))
	require.NoError(t, err)
	assert.InDelta(t, g.Float(t, "loss"), sum/float64(n), lossTol, "eval loss")
}

// TestGoldenFrozen checks that frozen parameters receive no gradient while the ones left
// trainable still get PyTorch's.
func TestGoldenFrozen(t *testing.T) {
	g := reftest.Load(t)
	m, err := Load(filepath.Join(refDir, "tiny-f32"))
	require.NoError(t, err)
	m.SetTrainable(false)
	ln := m.Blocks[0].LN2.(*LayerNorm)
	ln.Weight.SetRequiresGrad(true)
	loss, err := m.Loss(Batch(g.Batch(t)))
	require.NoError(t, err)
	require.NoError(t, ag.Backward(loss))
	for _, p := range m.Params() {
		if p.Param == ln.Weight {
			numtest.AssertCloseRel(t, "grad."+p.Name, Floats(p.Param.Grad()), g.Tensor(t, "grad."+p.Name), gradTol)
			continue
		}
		assert.False(t, p.Param.HasGrad(), "frozen %s got a gradient", p.Name)
	}
}

func TestGoldenGELU(t *testing.T) {
	g := reftest.Load(t)
	var gelu struct{ X, Y []float32 }
	g.Decode(t, "gelu", &gelu)
	require.NotEmpty(t, gelu.X)
	got := make([]float32, len(gelu.X))
	kernels.GeluForward(got, gelu.X, len(got))
	numtest.AssertClose(t, "gelu_tanh", got, gelu.Y, 1e-6)
}

// TestBatchRowsIndependent checks that a batch of rows computes what each row computes
// alone, and that packing two examples in one row (segments, restarting positions)
// computes what each example computes alone.
func TestBatchRowsIndependent(t *testing.T) {
	g := reftest.Load(t)
	m, err := Load(filepath.Join(refDir, "tiny-f32"))
	require.NoError(t, err)
	b := Batch(g.Batch(t))
	h, err := m.Forward(b)
	require.NoError(t, err)
	all := Floats(h)
	C, T := m.Config.EmbedDim, len(b.IDs[0])
	alone := func(ids []int) []float32 {
		h, err := m.Forward(Batch{IDs: [][]int{ids}})
		require.NoError(t, err)
		return Floats(h)
	}
	numtest.AssertClose(t, "row 0", all[:T*C], alone(b.IDs[0]), 1e-6)
	numtest.AssertClose(t, "row 2 example 1", all[(2*T)*C:(2*T+20)*C], alone(b.IDs[2][:20]), 1e-6)
	numtest.AssertClose(t, "row 2 example 2", all[(2*T+20)*C:3*T*C], alone(b.IDs[2][20:]), 1e-6)
}

func TestLossErrors(t *testing.T) {
	m, err := Load(filepath.Join(refDir, "tiny-f32"))
	require.NoError(t, err)
	V := m.Config.VocabSize
	for _, c := range []struct {
		b    Batch
		want string
	}{
		{Batch{}, "empty batch"},
		{Batch{IDs: [][]int{{1, 2}}}, "no targets"},
		{Batch{IDs: [][]int{{1, 2}}, Targets: [][]int{{IgnoreIndex, IgnoreIndex}}}, "no target that counts"},
		{Batch{IDs: [][]int{{1, V}}, Targets: [][]int{{1, 2}}}, fmt.Sprintf("ids[0][1] = %d is outside", V)},
		{Batch{IDs: [][]int{{1, 2}, {3}}, Targets: [][]int{{1, 2}, {1}}}, "ids row 1 has length 1, want 2"},
		{Batch{IDs: [][]int{{1, 2}}, Targets: [][]int{{1, -5}}}, "targets[0][1] = -5"},
		{Batch{IDs: [][]int{{1, 2}}, Targets: [][]int{{1, 2}}, Positions: [][]int{{0, 128}}}, "positions[0][1] = 128"},
		{Batch{IDs: [][]int{make([]int, 129)}, Targets: [][]int{make([]int, 129)}}, "exceeds n_positions 128"},
	} {
		_, err := m.Loss(c.b)
		if assert.Error(t, err, "Loss(%v)", c.b.IDs) {
			assert.Contains(t, err.Error(), c.want)
		}
	}
}
