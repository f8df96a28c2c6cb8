package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
)

// assertULP fails t where got differs from want by more than rel·|want| + abs, or in
// NaN-ness; equal values (infinities too) always pass. It logs the worst relative
// difference among elements of magnitude 1e-3 or more.
func assertULP(t *testing.T, name string, got, want []float32, rel, abs float64) {
	t.Helper()
	worst := 0.0
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if g == w || (math.IsNaN(g) && math.IsNaN(w)) {
			continue
		}
		d := math.Abs(g - w)
		if !(d <= rel*math.Abs(w)+abs) {
			t.Fatalf("%s: [%d] = %.9g, want %.9g (diff %.3g)", name, i, g, w, d)
		}
		if math.Abs(w) >= 1e-3 {
			worst = math.Max(worst, d/math.Abs(w))
		}
	}
	t.Logf("%s: worst relative difference %.3g (|want| ≥ 1e-3)", name, worst)
}

// swigluInputs returns n gate values: normal ones at several scales, and edge cases.
func swigluInputs(rng *rand.Rand, n int) []float32 {
	g := randSlice(rng, n, 4)
	edges := []float32{0, float32(math.Copysign(0, -1)), 1e-8, -1e-8, 1, -1, 10, -10, 20, -20, 87, -87, 88.5, -88.5, 89, -89, 100, -100, 3e38, -3e38}
	for i := 0; i < n && i < len(edges); i++ {
		g[i] = edges[i]
	}
	return g
}

func TestSwiGLUAgainstRef(t *testing.T) { onEveryPath(t, testSwiGLUAgainstRef) }

func testSwiGLUAgainstRef(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	for _, n := range []int{1, 7, 33, 130, 40000} {
		name := fmt.Sprintf("n%d", n)
		gate, up := swigluInputs(rng, n), randSlice(rng, n, 1)
		got, want := make([]float32, n), make([]float32, n)
		SwiGLUForward(got, gate, up, n)
		swigluForwardRef(want, gate, up, n)
		// A few ulp relative (expf, a division, two products), and 3e-37 absolute
		// for gate < −88.7.
		assertULP(t, name+" out", got, want, 6e-7, 3e-37)
		dout := randSlice(rng, n, 1)
		dg, du := make([]float32, n), make([]float32, n)
		dgR, duR := make([]float32, n), make([]float32, n)
		SwiGLUBackward(dg, du, dout, gate, up, n)
		swigluBackwardRef(dgR, duR, dout, gate, up, n)
		// dgate has a zero at gate ≈ −1.28 where 1 + x·(1 − σ) cancels: 1e-6 absolute.
		assertULP(t, name+" dgate", dg, dgR, 2e-6, 1e-6)
		assertULP(t, name+" dup", du, duR, 6e-7, 3e-37)
		// The backward adds into nonzero gradients, and skips nil ones.
		dg0, du0 := randSlice(rng, n, 1), randSlice(rng, n, 1)
		dg1, du1 := append([]float32(nil), dg0...), append([]float32(nil), du0...)
		SwiGLUBackward(dg1, nil, dout, gate, up, n)
		SwiGLUBackward(nil, du1, dout, gate, up, n)
		for i := range dg0 {
			dg0[i] += dg[i]
			du0[i] += du[i]
		}
		assert.Equal(t, dg0, dg1, "%s dgate added", name)
		assert.Equal(t, du0, du1, "%s dup added", name)
	}
}

// TestSwiGLUValues checks SwiGLUForward on values worked out by hand, in place; 18
// elements, so that the vector paths have whole vectors and a partial one.
func TestSwiGLUValues(t *testing.T) { onEveryPath(t, testSwiGLUValues) }

func testSwiGLUValues(t *testing.T) {
	gate := []float32{0, 1, -1, 2, 100, -100, 0.5, -0.5, 3, -3, 7, -7, 20, -20, 0.25, -0.25, 4, -4}
	up := []float32{5, 2, 2, 0.5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, -1, -1}
	want := make([]float32, len(gate))
	for i, g := range gate {
		want[i] = float32(float64(g) / (1 + math.Exp(-float64(g))) * float64(up[i]))
	}
	SwiGLUForward(gate, gate, up, len(gate))
	assertULP(t, "in place", gate, want, 6e-7, 3e-37)
	assert.Equal(t, float32(0), gate[0], "silu(0)·5")
	assert.Equal(t, float32(300), gate[4], "silu(100)·3")
}

// TestSwiGLUBackwardFiniteDiff checks SwiGLUBackward against central differences of
// SwiGLUForward through the loss Σ out ⊙ w.
func TestSwiGLUBackwardFiniteDiff(t *testing.T) { onEveryPath(t, testSwiGLUBackwardFiniteDiff) }

func testSwiGLUBackwardFiniteDiff(t *testing.T) {
	rng := rand.New(rand.NewPCG(73, 74))
	const n = 200
	gate, up, w := randSlice(rng, n, 3), randSlice(rng, n, 1), randSlice(rng, n, 1)
	out := make([]float32, n)
	loss := func() float64 {
		SwiGLUForward(out, gate, up, n)
		return dotLoss(out, w)
	}
	dg, du := make([]float32, n), make([]float32, n)
	SwiGLUBackward(dg, du, w, gate, up, n)
	checkGradFD(t, "dgate", gate, dg, sampleIdx(n, n), 1e-2, 1e-4, loss)
	checkGradFD(t, "dup", up, du, sampleIdx(n, n), 1e-2, 1e-4, loss)
}

// TestSwiGLUPathsAgree checks that every vector path gives the pure-Go path's bits, in
// the forward (also in place) and in the backward (also with one gradient nil): on
// lengths that leave partial vectors (and, above 16,384, several parallel ranges), on
// gates below −88.7 (where e^−gate overflows), huge, infinite and NaN.
func TestSwiGLUPathsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(77, 78))
	edges := expfEdges()
	for i := range edges {
		edges[i] = -edges[i] // expf's edges, as −gate
	}
	edges = append(edges, -88.7, -88.8, -89, -90, -150, -1e6)
	type result struct{ out, inPlace, dg, du, dgOnly, duOnly []float32 }
	run := func(p Path, gate, up, dout, dg0, du0 []float32) result {
		defer SetPath(SetPath(p))
		n := len(gate)
		var r result
		r.out = make([]float32, n)
		SwiGLUForward(r.out, gate, up, n)
		r.inPlace = append([]float32(nil), up...)
		SwiGLUForward(r.inPlace, gate, r.inPlace, n)
		r.dg, r.du = append([]float32(nil), dg0...), append([]float32(nil), du0...)
		SwiGLUBackward(r.dg, r.du, dout, gate, up, n)
		r.dgOnly, r.duOnly = append([]float32(nil), dg0...), append([]float32(nil), du0...)
		SwiGLUBackward(r.dgOnly, nil, dout, gate, up, n)
		SwiGLUBackward(nil, r.duOnly, dout, gate, up, n)
		return r
	}
	for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 31, 33, 130, len(edges), 40000 + 5} {
		gate := randSlice(rng, n, 5)
		if n == len(edges) {
			copy(gate, edges)
		} else if n > len(edges) {
			for i, e := range edges { // scattered, so that every lane position sees some
				gate[i*37%n] = e
			}
		}
		up, dout := randSlice(rng, n, 1), randSlice(rng, n, 1)
		dg0, du0 := randSlice(rng, n, 1), randSlice(rng, n, 1)
		want := run(PathGo, gate, up, dout, dg0, du0)
		for _, p := range vectorPaths() {
			got := run(p, gate, up, dout, dg0, du0)
			name := fmt.Sprintf("%v/n%d", p, n)
			assertSameBits(t, name+" out", got.out, want.out)
			assertSameBits(t, name+" out in place", got.inPlace, want.inPlace)
			assertSameBits(t, name+" dgate", got.dg, want.dg)
			assertSameBits(t, name+" dup", got.du, want.du)
			assertSameBits(t, name+" dgate alone", got.dgOnly, want.dgOnly)
			assertSameBits(t, name+" dup alone", got.duOnly, want.duOnly)
		}
	}
}

func BenchmarkSwiGLU(b *testing.B) {
	rng := rand.New(rand.NewPCG(75, 76))
	const n = 512 * 1536 // SmolLM2-135M's MLP on 512 rows
	gate, up, out := randSlice(rng, n, 2), randSlice(rng, n, 1), make([]float32, n)
	dg, du := make([]float32, n), make([]float32, n)
	b.Run("fwd", func(b *testing.B) {
		loopCPU(b, func() { SwiGLUForward(out, gate, up, n) })
	})
	b.Run("bwd", func(b *testing.B) {
		loopCPU(b, func() { SwiGLUBackward(dg, du, up, gate, up, n) })
	})
}
