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
					a, bm, c, lda, ldb := gemmOperands(s.transA, s.transB, s.M, s.N, s.K)
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

// normals returns n draws of N(0, 1) from rng, as float32.
func normals(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// gemmOperands returns seeded random operands of an M×N×K product, A and B stored as
// transA and transB say (tight strides), and C.
func gemmOperands(transA, transB bool, M, N, K int) (a, b, c []float32, lda, ldb int) {
	rng := rand.New(rand.NewPCG(1, 2))
	fill := func(n int) []float32 { return normals(rng, n) }
	lda, ldb = K, N
	if transA {
		lda = M
	}
	if transB {
		ldb = K
	}
	return fill(M * K), fill(K * N), fill(M * N), lda, ldb
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

// stepBenchShapes are the products of one SmolLM2-135M LoRA train step (B·T = 512 rows
// as 4×128, C = 576, inner 1536, 9 query and 3 key/value heads of 64, V = 49152, LoRA
// r = 8 on q and v), each with its count per step. Dense weights are [out, in]: forward
// X·Wᵀ is NT, dX = dY·W is NN; the frozen weights get no dW. The LM head runs in chunks
// of lmHeadRows(508) rows (AVX-512: three of 180, the last short), each packing the whole
// (V, C) embedding.
var stepBenchShapes = []struct {
	name           string
	transA, transB bool
	M, N, K        int
	count          int
}{
	{"q_o_fwd", false, true, 512, 576, 576, 60},
	{"kv_fwd", false, true, 512, 192, 576, 60},
	{"gate_up_fwd", false, true, 512, 1536, 576, 60},
	{"down_fwd", false, true, 512, 576, 1536, 30},
	{"q_o_dx", false, false, 512, 576, 576, 60},
	{"kv_dx", false, false, 512, 576, 192, 60},
	{"gate_up_dx", false, false, 512, 576, 1536, 60},
	{"down_dx", false, false, 512, 1536, 576, 30},
	{"attn_qk", false, true, 128, 128, 64, 2 * 36 * 30},
	{"attn_pv", false, false, 128, 64, 128, 2 * 36 * 30},
	{"attn_dv_dk", true, false, 128, 64, 128, 2 * 36 * 30},
	{"lora_xa", false, true, 512, 8, 576, 60},
	{"lora_dxa", false, false, 512, 8, 576, 60},
	{"lora_db", true, false, 576, 8, 512, 60},
	{"lora_da", true, false, 8, 576, 512, 60},
	{"lora_dx", false, false, 512, 576, 8, 60},
	{"lmhead_fwd", false, true, 180, 49152, 576, 3},
	{"lmhead_dh", false, false, 180, 576, 49152, 3},
}

// BenchmarkSGEMMStep times Sgemm on the products of a SmolLM2-135M LoRA step (see
// stepBenchShapes) on the default path, one sub-benchmark per shape, and "step": every
// product of the step, count times each, per iteration. Each shape has operands of its
// own, as large as its calls' (the LM head's embedding is 113 MB, out of cache as in the
// step). GFLOP/cpu-s is the figure to compare on a shared machine.
func BenchmarkSGEMMStep(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	fill := func(n int) []float32 { return normals(rng, n) }
	type operands struct {
		a, b, c       []float32
		lda, ldb, ldc int
	}
	ops := make([]operands, len(stepBenchShapes))
	for i, s := range stepBenchShapes {
		lda, ldb := s.K, s.N
		if s.transA {
			lda = s.M
		}
		if s.transB {
			ldb = s.K
		}
		ops[i] = operands{fill(s.M * s.K), fill(s.K * s.N), fill(s.M * s.N), lda, ldb, s.N}
	}
	call := func(i int) {
		s, o := stepBenchShapes[i], ops[i]
		Sgemm(s.transA, s.transB, s.M, s.N, s.K, 1, o.a, o.lda, o.b, o.ldb, 0, o.c, o.ldc)
	}
	tr := map[bool]string{false: "N", true: "T"}
	for i, s := range stepBenchShapes {
		name := fmt.Sprintf("%s_%dx%dx%d_%s%s", s.name, s.M, s.N, s.K, tr[s.transA], tr[s.transB])
		b.Run(name, func(b *testing.B) {
			cpu0 := processCPUTime()
			for b.Loop() {
				call(i)
			}
			reportGemmRates(b, s.M, s.N, s.K, processCPUTime()-cpu0)
		})
	}
	b.Run("step", func(b *testing.B) {
		var flops float64
		for _, s := range stepBenchShapes {
			flops += 2 * float64(s.M) * float64(s.N) * float64(s.K) * float64(s.count)
		}
		cpu0 := processCPUTime()
		for b.Loop() {
			for i, s := range stepBenchShapes {
				for range s.count {
					call(i)
				}
			}
		}
		cpu := processCPUTime() - cpu0
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		if cpu > 0 {
			b.ReportMetric(cpu.Seconds()/b.Elapsed().Seconds(), "cores")
			b.ReportMetric(flops*float64(b.N)/cpu.Seconds()/1e9, "GFLOP/cpu-s")
		}
	})
}

// BenchmarkLMHeadCrossEntropy times the fused LM head and loss of the SmolLM2-135M step
// (512 rows, of which 508 have targets, C = 576, V = 49152, tied embedding: dh only), and
// with dw as full fine-tuning has it.
func BenchmarkLMHeadCrossEntropy(b *testing.B) {
	const N, C, V = 512, 576, 49152
	rng := rand.New(rand.NewPCG(3, 4))
	h, w := randSlice(rng, N*C, 1), randSlice(rng, V*C, 0.05)
	targets := randomTargets(rng, N, V, 128, 127)
	losses, dh := make([]float32, N), make([]float32, N*C)
	for _, withDW := range []bool{false, true} {
		var dw []float32
		name := "dh"
		if withDW {
			dw, name = make([]float32, V*C), "dh_dw"
		}
		b.Run(name, func(b *testing.B) {
			cpu0 := processCPUTime()
			for b.Loop() {
				LMHeadCrossEntropy(losses, dh, dw, h, w, targets, -100, 1, N, C, V)
			}
			reportGemmRates(b, 508, V, C*2, processCPUTime()-cpu0) // two products, (dw: three)
		})
	}
}

// BenchmarkSGEMMPack times the panel packing alone on each path, from a 256×576 operand
// that stays in L2 (the packers' own speed; from memory they wait on it), one kc slice
// at a time: B and A, from rows of the operand that run along the packed index (packAlong,
// a copy) or along k (packStrided, a transpose).
func BenchmarkSGEMMPack(b *testing.B) {
	const rows, cols = 256, 576
	src := randSlice(rand.New(rand.NewPCG(5, 6)), rows*cols, 1)
	for _, path := range gemmPaths() {
		bl := blockingFor(path.path)
		for _, c := range []struct {
			name     string
			a, along bool
		}{{"B_along_j", false, true}, {"B_along_k", false, false}, {"A_along_i", true, true}, {"A_along_k", true, false}} {
			b.Run(path.name+"/"+c.name, func(b *testing.B) {
				// op(B) = src with !transB, srcᵀ with transB; op(A) = srcᵀ with transA, src without.
				g := &gemm{blocking: bl, transA: c.along, transB: !c.along, a: src, lda: cols, b: src, ldb: cols}
				n, K := rows, cols // packed indices, depth
				if c.along {
					n, K = cols, rows
				}
				dst := make([]float32, (n+bl.mr+bl.nr)*bl.kc)
				for b.Loop() {
					for p := 0; p < K; p += bl.kc {
						kc := min(bl.kc, K-p)
						if c.a {
							g.packARows(dst, 0, n, p, kc)
						} else {
							g.packBCols(dst, 0, n, p, kc)
						}
					}
				}
				b.ReportMetric(float64(rows*cols)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gfloat/s")
			})
		}
	}
}
