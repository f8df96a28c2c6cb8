package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/llmtune/llmtune/internal/numtest"
)

// TestRMSNormAgainstRef checks RMSNormForward and RMSNormBackward on every path against
// the plain references, whose row statistics are one running float64 sum each: the
// kernels' 16 partial sums round differently by a few float64 ulp, which can move a
// result by at most one float32 ulp (and on these inputs moves none).
func TestRMSNormAgainstRef(t *testing.T) { onEveryPath(t, testRMSNormAgainstRef) }

func testRMSNormAgainstRef(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	differ, total := 0, 0
	count := func(got, want []float32) {
		for i := range want {
			if got[i] != want[i] {
				differ++
			}
		}
		total += len(want)
	}
	for _, N := range []int{1, 7, 33, 65, 130} {
		for _, C := range []int{1, 7, 64, 576} {
			name := fmt.Sprintf("N%d/C%d", N, C)
			x, w := randSlice(rng, N*C, 2), randSlice(rng, C, 1)
			out, rstd := make([]float32, N*C), make([]float32, N)
			outR, rstdR := make([]float32, N*C), make([]float32, N)
			RMSNormForward(out, rstd, x, w, N, C, 1e-5)
			rmsNormForwardRef(outR, rstdR, x, w, N, C, 1e-5)
			assertULP(t, name+" out", out, outR, 1.2e-7, 0)
			assertULP(t, name+" rstd", rstd, rstdR, 1.2e-7, 0)
			count(out, outR)
			count(rstd, rstdR)
			// The backward adds: start from nonzero gradients.
			dout := randSlice(rng, N*C, 1)
			di0, dw0 := randSlice(rng, N*C, 1), randSlice(rng, C, 1)
			di, dw := append([]float32(nil), di0...), append([]float32(nil), dw0...)
			diR, dwR := append([]float32(nil), di0...), append([]float32(nil), dw0...)
			RMSNormBackward(di, dw, dout, x, w, rstd, N, C)
			rmsNormBackwardRef(diR, dwR, dout, x, w, rstd, N, C)
			assertULP(t, name+" dinp", di, diR, 1.2e-7, 1e-12)
			count(di, diR)
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
	t.Logf("%d of %d out, rstd and dinp values differ from the references", differ, total)
}

// TestRMSNormPathsAgree checks that every vector path gives the pure-Go path's bits:
// widths below, at and around multiples of the 16 lanes, several parallel ranges of
// rows, with either gradient nil, on rows of ordinary values, rows of zeros, and rows
// whose squares underflow or overflow float32 (not float64, where the sums are kept).
func TestRMSNormPathsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(57, 58))
	const N = 70
	type result struct{ out, rstd, di, dw, diOnly, dwOnly []float32 }
	run := func(p Path, x, w, dout, di0, dw0 []float32, C int) result {
		defer SetPath(SetPath(p))
		var r result
		r.out, r.rstd = make([]float32, N*C), make([]float32, N)
		RMSNormForward(r.out, r.rstd, x, w, N, C, 1e-6)
		r.di, r.dw = append([]float32(nil), di0...), append([]float32(nil), dw0...)
		RMSNormBackward(r.di, r.dw, dout, x, w, r.rstd, N, C)
		r.diOnly, r.dwOnly = append([]float32(nil), di0...), append([]float32(nil), dw0...)
		RMSNormBackward(r.diOnly, nil, dout, x, w, r.rstd, N, C)
		RMSNormBackward(nil, r.dwOnly, dout, x, w, r.rstd, N, C)
		return r
	}
	for _, C := range []int{1, 3, 8, 15, 16, 17, 31, 32, 33, 100, 576, 577} {
		x, w := randSlice(rng, N*C, 2), randSlice(rng, C, 1)
		clear(x[C : 2*C]) // a row of zeros: rstd = 1/√eps
		for j := range C {
			x[2*C+j] *= 1e30  // squares overflow float32
			x[3*C+j] *= 1e-25 // squares underflow float32
		}
		dout := randSlice(rng, N*C, 1)
		di0, dw0 := randSlice(rng, N*C, 1), randSlice(rng, C, 1)
		want := run(PathGo, x, w, dout, di0, dw0, C)
		for _, p := range vectorPaths() {
			got := run(p, x, w, dout, di0, dw0, C)
			name := fmt.Sprintf("%v/C%d", p, C)
			assertSameBits(t, name+" out", got.out, want.out)
			assertSameBits(t, name+" rstd", got.rstd, want.rstd)
			assertSameBits(t, name+" dinp", got.di, want.di)
			assertSameBits(t, name+" dweight", got.dw, want.dw)
			assertSameBits(t, name+" dinp alone", got.diOnly, want.diOnly)
			assertSameBits(t, name+" dweight alone", got.dwOnly, want.dwOnly)
		}
	}
}

// TestRMSNormValues checks RMSNormForward on rows worked out by hand, with eps.
func TestRMSNormValues(t *testing.T) { onEveryPath(t, testRMSNormValues) }

func testRMSNormValues(t *testing.T) {
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
func TestRMSNormBackwardFiniteDiff(t *testing.T) { onEveryPath(t, testRMSNormBackwardFiniteDiff) }

func testRMSNormBackwardFiniteDiff(t *testing.T) {
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

// TestRMSNormLanesAgree checks the row statistics directly: every vector path's 16
// float64 partial sums (sumSqLanes, dotLanes) are the pure-Go path's bit for bit, on
// every length up to 100 and on values spread over 2^±30, so that the float64 sums
// round and a lane taken out of order would show.
func TestRMSNormLanesAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(59, 60))
	wide := func(n int) []float32 {
		s := randSlice(rng, n, 1)
		for i := range s {
			s[i] = float32(math.Ldexp(float64(s[i]), rng.IntN(61)-30))
		}
		return s
	}
	for n := range 101 {
		x, d, w := wide(n), wide(n), wide(n)
		var sq, dot [rmsLanes]float64
		for i := range rmsLanes { // the sums add to what acc holds
			sq[i], dot[i] = float64(i)/3, -float64(i)/7
		}
		wantSq, wantDot := sq, dot
		sumSqLanes(PathGo, x, &wantSq)
		dotLanes(PathGo, d, w, x, 0.37, &wantDot)
		for _, p := range vectorPaths() {
			gotSq, gotDot := sq, dot
			sumSqLanes(p, x, &gotSq)
			dotLanes(p, d, w, x, 0.37, &gotDot)
			assert.Equal(t, wantSq, gotSq, "%v/n%d sumSqLanes", p, n)
			assert.Equal(t, wantDot, gotDot, "%v/n%d dotLanes", p, n)
		}
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
		loopCPU(b, func() { RMSNormForward(out, rstd, x, w, N, C, 1e-5) })
	})
	b.Run("bwd", func(b *testing.B) {
		loopCPU(b, func() { RMSNormBackward(di, dw, dout, x, w, rstd, N, C) })
	})
}
