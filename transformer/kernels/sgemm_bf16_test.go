package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bf16Operand returns B for a gemmCase in bfloat16 (values of a normal distribution,
// truncated) with its float32 widening; padding holds a bfloat16 NaN, which must not
// reach C.
func bf16Operand(rng *rand.Rand, rows, cols, pad int) (b16 []uint16, b []float32, ld int) {
	ld = cols + pad
	b16 = make([]uint16, rows*ld+pad)
	for i := range b16 {
		b16[i] = 0x7fc1
	}
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			b16[i*ld+j] = uint16(math.Float32bits(float32(rng.NormFloat64())) >> 16)
		}
	}
	b = make([]float32, len(b16))
	for i, h := range b16 {
		b[i] = widenBF16(h)
	}
	return b16, b, ld
}

// bitsEqual reports whether got and want hold the same bits, naming the first difference.
func bitsEqual(t *testing.T, want, got []float32, msg string, args ...any) bool {
	t.Helper()
	require.Equal(t, len(want), len(got))
	for i := range want {
		if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
			return assert.Fail(t, fmt.Sprintf(msg, args...)+fmt.Sprintf(": first difference at [%d]: got %g (%#08x), want %g (%#08x)",
				i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i])))
		}
	}
	return true
}

// checkBF16Case runs tc through SgemmBF16B with GOMAXPROCS 1 and 2 and checks both
// against Sgemm on the widened B (GOMAXPROCS 1), bit for bit.
func checkBF16Case(t *testing.T, rng *rand.Rand, tc gemmCase, gemm func(tc gemmCase, a []float32, lda int, b16 []uint16, b []float32, ldb int, c []float32, ldc int, bf16 bool)) bool {
	t.Helper()
	a, lda, _, _, c0, ldc := tc.operands(rng)
	rows, cols := tc.K, tc.N
	if tc.transB {
		rows, cols = tc.N, tc.K
	}
	b16, b, ldb := bf16Operand(rng, rows, cols, tc.pad)
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	want := append([]float32(nil), c0...)
	gemm(tc, a, lda, b16, b, ldb, want, ldc, false)
	for _, procs := range []int{1, 2} {
		runtime.GOMAXPROCS(procs)
		c := append([]float32(nil), c0...)
		gemm(tc, a, lda, b16, b, ldb, c, ldc, true)
		if !bitsEqual(t, want, c, "%v, GOMAXPROCS=%d: SgemmBF16B differs from Sgemm on the widened B", tc, procs) {
			return false
		}
	}
	return true
}

// publicGemm calls SgemmBF16B, or Sgemm on the widened B.
func publicGemm(tc gemmCase, a []float32, lda int, b16 []uint16, b []float32, ldb int, c []float32, ldc int, bf16 bool) {
	if bf16 {
		SgemmBF16B(tc.transA, tc.transB, tc.M, tc.N, tc.K, tc.alpha, a, lda, b16, ldb, tc.beta, c, ldc)
	} else {
		Sgemm(tc.transA, tc.transB, tc.M, tc.N, tc.K, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	}
}

func TestSgemmBF16BMatchesWidened(t *testing.T) {
	prevMin := parallelMinFlops
	parallelMinFlops = 0 // two goroutines even on small shapes
	defer func() { parallelMinFlops = prevMin }()
	sizes := []int{1, 4, 7, 33, 65, 96, 130}
	scalars := []struct{ alpha, beta float32 }{{1, 0}, {1, 1}, {0.5, 0.25}, {0.5, 0}, {1, 0.25}, {0.5, 1}}
	for _, path := range gemmPaths() {
		t.Run(path.name, func(t *testing.T) {
			defer path.use()()
			rng := rand.New(rand.NewPCG(21, 22))
			n := 0
			for _, M := range sizes {
				for _, N := range sizes {
					for _, K := range sizes {
						for tr := 0; tr < 4; tr++ {
							s := scalars[n%len(scalars)]
							tc := gemmCase{transA: tr&1 != 0, transB: tr&2 != 0, M: M, N: N, K: K,
								alpha: s.alpha, beta: s.beta, pad: []int{0, 5}[n%2], nanC: n%7 == 3 && s.beta == 0}
							n++
							if !checkBF16Case(t, rng, tc, publicGemm) {
								return
							}
						}
					}
				}
			}
			// Random shapes, transformer-like ones among them: fused and shared B, many
			// tiles, kc slices and superblocks of K.
			shapes := [][3]int{{512, 576, 1536}, {512, 1536, 576}, {200, 300, 257}, {97, 531, 300}, {531, 17, 513}, {64, 1000, 700}}
			for range 12 {
				shapes = append(shapes, [3]int{1 + rng.IntN(300), 1 + rng.IntN(300), 1 + rng.IntN(600)})
			}
			for i, s := range shapes {
				for _, transB := range []bool{false, true} {
					tc := gemmCase{transA: i%3 == 2, transB: transB, M: s[0], N: s[1], K: s[2],
						alpha: []float32{1, 0.5}[i%2], beta: []float32{0, 0.25}[(i/2)%2], pad: i % 4}
					if !checkBF16Case(t, rng, tc, publicGemm) {
						return
					}
				}
			}
		})
	}
}

// TestSgemmBF16BBlockings runs SgemmBF16B's driver with the tiny blockings of
// TestSgemmSuperblocks and TestSgemmFusedBMatchesShared, so that small shapes cross
// every boundary: tiles, superblocks of rows, columns and K, fused and shared B, partial
// panels.
func TestSgemmBF16BBlockings(t *testing.T) {
	for _, p := range Paths() {
		tiny := *blockingFor(p)
		tiny.kc, tiny.mc, tiny.nc = 8, 2*tiny.mr, 2*tiny.nr
		tiny.ms, tiny.ns = 3*tiny.mr, 5*tiny.nr
		tiny.packBudget = 2 * (tiny.ms + tiny.ns) * tiny.kc
		fused := *blockingFor(p)
		fused.kc, fused.nc = 16, 3*fused.nr
		fused.mc = max(fused.mc, 70)
		fused.packBudget = 4 * fused.kc * 70
		for name, bl := range map[string]*blocking{"tiny": &tiny, "fused": &fused} {
			t.Run(p.String()+"/"+name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(23, 24))
				gemm := func(tc gemmCase, a []float32, lda int, b16 []uint16, b []float32, ldb int, c []float32, ldc int, bf16 bool) {
					if bf16 {
						sgemmBF16B(bl, tc.transA, tc.transB, tc.M, tc.N, tc.K, tc.alpha, a, lda, b16, ldb, tc.beta, c, ldc)
					} else {
						sgemm(bl, tc.transA, tc.transB, tc.M, tc.N, tc.K, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
					}
				}
				for _, s := range [][3]int{{45, 130, 37}, {19, 100, 16}, {7, 81, 1}, {70, 200, 300}, {37, 130, 65}, {64, 96, 700}} {
					for tr := 0; tr < 4; tr++ {
						for _, beta := range []float32{0, 0.25} {
							tc := gemmCase{transA: tr&1 != 0, transB: tr&2 != 0, M: s[0], N: s[1], K: s[2], alpha: 0.5, beta: beta, pad: 3}
							if !checkBF16Case(t, rng, tc, gemm) {
								return
							}
						}
					}
				}
			})
		}
	}
}

// TestPackBF16MatchesWidened checks the widening packers against the float32 ones on
// the widened source, for every bit pattern class (NaNs, infinities, subnormals), every
// panel width the blockings use, partial panels and depths that are not multiples of 8.
func TestPackBF16MatchesWidened(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	asms := []bool{false}
	if haveAVX2 {
		asms = append(asms, true)
	}
	for _, asm := range asms {
		for _, width := range []int{2, 4, 6, 12, 16, 32} {
			for _, kc := range []int{1, 7, 8, 9, 24, 37} {
				for _, w := range []int{1, width / 2, width - 1, width, 2 * width, 3*width - 1} {
					if w < 1 {
						continue
					}
					ld := max(w, kc) + 3
					src16 := make([]uint16, max(kc, w)*ld+8)
					for i := range src16 {
						src16[i] = uint16(rng.Uint32())
					}
					src := make([]float32, len(src16))
					for i, h := range src16 {
						src[i] = widenBF16(h)
					}
					panels := ceilDiv(w, width)
					// Along: kc rows of w columns.
					want := make([]float32, panels*width*kc)
					got := make([]float32, len(want))
					for i := range got {
						got[i] = sentinel
					}
					packAlong(want, width, src, ld, w, kc, false)
					packAlongBF16(got, width, src16, ld, w, kc, asm)
					bitsEqual(t, want, got, "packAlongBF16(width=%d, w=%d, kc=%d, asm=%v)", width, w, kc, asm)
					// Strided: w ≤ width rows of kc.
					if w > width {
						continue
					}
					want = make([]float32, width*kc)
					got = make([]float32, len(want))
					for i := range got {
						got[i] = sentinel
					}
					packStrided(want, width, src, ld, w, kc, false)
					packStridedBF16(got, width, src16, ld, w, kc, asm)
					bitsEqual(t, want, got, "packStridedBF16(width=%d, w=%d, kc=%d, asm=%v)", width, w, kc, asm)
				}
			}
		}
	}
}

func TestSgemmBF16BDegenerate(t *testing.T) {
	nan := float32(math.NaN())
	// K == 0: C = beta·C, A and B unread.
	c := []float32{1, 2, 3, 4}
	SgemmBF16B(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 0.5, c, 2)
	assert.Equal(t, []float32{0.5, 1, 1.5, 2}, c, "K=0, beta=0.5")
	// alpha == 0: A and B are not read, even when they hold NaN.
	c = []float32{nan, 2, 3, 4}
	SgemmBF16B(false, true, 2, 2, 2, 0, []float32{nan, nan, nan, nan}, 2, []uint16{0x7fc0, 0x7fc0, 0x7fc0, 0x7fc0}, 2, 0, c, 2)
	assert.Equal(t, []float32{0, 0, 0, 0}, c, "alpha=0, beta=0")
	// M or N zero: nothing to do, nothing read.
	SgemmBF16B(false, false, 0, 3, 3, 1, nil, 3, nil, 3, 0, nil, 3)
	assert.PanicsWithValue(t, "kernels: SgemmBF16B: B too short for its shape", func() {
		SgemmBF16B(false, true, 2, 2, 4, 1, make([]float32, 8), 4, make([]uint16, 7), 4, 0, make([]float32, 4), 2)
	})
}

// BenchmarkSGEMMBF16B compares, on transformer shapes (SmolLM2-135M's MLP, C = 576, and
// GPT-2 small's, C = 768, on 512 rows), Sgemm on a float32 B (f32), SgemmBF16B (bf16),
// and what a bfloat16 weight cost before SgemmBF16B: widening the whole of B into a
// float32 buffer, then Sgemm (widen+f32).
func BenchmarkSGEMMBF16B(b *testing.B) {
	shapes := []struct {
		name    string
		transB  bool
		M, N, K int
	}{
		{"smol_up_fwd", true, 512, 1536, 576},
		{"smol_up_dx", false, 512, 576, 1536},
		{"gpt2_fc_fwd", false, 512, 3072, 768},
		{"gpt2_fc_dx", true, 512, 768, 3072},
	}
	for _, path := range gemmPaths() {
		for _, s := range shapes {
			tr := map[bool]string{false: "NN", true: "NT"}
			rng := rand.New(rand.NewPCG(1, 2))
			a := make([]float32, s.M*s.K)
			for i := range a {
				a[i] = float32(rng.NormFloat64())
			}
			rows, ldb := s.K, s.N
			if s.transB {
				rows, ldb = s.N, s.K
			}
			b16, bf, _ := bf16Operand(rng, rows, ldb, 0)
			c := make([]float32, s.M*s.N)
			scratch := make([]float32, len(b16))
			for _, kind := range []string{"f32", "bf16", "widen+f32"} {
				b.Run(fmt.Sprintf("%s/%s_%dx%dx%d_%s/%s", path.name, s.name, s.M, s.N, s.K, tr[s.transB], kind), func(b *testing.B) {
					defer path.use()()
					cpu0 := processCPUTime()
					for b.Loop() {
						switch kind {
						case "f32":
							Sgemm(false, s.transB, s.M, s.N, s.K, 1, a, s.K, bf, ldb, 0, c, s.N)
						case "bf16":
							SgemmBF16B(false, s.transB, s.M, s.N, s.K, 1, a, s.K, b16, ldb, 0, c, s.N)
						default:
							widenRow(scratch, b16)
							Sgemm(false, s.transB, s.M, s.N, s.K, 1, a, s.K, scratch, ldb, 0, c, s.N)
						}
					}
					reportGemmRates(b, s.M, s.N, s.K, processCPUTime()-cpu0)
				})
			}
		}
	}
}

// TestLMHeadCrossEntropyBF16: the fused LM head and cross-entropy on a bfloat16 output
// embedding gives the losses and dh of LMHeadCrossEntropy on the widened embedding, bit
// for bit, on every path (more rows than one chunk, some ignored).
func TestLMHeadCrossEntropyBF16(t *testing.T) { onEveryPath(t, testLMHeadCrossEntropyBF16) }

func testLMHeadCrossEntropyBF16(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	N, C, V := 199, 40, 301
	w16, w, _ := bf16Operand(rng, V, C, 0)
	h := make([]float32, N*C)
	for i := range h {
		h[i] = float32(rng.NormFloat64())
	}
	targets := make([]int, N)
	for i := range targets {
		targets[i] = rng.IntN(V)
		if i%5 == 3 {
			targets[i] = -100
		}
	}
	want, got := make([]float32, N), make([]float32, N)
	dhWant, dhGot := make([]float32, N*C), make([]float32, N*C)
	for i := range dhWant { // dh is added into
		dhWant[i] = float32(i % 7)
		dhGot[i] = dhWant[i]
	}
	LMHeadCrossEntropy(want, dhWant, nil, h, w[:V*C], targets, -100, 0.25, N, C, V)
	LMHeadCrossEntropyBF16(got, dhGot, h, w16[:V*C], targets, -100, 0.25, N, C, V)
	bitsEqual(t, want, got, "losses")
	bitsEqual(t, dhWant, dhGot, "dh")
	assert.Zero(t, got[3], "an ignored row's loss")
	assert.Positive(t, got[0])
}
