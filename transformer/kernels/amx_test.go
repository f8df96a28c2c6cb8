package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/llmtune/llmtune/internal/half"
	"github.com/stretchr/testify/require"
)

// TestSgemmAMX checks SgemmAMX against float64 sums of the bfloat16-rounded operands, on
// shapes with partial blocks, panels and k steps, every transposition, alpha and beta.
func TestSgemmAMX(t *testing.T) {
	if !HaveAMX() {
		t.Skip("this CPU or OS has no AMX bfloat16 tiles")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	fill := func(n int) []float32 { return normals(rng, n) }
	bf := func(v float32) float64 { return float64(math.Float32frombits(uint32(half.BFloat16(v)) << 16)) }
	for _, s := range []struct{ M, N, K int }{{1, 1, 1}, {32, 32, 32}, {33, 47, 70}, {100, 65, 600}, {64, 96, 1100}, {32, 40, 64}, {64, 64, 576}} {
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			for _, ab := range [][2]float32{{1, 0}, {0.5, 0}, {1.5, -0.25}} {
				transA, transB := tr[0], tr[1]
				lda, ldb, ldc := s.K+3, s.N+1, s.N+2
				if transA {
					lda = s.M + 3
				}
				if transB {
					ldb = s.K + 1
				}
				a := fill(lda * max(s.M, s.K))
				b := fill(ldb * max(s.N, s.K))
				c := fill(ldc * s.M)
				c0 := append([]float32(nil), c...)
				SgemmAMX(transA, transB, s.M, s.N, s.K, ab[0], a, lda, b, ldb, ab[1], c, ldc)
				for i := range s.M {
					for j := range s.N {
						var sum, mag float64
						for k := range s.K {
							av, bv := a[i*lda+k], b[k*ldb+j]
							if transA {
								av = a[k*lda+i]
							}
							if transB {
								bv = b[j*ldb+k]
							}
							sum += bf(av) * bf(bv)
							mag += math.Abs(bf(av) * bf(bv))
						}
						want := float64(ab[0])*sum + float64(ab[1])*float64(c0[i*ldc+j])
						tol := 1e-6*(mag+math.Abs(float64(c0[i*ldc+j]))) + 1e-30
						require.InDelta(t, want, float64(c[i*ldc+j]), tol, "%+v trans %v ab %v at %d,%d", s, tr, ab, i, j)
					}
				}
			}
		}
	}
}

// BenchmarkSgemmAMX times SgemmAMX on the GPT-2 step's shapes (gemmBenchShapes) and the
// tiny model's LM-head chunks (128 rows, V = 50257, C = 256), with B packed per call
// ("amx") and beforehand ("amx_packed", as a frozen weight is), beside Sgemm on the
// default path: compare GFLOP/cpu-s.
func BenchmarkSgemmAMX(b *testing.B) {
	if !HaveAMX() {
		b.Skip("this CPU or OS has no AMX bfloat16 tiles")
	}
	shapes := append(gemmBenchShapes[:len(gemmBenchShapes):len(gemmBenchShapes)], []struct {
		name           string
		transA, transB bool
		M, N, K        int
	}{{"tiny_lmhead_fwd", false, true, 128, 50257, 256}, {"tiny_lmhead_dh", false, false, 128, 256, 50257}}...)
	for _, s := range shapes {
		a, bm, c, lda, ldb := gemmOperands(s.transA, s.transB, s.M, s.N, s.K)
		tr := map[bool]string{false: "N", true: "T"}
		for _, impl := range []struct {
			name string
			fn   func(transA, transB bool, M, N, K int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
		}{{"amx", SgemmAMX}, {"amx_packed", nil}, {"f32", Sgemm}} {
			fn := impl.fn
			if fn == nil {
				p := PackAMX(s.transB, s.K, s.N, bm, ldb)
				fn = func(transA, _ bool, M, _, _ int, alpha float32, a []float32, lda int, _ []float32, _ int, beta float32, c []float32, ldc int) {
					SgemmAMXPacked(transA, M, alpha, a, lda, p, beta, c, ldc)
				}
			}
			b.Run(fmt.Sprintf("%s_%dx%dx%d_%s%s/%s", s.name, s.M, s.N, s.K, tr[s.transA], tr[s.transB], impl.name), func(b *testing.B) {
				cpu0 := processCPUTime()
				for b.Loop() {
					fn(s.transA, s.transB, s.M, s.N, s.K, 1, a, lda, bm, ldb, 0, c, s.N)
				}
				reportGemmRates(b, s.M, s.N, s.K, processCPUTime()-cpu0)
			})
		}
	}
}

// TestPackRowAMX checks the AVX-512 row packer against half.BFloat16, bit for bit, on
// values of every kind: ties, subnormals, infinities, NaNs with any payload.
func TestPackRowAMX(t *testing.T) {
	if !haveAVX512 {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	const steps = 3
	src := make([]float32, 32*steps)
	for i := range src {
		switch i % 4 {
		case 0:
			src[i] = math.Float32frombits(rng.Uint32())
		case 1:
			src[i] = math.Float32frombits(rng.Uint32()&0xffff0000 | 0x8000) // a tie
		case 2:
			src[i] = math.Float32frombits(rng.Uint32() & 0x807fffff) // subnormal or zero
		default:
			src[i] = math.Float32frombits(0x7f800000 | rng.Uint32()&0x807fffff) // Inf or NaN
		}
	}
	dst := make([]uint16, (steps-1)*amxStep+32)
	packRowAMX(&dst[0], &src[0], steps)
	for s := range steps {
		for x := range 32 {
			v := src[32*s+x]
			require.Equal(t, half.BFloat16(v), dst[s*amxStep+x], "%08x", math.Float32bits(v))
		}
	}
}

// TestSgemmAMXPacked checks that a packed B (from float32 or from bfloat16) gives
// SgemmAMX's bits, and that the packer rejects a short B.
func TestSgemmAMXPacked(t *testing.T) {
	if !HaveAMX() {
		t.Skip("this CPU or OS has no AMX bfloat16 tiles")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	M, N, K := 70, 90, 530
	a := make([]float32, M*K)
	b := make([]float32, N*K)
	for i := range a {
		a[i] = float32(rng.NormFloat64())
	}
	b16 := make([]uint16, len(b))
	for i := range b {
		b[i] = float32(rng.NormFloat64())
		b16[i] = half.BFloat16(b[i])
	}
	for _, transB := range []bool{false, true} {
		ldb := N
		if transB {
			ldb = K
		}
		want := make([]float32, M*N)
		SgemmAMX(false, transB, M, N, K, 1, a, K, b, ldb, 0, want, N)
		for _, p := range []*AMXPanels{PackAMX(transB, K, N, b, ldb), PackAMXBF16(transB, K, N, b16, ldb)} {
			got := make([]float32, M*N)
			SgemmAMXPacked(false, M, 1, a, K, p, 0, got, N)
			require.Equal(t, want, got)
		}
	}
	require.Panics(t, func() { PackAMX(false, K, N, b[:K*N-1], N) })
	require.Panics(t, func() { PackAMXBF16Into(make([]uint16, AMXPanelsLen(K, N)-1), false, K, N, b16, N) })
}

// TestSgemmAMXDeterministic checks that SgemmAMX gives the same bits on one goroutine as
// on several (each panel sums its k segments in order, whoever runs it).
func TestSgemmAMXDeterministic(t *testing.T) {
	if !HaveAMX() {
		t.Skip("this CPU or OS has no AMX bfloat16 tiles")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	M, N, K := 64, 1000, 1500
	a, b := make([]float32, M*K), make([]float32, K*N)
	for i := range a {
		a[i] = float32(rng.NormFloat64())
	}
	for i := range b {
		b[i] = float32(rng.NormFloat64())
	}
	run := func(procs int) []float32 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		c := make([]float32, M*N)
		SgemmAMX(false, false, M, N, K, 1, a, K, b, N, 0, c, N)
		return c
	}
	require.Equal(t, run(1), run(4))
}
