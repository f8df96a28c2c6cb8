package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// randBF16 returns n bfloat16 values: uniform floats in [−1, 1) cut to their upper
// half, some of them scaled far from 1 so that the exponents vary.
func randBF16(rng *rand.Rand, n int) []uint16 {
	h := make([]uint16, n)
	for i := range h {
		v := float32(2*rng.Float64() - 1)
		if rng.IntN(8) == 0 {
			v *= float32(math.Ldexp(1, rng.IntN(40)-20))
		}
		h[i] = uint16(math.Float32bits(v) >> 16)
	}
	return h
}

// widenRef returns h widened to float32, one value at a time.
func widenRef(h []uint16) []float32 {
	f := make([]float32, len(h))
	for i, v := range h {
		f[i] = math.Float32frombits(uint32(v) << 16)
	}
	return f
}

// bits returns the bit patterns of f, so that equal NaNs compare equal.
func bits(f []float32) []uint32 {
	b := make([]uint32, len(f))
	for i, v := range f {
		b[i] = math.Float32bits(v)
	}
	return b
}

// TestWidenBF16Exact widens all 65536 bfloat16 values (NaNs and infinities included) at
// every offset and length up to some past the vector widths, on every path: each must
// keep its bits in the upper half of its float32, and nothing past the end is written.
func TestWidenBF16Exact(t *testing.T) {
	onEveryPath(t, func(t *testing.T) {
		all := make([]uint16, 1<<16)
		for i := range all {
			all[i] = uint16(i)
		}
		want := widenRef(all)
		got := make([]float32, len(all))
		WidenBF16(got, all)
		require.Equal(t, bits(want), bits(got))

		for off := range 3 {
			for n := range 100 {
				src := all[0xbf80+off:][:n] // around −1: 0xbf80
				dst := make([]float32, n+5)
				for i := range dst {
					dst[i] = -7
				}
				WidenBF16(dst, src)
				assert.Equal(t, bits(widenRef(src)), bits(dst[:n]), "offset %d, n %d", off, n)
				assert.Equal(t, []float32{-7, -7, -7, -7, -7}, dst[n:], "offset %d, n %d: written past the end", off, n)
			}
		}
		assert.Panics(t, func() { WidenBF16(make([]float32, 3), make([]uint16, 4)) })
	})
}

// bf16GemvShapes are (K, N) pairs for the bfloat16 GEMVs: degenerate; fewer than four
// rows (no quarters), rows left after the quarters; row and column counts that leave
// every vector tail (8, 16 or 24 of 32, fewer than 8); sizes split into parallel blocks
// with a short last one; SmolLM2-135M's and GPT-2 small's projections.
var bf16GemvShapes = [][2]int{
	{1, 1}, {3, 5}, {2, 8}, {7, 13}, {8, 8}, {5, 257}, {6, 24}, {9, 40}, {11, 56}, {13, 63},
	{4, 7}, {24, 9}, {48, 13}, {56, 21}, {64, 192}, {129, 515}, {193, 1000}, {577, 1543}, {1031, 768},
	{1000, 300}, {1048, 520},
	{576, 1536}, {1536, 576}, {576, 576}, {576, 192}, {768, 2304}, {3072, 768},
}

// TestVecMatBF16MatchesVecMat: on every path, VecMatBF16 gives the bits VecMat gives on
// the widened weights, with several goroutines or one.
func TestVecMatBF16MatchesVecMat(t *testing.T) { onEveryPath(t, testVecMatBF16MatchesVecMat) }

func testVecMatBF16MatchesVecMat(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, s := range bf16GemvShapes {
		K, N := s[0], s[1]
		for _, withBias := range []bool{false, true} {
			name := fmt.Sprintf("VecMatBF16(K=%d, N=%d, bias=%v)", K, N, withBias)
			x, w := decodeRand(rng, K), randBF16(rng, K*N)
			var bias []float32
			if withBias {
				bias = decodeRand(rng, N)
			}
			want := make([]float32, N)
			VecMat(want, x, widenRef(w), bias, K, N)
			got := make([]float32, N+3) // longer than N: only N are written
			got[N], got[N+1], got[N+2] = 1, 2, 3
			VecMatBF16(got, x, w, bias, K, N)
			require.Equal(t, bits(want), bits(got[:N]), name)
			require.Equal(t, []float32{1, 2, 3}, got[N:], "%s: written past N", name)
			one := make([]float32, N)
			withProcs(1, func() { VecMatBF16(one, x, w, bias, K, N) })
			require.Equal(t, bits(want), bits(one), "%s on one goroutine", name)
		}
	}
}

// TestMatVecBF16MatchesMatVec: on every path, MatVecBF16 gives the bits MatVec gives on
// the widened weights, with several goroutines or one.
func TestMatVecBF16MatchesMatVec(t *testing.T) { onEveryPath(t, testMatVecBF16MatchesMatVec) }

func testMatVecBF16MatchesMatVec(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	for _, s := range bf16GemvShapes {
		N, K := s[1], s[0] // w (N, K): rows of every length, K < 8 and K % 8 ≠ 0 included
		name := fmt.Sprintf("MatVecBF16(N=%d, K=%d)", N, K)
		x, w := decodeRand(rng, K), randBF16(rng, K*N)
		want := make([]float32, N)
		MatVec(want, widenRef(w), x, N, K)
		got := make([]float32, N+3)
		got[N], got[N+1], got[N+2] = 1, 2, 3
		MatVecBF16(got, w, x, N, K)
		require.Equal(t, bits(want), bits(got[:N]), name)
		require.Equal(t, []float32{1, 2, 3}, got[N:], "%s: written past N", name)
		one := make([]float32, N)
		withProcs(1, func() { MatVecBF16(one, w, x, N, K) })
		require.Equal(t, bits(want), bits(one), "%s on one goroutine", name)
	}
}

func TestBF16GemvPanicsOnShortBuffers(t *testing.T) {
	f, h := make([]float32, 16), make([]uint16, 16)
	assert.Panics(t, func() { VecMatBF16(f[:3], f[:2], h[:5], nil, 2, 3) })      // w
	assert.Panics(t, func() { VecMatBF16(f[:3], f[:1], h[:6], nil, 2, 3) })      // x
	assert.Panics(t, func() { VecMatBF16(f[:2], f[:2], h[:6], nil, 2, 3) })      // out
	assert.Panics(t, func() { VecMatBF16(f[:3], f[:2], h[:6], f[:2], 2, 3) })    // bias
	assert.Panics(t, func() { MatVecBF16(f[:2], h[:6], f[:2], 3, 2) })           // out
	assert.Panics(t, func() { MatVecBF16(f[:3], h[:5], f[:2], 3, 2) })           // w
	assert.Panics(t, func() { MatVecBF16(f[:3], h[:6], f[:1], 3, 2) })           // x
	assert.NotPanics(t, func() { VecMatBF16(f[:3], f[:2], h[:6], f[:3], 2, 3) }) // exact
	assert.NotPanics(t, func() { MatVecBF16(f[:3], h[:6], f[:2], 3, 2) })        // exact
	assert.NotPanics(t, func() { VecMatBF16(f[:0], f[:0], h[:0], nil, 0, 0) })   // empty
	assert.NotPanics(t, func() { MatVecBF16(f[:0], h[:0], f[:0], 0, 0) })        // empty
	assert.NotPanics(t, func() { VecMatBF16(f[:3], f[:0], h[:0], nil, 0, 3) })   // K = 0
	assert.NotPanics(t, func() { MatVecBF16(f[:3], h[:0], f[:0], 3, 0) })        // K = 0
}

// gemvBench is one GEMV of a decode step: MatVec (a Llama Dense, w (N, K)) or VecMat (a
// GPT-2 Conv1D, w (K, N)).
type gemvBench struct {
	name   string
	K, N   int
	matVec bool
}

// reportGemv reports the weight bytes read per second of wall time (GB/s) and, where
// the process CPU time is known, per CPU second (GB/cpu-s) and the CPU time per call
// (cpu-ns/op): on a shared machine the wall time counts the time the benchmark waited
// for a core, the CPU time only the time it ran.
func reportGemv(b *testing.B, bytes int, cpu time.Duration) {
	total := float64(bytes) * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds()/1e9, "GB/s")
	if cpu > 0 {
		b.ReportMetric(total/cpu.Seconds()/1e9, "GB/cpu-s")
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkGemvBF16 times MatVec against MatVecBF16 at the shapes of SmolLM2-135M's
// projections (Dense) and VecMat against VecMatBF16 at GPT-2 small's MLP (Conv1D), on
// every path. One weight matrix is read over and over, so it comes from the caches
// (2 MiB of L2 holds the bfloat16 576×1536, not the float32 one); BenchmarkGemvModelBF16
// reads a whole model's weights, as decoding does.
func BenchmarkGemvBF16(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 10))
	defer SetPath(SetPath(CurrentPath()))
	for _, s := range []gemvBench{
		{"smollm2.mlp.up_proj", 576, 1536, true}, {"smollm2.mlp.down_proj", 1536, 576, true},
		{"smollm2.self_attn.q_proj", 576, 576, true},
		{"gpt2.attn.c_proj", 768, 768, false}, {"gpt2.mlp.c_fc", 768, 3072, false}, {"gpt2.mlp.c_proj", 3072, 768, false},
	} {
		x, h, out := decodeRand(rng, s.K), randBF16(rng, s.K*s.N), make([]float32, s.N)
		f := widenRef(h)
		for _, p := range Paths() {
			for _, bf := range []bool{false, true} {
				dt, bytes := "f32", 4*s.K*s.N
				if bf {
					dt, bytes = "bf16", 2*s.K*s.N
				}
				b.Run(s.name+"/"+dt+"/"+p.String(), func(b *testing.B) {
					SetPath(p)
					b.ReportAllocs()
					cpu0 := processCPUTime()
					for b.Loop() {
						switch {
						case s.matVec && bf:
							MatVecBF16(out, h, x, s.N, s.K)
						case s.matVec:
							MatVec(out, f, x, s.N, s.K)
						case bf:
							VecMatBF16(out, x, h, nil, s.K, s.N)
						default:
							VecMat(out, x, f, nil, s.K, s.N)
						}
					}
					reportGemv(b, bytes, processCPUTime()-cpu0)
				})
			}
		}
	}
}

// BenchmarkGemvModelBF16 runs the projections of one decode step over distinct
// weights, as decoding does, so that they come from memory rather than the caches: those
// of SmolLM2-135M (30 blocks of q, k, v, o, gate, up and down, MatVec: 106 M weights,
// 425 MB in float32, 212 MB in bfloat16) and of GPT-2 small (12 blocks of c_attn,
// c_proj, c_fc and mlp.c_proj, VecMat: 85 M weights), on float32 weights against the
// same weights in bfloat16, on every assembly path (the default last). GB/s counts the
// bytes of weights read.
func BenchmarkGemvModelBF16(b *testing.B) {
	defer SetPath(SetPath(CurrentPath()))
	for _, m := range []struct {
		name   string
		layers int
		shapes []gemvBench
	}{
		{"smollm2", 30, []gemvBench{{"q", 576, 576, true}, {"k", 576, 192, true}, {"v", 576, 192, true},
			{"o", 576, 576, true}, {"gate", 576, 1536, true}, {"up", 576, 1536, true}, {"down", 1536, 576, true}}},
		{"gpt2", 12, []gemvBench{{"c_attn", 768, 2304, false}, {"attn.c_proj", 768, 768, false},
			{"c_fc", 768, 3072, false}, {"mlp.c_proj", 3072, 768, false}}},
	} {
		for _, bf := range []bool{false, true} {
			rng := rand.New(rand.NewPCG(7, 11))
			var fs [][]float32
			var hs [][]uint16
			weights := 0
			for range m.layers {
				for _, s := range m.shapes {
					h := randBF16(rng, s.K*s.N)
					if bf {
						hs = append(hs, h)
					} else {
						fs = append(fs, widenRef(h))
					}
					weights += s.K * s.N
				}
			}
			dt, bytes := "f32", 4*weights
			if bf {
				dt, bytes = "bf16", 2*weights
			}
			x, out := decodeRand(rng, 4096), make([]float32, 4096)
			for _, p := range Paths()[1:] {
				b.Run(m.name+"/"+dt+"/"+p.String(), func(b *testing.B) {
					SetPath(p)
					cpu0 := processCPUTime()
					for b.Loop() {
						for i := range m.layers * len(m.shapes) {
							s := m.shapes[i%len(m.shapes)]
							switch {
							case s.matVec && bf:
								MatVecBF16(out, hs[i], x, s.N, s.K)
							case s.matVec:
								MatVec(out, fs[i], x, s.N, s.K)
							case bf:
								VecMatBF16(out, x, hs[i], nil, s.K, s.N)
							default:
								VecMat(out, x, fs[i], nil, s.K, s.N)
							}
						}
					}
					reportGemv(b, bytes, processCPUTime()-cpu0)
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
				})
			}
		}
	}
}

// BenchmarkWidenBF16 widens SmolLM2-135M's largest projection weight (1536×576), as a
// training product on a bfloat16 weight does, on every path; GB/s counts the bytes read
// and written.
func BenchmarkWidenBF16(b *testing.B) {
	defer SetPath(SetPath(CurrentPath()))
	src := randBF16(rand.New(rand.NewPCG(7, 12)), 1536*576)
	dst := make([]float32, len(src))
	for _, p := range Paths() {
		b.Run(p.String(), func(b *testing.B) {
			SetPath(p)
			cpu0 := processCPUTime()
			for b.Loop() {
				WidenBF16(dst, src)
			}
			reportGemv(b, 6*len(src), processCPUTime()-cpu0)
		})
	}
}
