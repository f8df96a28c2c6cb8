package transformer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/nlpodyssey/spago/ag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/internal/numtest"
	"github.com/llmtune/llmtune/transformer/kernels"
	"github.com/llmtune/llmtune/transformer/safetensors"
)

// The golden files come from testdata/gen_reference.py (PyTorch); see its docstring.
var refDir = filepath.Join("..", "testdata", "reference")

// Tolerances of the issue: logits absolute, loss absolute, gradients relative to the
// largest element of each tensor.
const (
	logitsTol = 2e-5
	lossTol   = 1e-5
	gradTol   = 1e-4
)

type goldenBatch struct {
	IDs     [][]int `json:"ids"`
	Targets [][]int `json:"targets"`
	Pos     [][]int `json:"pos"`
	Seg     [][]int `json:"seg"`
}

type golden struct {
	IDs1  []int       `json:"ids.T1"`
	IDs7  []int       `json:"ids.T7"`
	IDs33 []int       `json:"ids.T33"`
	Batch goldenBatch `json:"batch"`
	Loss  float64     `json:"loss"`
	GELU  struct {
		X []float32 `json:"x"`
		Y []float32 `json:"y"`
	} `json:"gelu"`
	tensors *safetensors.File
}

func loadGolden(t *testing.T) *golden {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(refDir, "expected.json"))
	require.NoError(t, err)
	g := &golden{}
	require.NoError(t, json.Unmarshal(raw, g))
	g.tensors, err = safetensors.Open(filepath.Join(refDir, "expected.safetensors"))
	require.NoError(t, err)
	t.Cleanup(func() { g.tensors.Close() })
	return g
}

// tensor returns an expected tensor by name.
func (g *golden) tensor(t *testing.T, name string) []float32 {
	t.Helper()
	info, ok := g.tensors.Tensor(name)
	require.True(t, ok, "expected.safetensors has no %s", name)
	out := make([]float32, info.NumElements())
	require.NoError(t, g.tensors.ReadFloat32(name, out))
	return out
}

func (b goldenBatch) batch() Batch {
	return Batch{IDs: b.IDs, Targets: b.Targets, Positions: b.Pos, Segments: b.Seg}
}

func flatten(rows [][]float32) []float32 {
	var out []float32
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

// bothPaths runs f with the AVX2 kernels (where the CPU has them) and with the pure-Go
// fallback, so that CI checks both against PyTorch.
func bothPaths(t *testing.T, f func(t *testing.T)) {
	for _, pure := range []bool{false, true} {
		t.Run(fmt.Sprintf("purego=%v", pure), func(t *testing.T) {
			prev := kernels.SetPureGo(pure)
			defer kernels.SetPureGo(prev)
			f(t)
		})
	}
}

func TestGoldenLogits(t *testing.T) { bothPaths(t, testGoldenLogits) }

func testGoldenLogits(t *testing.T) {
	g := loadGolden(t)
	m, err := Load(filepath.Join(refDir, "tiny-f32"))
	require.NoError(t, err)
	for _, c := range []struct {
		name string
		ids  []int
	}{{"logits.T1", g.IDs1}, {"logits.T7", g.IDs7}, {"logits.T33", g.IDs33}} {
		require.NotEmpty(t, c.ids)
		numtest.AssertClose(t, c.name, flatten(m.Logits(c.ids)), g.tensor(t, c.name), logitsTol)
	}
}

func TestGoldenLogitsBF16Hub(t *testing.T) { bothPaths(t, testGoldenLogitsBF16Hub) }

func testGoldenLogitsBF16Hub(t *testing.T) {
	g := loadGolden(t)
	m, err := Load(filepath.Join(refDir, "tiny-bf16"))
	require.NoError(t, err)
	numtest.AssertClose(t, "logits_bf16.T33", flatten(m.Logits(g.IDs33)), g.tensor(t, "logits_bf16.T33"), logitsTol)
}

func TestGoldenLossAndGradients(t *testing.T) { bothPaths(t, testGoldenLossAndGradients) }

func testGoldenLossAndGradients(t *testing.T) {
	g := loadGolden(t)
	m, err := Load(filepath.Join(refDir, "tiny-f32"))
	require.NoError(t, err)
	loss, err := m.Loss(g.Batch.batch())
	require.NoError(t, err)
	assert.InDelta(t, g.Loss, float64(loss.Value().Item().F32()), lossTol, "loss")
	require.NoError(t, ag.Backward(loss))
	for _, p := range m.Params() {
		require.True(t, p.Param.HasGrad(), "%s has no gradient", p.Name)
		numtest.AssertCloseRel(t, "grad."+p.Name, data(p.Param.Grad()), g.tensor(t, "grad."+p.Name), gradTol)
	}

	// EvalLoss gives the same loss and builds no gradient.
	for _, p := range m.Params() {
		p.Param.ZeroGrad()
	}
	sum, n, err := m.EvalLoss(g.Batch.batch())
	require.NoError(t, err)
	assert.InDelta(t, g.Loss, sum/float64(n), lossTol, "eval loss")
}

// TestGoldenFrozen checks that frozen parameters receive no gradient while the ones left
// trainable still get PyTorch's.
func TestGoldenFrozen(t *testing.T) {
	g := loadGolden(t)
	m, err := Load(filepath.Join(refDir, "tiny-f32"))
	require.NoError(t, err)
	m.SetTrainable(false)
	ln := m.Blocks[0].LN2
	ln.Weight.SetRequiresGrad(true)
	loss, err := m.Loss(g.Batch.batch())
	require.NoError(t, err)
	require.NoError(t, ag.Backward(loss))
	for _, p := range m.Params() {
		if p.Param == ln.Weight {
			numtest.AssertCloseRel(t, "grad."+p.Name, data(p.Param.Grad()), g.tensor(t, "grad."+p.Name), gradTol)
			continue
		}
		assert.False(t, p.Param.HasGrad(), "frozen %s got a gradient", p.Name)
	}
}

func TestGoldenGELU(t *testing.T) {
	g := loadGolden(t)
	require.NotEmpty(t, g.GELU.X)
	got := make([]float32, len(g.GELU.X))
	kernels.GeluForward(got, g.GELU.X, len(got))
	numtest.AssertClose(t, "gelu_tanh", got, g.GELU.Y, 1e-6)
}

// TestBatchRowsIndependent checks that a batch of rows computes what each row computes
// alone, and that packing two examples in one row (segments, restarting positions)
// computes what each example computes alone.
func TestBatchRowsIndependent(t *testing.T) {
	g := loadGolden(t)
	m, err := Load(filepath.Join(refDir, "tiny-f32"))
	require.NoError(t, err)
	b := g.Batch.batch()
	h, err := m.Forward(b)
	require.NoError(t, err)
	all := data(h)
	C, T := m.Config.EmbedDim, len(b.IDs[0])
	alone := func(ids []int) []float32 {
		h, err := m.Forward(Batch{IDs: [][]int{ids}})
		require.NoError(t, err)
		return data(h)
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
