package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/llmtune/llmtune/internal/numtest"
)

func TestRMSNormAgainstRef(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	for _, N := range []int{1, 7, 33, 65, 130} {
		for _, C := range []int{1, 7, 64, 576} {
			name := fmt.Sprintf("N%d/C%d", N, C)
			x, w := randSlice(rng, N*C, 2), randSlice(rng, C, 1)
			out, rstd := make([]float32, N*C), make([]float32, N)
			outR, rstdR := make([]float32, N*C), make([]float32, N)
			RMSNormForward(out, rstd, x, w, N, C, 1e-5)
			rmsNormForwardRef(outR, rstdR, x, w, N, C, 1e-5)
			assert.Equal(t, outR, out, "%s out", name)
			assert.Equal(t, rstdR, rstd, "%s rstd", name)
			// The backward adds: start from nonzero gradients.
			dout := randSlice(rng, N*C, 1)
			di0, dw0 := randSlice(rng, N*C, 1), randSlice(rng, C, 1)
			di, dw := append([]float32(nil), di0...), append([]float32(nil), dw0...)
			diR, dwR := append([]float32(nil), di0...), append([]float32(nil), dw0...)
			RMSNormBackward(di, dw, dout, x, w, rstd, N, C)
			rmsNormBackwardRef(diR, dwR, dout, x, w, rstdR, N, C)
			assert.Equal(t, diR, di, "%s dinp", name)
			numtest.AssertClose(t, name+" dweight", dw, dwR, 1e-5*float64(N))
			// nil gradients are skipped; one core gives the same bits.
			di1 := append([]float32(nil), di0...)
			dw1 := append([]float32(nil), dw0...)
			withProcs(1, func() {
				RMSNormBackward(di1, nil, dout, x, w, rstd, N, C)
				RMSNormBackward(nil, dw1, dout, x, w, rstd, N, C)
			})
			assert.Equal(t, di, di1, "%s dinp alone, one core", name)
			assert.Equal(t, dw, dw1, "%s dweight alone, one core", name)
		}
	}
}

// TestRMSNormValues checks RMSNormForward on rows worked out by hand, with eps.
func TestRMSNormValues(t *testing.T) {
	x := []float32{1, 2, 3, 4, 0, 0, 0, 0, -3, 4, 0, 0}
	w := []float32{1, 0.5, 2, -1}
	out, rstd := make([]float32, 12), make([]float32, 3)
	RMSNormForward(out, rstd, x, w, 3, 4, 0.5)
	// mean(x²) = 7.5, 0, 6.25; rstd = 1/√(ms + 0.5) = 1/√8, 1/√0.5, 1/√6.75
	r := []float64{1 / math.Sqrt(8), 1 / math.Sqrt(0.5), 1 / math.Sqrt(6.75)}
	numtest.AssertClose(t, "rstd", rstd, []float32{float32(r[0]), float32(r[1]), float32(r[2])}, 1e-7)
	want := make([]float32, 12)
	for i, v := range x {
		want[i] = float32(float64(v) * r[i/4] * float64(w[i%4]))
	}
	numtest.AssertClose(t, "out", out, want, 1e-6)
}

// TestRMSNormBackwardFiniteDiff checks RMSNormBackward against central differences of
// RMSNormForward through the loss Σ out ⊙ g, with respect to inp and weight.
func TestRMSNormBackwardFiniteDiff(t *testing.T) {
	rng := rand.New(rand.NewPCG(53, 54))
	for _, s := range []struct {
		N, C int
		eps  float32
	}{{3, 1, 1e-6}, {5, 7, 1e-5}, {4, 64, 1e-6}, {2, 16, 0.3}} {
		N, C := s.N, s.C
		x, w, g := randSlice(rng, N*C, 1), randSlice(rng, C, 1), randSlice(rng, N*C, 1)
		out, rstd := make([]float32, N*C), make([]float32, N)
		loss := func() float64 {
			RMSNormForward(out, rstd, x, w, N, C, s.eps)
			return dotLoss(out, g)
		}
		loss()
		di, dw := make([]float32, N*C), make([]float32, C)
		RMSNormBackward(di, dw, g, x, w, rstd, N, C)
		name := fmt.Sprintf("N%d/C%d/eps%g", N, C, s.eps)
		checkGradFD(t, name+" dinp", x, di, sampleIdx(N*C, 200), 1e-2, 1e-3, loss)
		checkGradFD(t, name+" dweight", w, dw, sampleIdx(C, 200), 1e-2, 1e-3, loss)
	}
}

// BenchmarkRMSNorm times RMSNormForward and RMSNormBackward on SmolLM2-135M's hidden
// width (C = 576) over a batch of 4×128 rows.
func BenchmarkRMSNorm(b *testing.B) {
	rng := rand.New(rand.NewPCG(55, 56))
	const N, C = 512, 576
	x, w, dout := randSlice(rng, N*C, 1), randSlice(rng, C, 1), randSlice(rng, N*C, 1)
	out, rstd := make([]float32, N*C), make([]float32, N)
	di, dw := make([]float32, N*C), make([]float32, C)
	b.Run("fwd", func(b *testing.B) {
		for b.Loop() {
			RMSNormForward(out, rstd, x, w, N, C, 1e-5)
		}
	})
	b.Run("bwd", func(b *testing.B) {
		for b.Loop() {
			RMSNormBackward(di, dw, dout, x, w, rstd, N, C)
		}
	})
}
