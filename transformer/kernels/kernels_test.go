package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The fast kernels against their plain references, on odd shapes.

func randSlice(rng *rand.Rand, n int, scale float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64() * scale)
	}
	return s
}

// closeTo fails t if got and want differ by more than tol relative to max(1, |want|max).
func closeTo(t *testing.T, name string, got, want []float32, tol float64) {
	t.Helper()
	scale := 1.0
	for _, w := range want {
		scale = math.Max(scale, math.Abs(float64(w)))
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*scale || math.IsNaN(float64(got[i])) != math.IsNaN(float64(want[i])) {
			t.Fatalf("%s: [%d] = %g, want %g (diff %.3g > %.3g)", name, i, got[i], want[i], d, tol*scale)
		}
	}
}

func TestAttentionAgainstRef(t *testing.T) { onEveryPath(t, testAttentionAgainstRef) }

func testAttentionAgainstRef(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, T := range []int{1, 7, 33, 65, 130} {
		for _, packed := range []bool{false, true} {
			B, C, NH := 2, 48, 3
			t.Run(fmt.Sprintf("T%d/packed=%v", T, packed), func(t *testing.T) {
				qkv := randSlice(rng, B*T*3*C, 1)
				var seg []int
				if packed {
					seg = make([]int, B*T)
					for i := range seg {
						seg[i] = (i % T) / 5 // examples of 5 tokens
					}
				}
				out, att := make([]float32, B*T*C), make([]float32, B*NH*T*T)
				outR, attR := make([]float32, B*T*C), make([]float32, B*NH*T*T)
				AttentionForward(out, att, qkv, seg, B, T, C, NH)
				attentionForwardGQARef(outR, attR, qkv, seg, B, T, NH, NH, C/NH)
				closeTo(t, "out", out, outR, 1e-5)
				closeTo(t, "att", att, attR, 1e-6)
				dout := randSlice(rng, B*T*C, 1)
				d, dR := make([]float32, B*T*3*C), make([]float32, B*T*3*C)
				AttentionBackward(d, dout, qkv, att, B, T, C, NH)
				attentionBackwardGQARef(dR, dout, qkv, attR, B, T, NH, NH, C/NH)
				closeTo(t, "dqkv", d, dR, 1e-5)
			})
		}
	}
}

func TestGeluAgainstRef(t *testing.T) { onEveryPath(t, testGeluAgainstRef) }

func testGeluAgainstRef(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 7, 33, 65, 130, 40000} {
		x := randSlice(rng, n, 3)
		got, want := make([]float32, n), make([]float32, n)
		GeluForward(got, x, n)
		geluForwardRef(want, x, n)
		closeTo(t, "gelu", got, want, 1e-6)
		dout := randSlice(rng, n, 1)
		dg, dw := make([]float32, n), make([]float32, n)
		GeluBackward(dg, x, dout, n)
		geluBackwardRef(dw, x, dout, n)
		closeTo(t, "gelu backward", dg, dw, 2e-6)
	}
}

func TestLayerNormAgainstRef(t *testing.T) { onEveryPath(t, testLayerNormAgainstRef) }

func testLayerNormAgainstRef(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, N := range []int{1, 7, 33, 65, 130} {
		for _, C := range []int{1, 7, 64, 77} {
			x, w, b := randSlice(rng, N*C, 2), randSlice(rng, C, 1), randSlice(rng, C, 1)
			out, mean, rstd := make([]float32, N*C), make([]float32, N), make([]float32, N)
			outR, meanR, rstdR := make([]float32, N*C), make([]float32, N), make([]float32, N)
			LayerNormForward(out, mean, rstd, x, w, b, N, C, 1e-5)
			layerNormForwardRef(outR, meanR, rstdR, x, w, b, N, C, 1e-5)
			closeTo(t, "layernorm", out, outR, 0)
			dout := randSlice(rng, N*C, 1)
			di, dw, db := make([]float32, N*C), make([]float32, C), make([]float32, C)
			diR, dwR, dbR := make([]float32, N*C), make([]float32, C), make([]float32, C)
			LayerNormBackward(di, dw, db, dout, x, w, mean, rstd, N, C)
			layerNormBackwardRef(diR, dwR, dbR, dout, x, w, meanR, rstdR, N, C)
			closeTo(t, "dinp", di, diR, 0)
			closeTo(t, "dweight", dw, dwR, 1e-5)
			closeTo(t, "dbias", db, dbR, 1e-5)
		}
	}
}

// randomTargets returns n targets drawn below V, those at i with i%every == at set to
// the ignore index -100.
func randomTargets(rng *rand.Rand, n, V, every, at int) []int {
	targets := make([]int, n)
	for i := range targets {
		targets[i] = rng.IntN(V)
		if i%every == at {
			targets[i] = -100
		}
	}
	return targets
}

// TestLMHeadCrossEntropyFuncChunk: the chunk of LMHeadCrossEntropyFuncChunk changes
// nothing, bit for bit (each row's logits, loss and dh are its own).
func TestLMHeadCrossEntropyFuncChunk(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	N, C, V := 300, 40, 257
	h, w := randSlice(rng, N*C, 1), randSlice(rng, V*C, 0.5)
	targets := randomTargets(rng, N, V, 7, 2)
	mulW := func(transB bool, M, N, K int, a []float32, lda int, c []float32, ldc int) {
		Sgemm(false, transB, M, N, K, 1, a, lda, w, C, 0, c, ldc)
	}
	wantL, wantDh := make([]float32, N), make([]float32, N*C)
	LMHeadCrossEntropyFunc(wantL, wantDh, h, mulW, targets, -100, 0.5, N, C, V)
	for _, chunk := range []int{0, 7, 128, 132, N + 1} { // 132: the fixed chunk before lmHeadRows
		l, dh := make([]float32, N), make([]float32, N*C)
		LMHeadCrossEntropyFuncChunk(l, dh, h, mulW, targets, -100, 0.5, N, C, V, chunk)
		assert.Equal(t, wantL, l, "chunk %d", chunk)
		assert.Equal(t, wantDh, dh, "chunk %d", chunk)
	}
}

// TestLMHeadRows: the LM head's chunks are as few as tiles of at most mc rows allow,
// evened out, whole micro-kernel row panels, on every path.
func TestLMHeadRows(t *testing.T) {
	onEveryPath(t, func(t *testing.T) {
		bl := blockingFor(CurrentPath())
		for _, n := range []int{1, 5, 12, 100, 191, 192, 193, 508, 1016, 5000} {
			R := lmHeadRows(n)
			assert.Zero(t, R%bl.mr, "n=%d: R=%d not whole panels of %d", n, R, bl.mr)
			assert.LessOrEqual(t, R, bl.mc, "n=%d: R=%d past one tile row", n, R)
			assert.Equal(t, ceilDiv(n, bl.mc/bl.mr*bl.mr), ceilDiv(n, R), "n=%d: R=%d, not the fewest chunks", n, R)
			assert.Less(t, ceilDiv(n, R)*R-n, ceilDiv(n, R)*bl.mr, "n=%d: R=%d, uneven", n, R)
		}
		if bl.mr == 12 && bl.mc == 192 { // AVX-512: GPT-2 small's 508 rows and the tiny one's 1016
			assert.Equal(t, 180, lmHeadRows(508))
			assert.Equal(t, 180, lmHeadRows(1016))
		}
	})
}

// TestLMHeadCrossEntropyAgainstDense compares the fused, chunked kernel with a dense
// computation from full logits, including ignored rows, on shapes around the chunk sizes
// (lmHeadRows without dw: at most 192 on any path; lmHeadChunkDW with it), with dw and
// without.
func TestLMHeadCrossEntropyAgainstDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, N := range []int{1, 7, 65, 194, 385, lmHeadChunkDW + 3} {
		C, V := 33, 101
		h, w := randSlice(rng, N*C, 1), randSlice(rng, V*C, 0.5)
		targets := randomTargets(rng, N, V, 5, 3)
		losses, dh, dw := make([]float32, N), make([]float32, N*C), make([]float32, V*C)
		LMHeadCrossEntropy(losses, dh, dw, h, w, targets, -100, 0.5, N, C, V)
		lossesNoDW, dhNoDW := make([]float32, N), make([]float32, N*C)
		LMHeadCrossEntropy(lossesNoDW, dhNoDW, nil, h, w, targets, -100, 0.5, N, C, V)

		logits := make([]float32, N*V)
		sgemmRef(false, true, N, V, C, 1, h, C, w, C, 0, logits, V)
		wantLoss, wantDh, wantDw := make([]float32, N), make([]float32, N*C), make([]float32, V*C)
		for i := range N {
			if targets[i] == -100 {
				continue
			}
			l := logits[i*V : (i+1)*V]
			m := math.Inf(-1)
			for _, v := range l {
				m = math.Max(m, float64(v))
			}
			var s float64
			for _, v := range l {
				s += math.Exp(float64(v) - m)
			}
			wantLoss[i] = float32(m + math.Log(s) - float64(l[targets[i]]))
			for j, v := range l {
				g := math.Exp(float64(v)-m) / s
				if j == targets[i] {
					g--
				}
				g *= 0.5
				for c := range C {
					wantDh[i*C+c] += float32(g) * w[j*C+c]
					wantDw[j*C+c] += float32(g) * h[i*C+c]
				}
			}
		}
		closeTo(t, "losses", losses, wantLoss, 1e-5)
		closeTo(t, "dh", dh, wantDh, 1e-5)
		closeTo(t, "dw", dw, wantDw, 1e-5)
		// Each row's loss and dh do not depend on the chunk it falls in.
		assert.Equal(t, losses, lossesNoDW, "N=%d: losses without dw", N)
		assert.Equal(t, dh, dhNoDW, "N=%d: dh without dw", N)
	}
}

// TestVecHelpers compares the AVX2 row helpers with their scalar Go paths.
func TestVecHelpers(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{1, 7, 8, 9, 33, 1024, 1031, 50257} {
		x := randSlice(rng, n, 4)
		x[n/2] = 9 // the maximum
		vec, ref := append([]float32(nil), x...), append([]float32(nil), x...)
		mv := rowMax(vec)
		prev := SetPath(PathGo)
		mr := rowMax(ref)
		sr := expSubSum(ref, mr)
		scale(ref, 0.25)
		SetPath(prev)
		if mv != mr {
			t.Fatalf("n=%d: rowMax = %g, want %g", n, mv, mr)
		}
		sv := expSubSum(vec, mv)
		scale(vec, 0.25)
		if math.Abs(sv-sr) > 1e-6*sr {
			t.Fatalf("n=%d: expSubSum = %g, want %g", n, sv, sr)
		}
		closeTo(t, fmt.Sprintf("n=%d exp·0.25", n), vec, ref, 3e-7)
	}
	x := []float32{0, 1, float32(math.NaN()), 2, 3, 4, 5, 6, 7}
	if s := expSubSum(x, 7); !math.IsNaN(s) {
		t.Errorf("expSubSum with a NaN = %g, want NaN", s)
	}
}

// TestExpSubSumAVX512MatchesAVX2 checks that the AVX-512 exponentials of the softmax
// rows give the AVX2 ones' bits, in x and in the returned sum, on lengths that end in
// a half vector, with values under the clamp, infinities and NaNs.
func TestExpSubSumAVX512MatchesAVX2(t *testing.T) {
	if !slices.Contains(Paths(), PathAVX512) {
		t.Skip("this CPU or build has no AVX-512 path")
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for _, n := range []int{8, 16, 24, 40, 1024, 1032, 1456} {
		// Values near the maximum, whose float32 sums round at most adds, and a spread.
		x := randSlice(rng, n, 0.3)
		if n%16 == 8 {
			x = randSlice(rng, n, 3)
		}
		for i, e := range []float32{-87, -88, -100, -1e30, float32(math.Inf(-1)), 0, -1e-30} {
			x[(i*13)%n] = e
		}
		if n == 40 { // a NaN makes the sum NaN: on one length only
			x[17] = float32(math.NaN())
		}
		m := slices.Max(x) // the row's maximum, as the softmax passes it (NaN: any)
		a, b := slices.Clone(x), slices.Clone(x)
		sa := expSubSumAVX2(a, m)
		sb := expSubSumAVX512(b, m)
		assertSameBits(t, fmt.Sprintf("n%d x", n), b, a)
		assertSameBits(t, fmt.Sprintf("n%d sum", n), []float32{sb}, []float32{sa})
	}
}

// loopCPU runs f in b.Loop and reports, besides the wall time, the process CPU time per
// call (cpu-ns/op) where it is known: on a machine shared with other jobs it counts only
// the time the benchmark got, summed over the cores its parallel kernels used.
func loopCPU(b *testing.B, f func()) {
	cpu0 := processCPUTime()
	for b.Loop() {
		f()
	}
	if cpu := processCPUTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// TestLayerNormPathsAgree checks that every vector path gives the pure-Go path's bits in
// LayerNormForward and LayerNormBackward (which adds into nonzero gradients, and skips
// nil ones), on row counts around the four-row groups and widths that leave partial
// vectors, and that LayerNormBackward's dinp and, within one range of lnGrain rows, its
// dweight and dbias are the reference loop's bits.
func TestLayerNormPathsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	type result struct{ out, mean, rstd, di, dw, db, dwOnly, diOnly []float32 }
	run := func(p Path, N, C int, x, w, b, dout, di0, dw0, db0 []float32) result {
		defer SetPath(SetPath(p))
		var r result
		r.out, r.mean, r.rstd = make([]float32, N*C), make([]float32, N), make([]float32, N)
		LayerNormForward(r.out, r.mean, r.rstd, x, w, b, N, C, 1e-5)
		r.di, r.dw, r.db = slices.Clone(di0), slices.Clone(dw0), slices.Clone(db0)
		LayerNormBackward(r.di, r.dw, r.db, dout, x, w, r.mean, r.rstd, N, C)
		r.dwOnly = slices.Clone(dw0)
		LayerNormBackward(nil, r.dwOnly, nil, dout, x, w, r.mean, r.rstd, N, C)
		r.diOnly = slices.Clone(di0)
		LayerNormBackward(r.diOnly, nil, nil, dout, x, w, r.mean, r.rstd, N, C)
		return r
	}
	for _, N := range []int{1, 3, 4, 5, 9, 32} {
		for _, C := range []int{1, 7, 8, 15, 16, 17, 33, 768} {
			x, w, b := randSlice(rng, N*C, 2), randSlice(rng, C, 1), randSlice(rng, C, 1)
			dout, di0, dw0, db0 := randSlice(rng, N*C, 1), randSlice(rng, N*C, 1), randSlice(rng, C, 1), randSlice(rng, C, 1)
			want := run(PathGo, N, C, x, w, b, dout, di0, dw0, db0)
			for _, p := range vectorPaths() {
				got := run(p, N, C, x, w, b, dout, di0, dw0, db0)
				name := fmt.Sprintf("%v/N%d/C%d", p, N, C)
				assertSameBits(t, name+" out", got.out, want.out)
				assertSameBits(t, name+" mean", got.mean, want.mean)
				assertSameBits(t, name+" rstd", got.rstd, want.rstd)
				assertSameBits(t, name+" dinp", got.di, want.di)
				assertSameBits(t, name+" dweight", got.dw, want.dw)
				assertSameBits(t, name+" dbias", got.db, want.db)
				assertSameBits(t, name+" dweight alone", got.dwOnly, want.dwOnly)
				assertSameBits(t, name+" dinp alone", got.diOnly, want.diOnly)
			}
			// The reference loops, on one range of rows (N ≤ lnGrain): the same bits.
			out, mean, rstd := make([]float32, N*C), make([]float32, N), make([]float32, N)
			layerNormForwardRef(out, mean, rstd, x, w, b, N, C, 1e-5)
			assertSameBits(t, "ref out", want.out, out)
			di, dw, db := slices.Clone(di0), make([]float32, C), make([]float32, C)
			layerNormBackwardRef(di, dw, db, dout, x, w, mean, rstd, N, C)
			for j := range dw { // LayerNormBackward adds its range's sums to dweight, dbias
				dw[j] += dw0[j]
				db[j] += db0[j]
			}
			assertSameBits(t, "ref dinp", want.di, di)
			assertSameBits(t, "ref dweight", want.dw, dw)
			assertSameBits(t, "ref dbias", want.db, db)
		}
	}
}
