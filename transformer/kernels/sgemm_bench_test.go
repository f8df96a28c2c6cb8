package kernels

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// gemmBenchShapes are the products of a GPT-2 training step on N = B·T = 512 rows:
// GPT-2 small (C = 768, 4C = 3072, V = 50257) and the tiny demo model (C = 256).
// Conv1D weights are [in, out], so forward is NN, dX = dY·Wᵀ is NT and dW = Xᵀ·dY is TN.
// The LM head uses an 8192-entry slice of the vocabulary to stay short.
var gemmBenchShapes = []struct {
	name           string
	transA, transB bool
	M, N, K        int
}{
	{"attn_qkv_fwd", false, false, 512, 2304, 768},
	{"attn_qkv_dx", false, true, 512, 768, 2304},
	{"attn_qkv_dw", true, false, 768, 2304, 512},
	{"attn_proj_fwd", false, false, 512, 768, 768},
	{"mlp_fc_fwd", false, false, 512, 3072, 768},
	{"mlp_fc_dx", false, true, 512, 768, 3072},
	{"mlp_fc_dw", true, false, 768, 3072, 512},
	{"mlp_proj_fwd", false, false, 512, 768, 3072},
	{"lm_head_fwd", false, true, 512, 8192, 768},
	{"lm_head_dx", false, false, 512, 768, 8192},
	{"lm_head_dw", true, false, 8192, 768, 512},
	{"tiny_qkv_fwd", false, false, 512, 768, 256},
	{"tiny_fc_fwd", false, false, 512, 1024, 256},
	{"tiny_proj_fwd", false, false, 512, 256, 1024},
	{"tiny_fc_dw", true, false, 256, 1024, 512},
	{"attn_scores_T128", false, true, 128, 128, 64},
}

// BenchmarkSGEMM times Sgemm on each GPT-2 shape, on every path this CPU supports. Run
// with -cpu 1,2 to see the scaling, and compare cores between the two.
func BenchmarkSGEMM(b *testing.B) {
	for _, path := range gemmPaths() {
		b.Run(path.name, func(b *testing.B) {
			for _, s := range gemmBenchShapes {
				tr := map[bool]string{false: "N", true: "T"}
				name := fmt.Sprintf("%s_%dx%dx%d_%s%s", s.name, s.M, s.N, s.K, tr[s.transA], tr[s.transB])
				b.Run(name, func(b *testing.B) {
					defer path.use()()
					rng := rand.New(rand.NewPCG(1, 2))
					fill := func(n int) []float32 {
						x := make([]float32, n)
						for i := range x {
							x[i] = float32(rng.NormFloat64())
						}
						return x
					}
					lda, ldb := s.K, s.N
					if s.transA {
						lda = s.M
					}
					if s.transB {
						ldb = s.K
					}
					a, bm, c := fill(s.M*s.K), fill(s.K*s.N), fill(s.M*s.N)
					b.ReportAllocs()
					cpu0 := processCPUTime()
					for b.Loop() {
						Sgemm(s.transA, s.transB, s.M, s.N, s.K, 1, a, lda, bm, ldb, 0, c, s.N)
					}
					reportGemmRates(b, s.M, s.N, s.K, processCPUTime()-cpu0)
				})
			}
		})
	}
}

// reportGemmRates reports GFLOP/s of wall time and, where the process CPU time is known,
// the cores it kept busy on average (cores; the whole process, the benchmark harness
// included) and GFLOP per CPU-second. On a machine shared with other jobs a second
// thread may get only part of a core: cores tells how much it got, GFLOP/cpu-s how well
// the time it got was used, which wall-clock GFLOP/s alone mixes up.
func reportGemmRates(b *testing.B, M, N, K int, cpu time.Duration) {
	flops := 2 * float64(M) * float64(N) * float64(K) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if cpu > 0 {
		b.ReportMetric(cpu.Seconds()/b.Elapsed().Seconds(), "cores")
		b.ReportMetric(flops/cpu.Seconds()/1e9, "GFLOP/cpu-s")
	}
}

// BenchmarkSGEMMKernel times each assembly micro-kernel alone on 256-deep panels that
// stay in L1: the ceiling that the packed, blocked Sgemm approaches.
func BenchmarkSGEMMKernel(b *testing.B) {
	kernels := []struct {
		name   string
		path   Path
		mr, nr int
		fn     func(kc int, a, b, c *float32, ldc int, alpha, beta float32)
	}{{"avx2_6x16", PathAVX2, 6, 16, sgemmKernel6x16}, {"avx512_12x32", PathAVX512, 12, 32, sgemmKernel12x32}}
	for _, k := range kernels {
		b.Run(k.name, func(b *testing.B) {
			if !slices.Contains(Paths(), k.path) {
				b.Skip("this CPU or build lacks the kernel")
			}
			const kc = 256
			a, bp, c := make([]float32, k.mr*kc), make([]float32, k.nr*kc), make([]float32, k.mr*k.nr)
			b.ReportAllocs()
			for b.Loop() {
				k.fn(kc, &a[0], &bp[0], &c[0], k.nr, 1, 0)
			}
			b.ReportMetric(2*float64(k.mr*k.nr*kc)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
