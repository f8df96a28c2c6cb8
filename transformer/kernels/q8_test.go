package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/transformer/safetensors"
)

// randQ8 returns n weights in 8-bit blocks (n a multiple of Q8Block): random values q
// over the whole int8 range, −128 and 127 included, and random float16 scales, zero,
// the smallest subnormal, the largest and negative ones included.
func randQ8(rng *rand.Rand, n int) []byte {
	w := make([]byte, n/Q8Block*Q8BlockBytes)
	for b := 0; b < len(w); b += Q8BlockBytes {
		d := safetensors.Float32ToFloat16(float32(rng.Float64() * 0.02))
		switch rng.IntN(16) {
		case 0:
			d = 0
		case 1:
			d = 0x0001 // 2⁻²⁴, a subnormal
		case 2:
			d = 0x7bff // 65504
		case 3:
			d |= 0x8000
		}
		binary.LittleEndian.PutUint16(w[b:], d)
		for j := range Q8Block {
			w[b+2+j] = byte(rng.IntN(256))
		}
	}
	return w
}

// dequantRef returns the weights of the blocks in w, q·d, in float64.
func dequantRef(w []byte) []float64 {
	f := make([]float64, len(w)/Q8BlockBytes*Q8Block)
	for b := range len(w) / Q8BlockBytes {
		d := float64(q8Scale(w[b*Q8BlockBytes:]))
		for j := range Q8Block {
			f[b*Q8Block+j] = float64(int8(w[b*Q8BlockBytes+2+j])) * d
		}
	}
	return f
}

// q8GemvShapes are (N, K) pairs: rows around the four quarters the kernels walk (1 to 9,
// 515), GPT-2 small's and SmolLM2's projections (several work items), and an LM head.
var q8GemvShapes = [][2]int{{1, 32}, {2, 64}, {3, 96}, {4, 32}, {5, 128}, {7, 64}, {8, 32}, {9, 160},
	{515, 96}, {2304, 768}, {768, 3072}, {576, 1536}, {1536, 576}, {5000, 64}}

// TestMatVecQ8 checks MatVecQ8 on every path: bit for bit dotQ8 (the order of
// operations it documents) with several goroutines or one, close to the float64 product
// of the dequantized weights, and nothing written past N.
func TestMatVecQ8(t *testing.T) { onEveryPath(t, testMatVecQ8) }

func testMatVecQ8(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for _, s := range q8GemvShapes {
		N, K := s[0], s[1]
		name := fmt.Sprintf("MatVecQ8(N=%d, K=%d)", N, K)
		x, w := decodeRand(rng, K), randQ8(rng, N*K)
		x[0], x[K-1] = 3e4, -1e-3 // lanes of very different sizes
		want, ref, bound := make([]float32, N), make([]float64, N), make([]float64, N)
		f := dequantRef(w)
		rb := Q8RowBytes(K)
		for r := range N {
			want[r] = dotQ8(w[r*rb:(r+1)*rb], x)
			for k := range K {
				ref[r] += f[r*K+k] * float64(x[k])
				bound[r] += math.Abs(f[r*K+k] * float64(x[k]))
			}
			// Each lane sums K/32 blocks of four rounded operations, then four
			// additions reduce the lanes: a relative error of at most a few units of
			// 2⁻²⁴ per operation, on the sum of the magnitudes.
			bound[r] *= float64(K/Q8Block+8) * 0x1p-23
		}
		got := make([]float32, N+3)
		got[N], got[N+1], got[N+2] = 1, 2, 3
		MatVecQ8(got, w, x, N, K)
		require.Equal(t, bits(want), bits(got[:N]), name)
		require.Equal(t, []float32{1, 2, 3}, got[N:], "%s: written past N", name)
		one := make([]float32, N)
		withProcs(1, func() { MatVecQ8(one, w, x, N, K) })
		require.Equal(t, bits(want), bits(one), "%s on one goroutine", name)
		for r := range N {
			require.LessOrEqual(t, math.Abs(float64(got[r])-ref[r]), bound[r], "%s: row %d, float64 %g", name, r, ref[r])
		}
	}
}

// TestDequantQ8 checks that DequantQ8 writes q·d exactly on every path, in one work
// item or several, and nothing past its blocks.
func TestDequantQ8(t *testing.T) { onEveryPath(t, testDequantQ8) }

func testDequantQ8(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	for _, n := range []int{0, 32, 64, 96, 768 * 32, (3*dequantGrain + 5) * Q8Block} { // the last in several work items
		w := randQ8(rng, n)
		want := dequantRef(w)
		got := make([]float32, n+1)
		got[n] = 7
		DequantQ8(got[:n], w)
		for i, v := range want {
			require.Equal(t, float32(v), got[i], "DequantQ8(n=%d)[%d]", n, i)
		}
		require.Equal(t, float32(7), got[n], "DequantQ8(n=%d): written past n", n)
	}
}

func TestQ8PanicsOnBadShapes(t *testing.T) {
	f, w := make([]float32, 128), make([]byte, 4*Q8BlockBytes)
	assert.Panics(t, func() { MatVecQ8(f[:2], w, f[:48], 2, 48) })                  // K % 32 ≠ 0
	assert.Panics(t, func() { MatVecQ8(f[:1], w, f[:64], 2, 64) })                  // out
	assert.Panics(t, func() { MatVecQ8(f[:2], w[:3*Q8BlockBytes], f[:64], 2, 64) }) // w
	assert.Panics(t, func() { MatVecQ8(f[:2], w, f[:63], 2, 64) })                  // x
	assert.Panics(t, func() { DequantQ8(f[:40], w) })                               // not whole blocks
	assert.Panics(t, func() { DequantQ8(f[:128], w[:3*Q8BlockBytes]) })             // src
	assert.NotPanics(t, func() { MatVecQ8(f[:2], w, f[:64], 2, 64) })               // exact
	assert.NotPanics(t, func() { MatVecQ8(f[:0], w[:0], f[:0], 0, 0) })             // empty
	assert.NotPanics(t, func() { MatVecQ8(f[:3], w[:0], f[:0], 3, 0) })             // K = 0
	assert.NotPanics(t, func() { DequantQ8(f[:128], w) })                           // exact
}

// BenchmarkGemvModelQ8 runs the projections of one decode step of GPT-2 small (12
// blocks of c_attn, attn.c_proj, c_fc and mlp.c_proj) and of SmolLM2-135M (30 blocks of
// q, k, v, o, gate, up and down) over distinct weights, as decoding does, so that they
// come from memory: in float32 (MatVec, each weight (out, in)), in bfloat16
// (MatVecBF16) and in 8-bit blocks (MatVecQ8), on every assembly path. GB/s counts the
// bytes of weights read; steps/s is the rate of whole steps.
func BenchmarkGemvModelQ8(b *testing.B) {
	defer SetPath(SetPath(CurrentPath()))
	for _, m := range []struct {
		name   string
		layers int
		shapes [][2]int // (out, in)
	}{
		{"gpt2", 12, [][2]int{{2304, 768}, {768, 768}, {3072, 768}, {768, 3072}}},
		{"smollm2", 30, [][2]int{{576, 576}, {192, 576}, {192, 576}, {576, 576}, {1536, 576}, {1536, 576}, {576, 1536}}},
	} {
		for _, dt := range []string{"f32", "bf16", "q8"} {
			rng := rand.New(rand.NewPCG(7, 13))
			var fs [][]float32
			var hs [][]uint16
			var qs [][]byte
			bytes := 0
			for range m.layers {
				for _, s := range m.shapes {
					switch n := s[0] * s[1]; dt {
					case "f32":
						fs, bytes = append(fs, decodeRand(rng, n)), bytes+4*n
					case "bf16":
						hs, bytes = append(hs, randBF16(rng, n)), bytes+2*n
					default:
						qs, bytes = append(qs, randQ8(rng, n)), bytes+Q8RowBytes(n)
					}
				}
			}
			x, out := decodeRand(rng, 4096), make([]float32, 4096)
			for _, p := range Paths()[1:] {
				b.Run(m.name+"/"+dt+"/"+p.String(), func(b *testing.B) {
					SetPath(p)
					cpu0 := processCPUTime()
					for b.Loop() {
						for i := range m.layers * len(m.shapes) {
							s := m.shapes[i%len(m.shapes)]
							switch dt {
							case "f32":
								MatVec(out, fs[i], x, s[0], s[1])
							case "bf16":
								MatVecBF16(out, hs[i], x, s[0], s[1])
							default:
								MatVecQ8(out, qs[i], x, s[0], s[1])
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

// TestSgemmQ8B checks SgemmQ8B on every path against Sgemm(false, transB, …) on the
// dequantized matrix, bit for bit, both ways round: shapes with partial micro-tiles and
// panels starting inside a block (AVX2's and Go's narrower panels), K across kc slices (a
// partial last one too), M in one tile row (tiles pack their own B) and in several,
// alpha, beta, strides wider than the rows, one goroutine and two; and its panics.
func TestSgemmQ8B(t *testing.T) { onEveryPath(t, testSgemmQ8B) }

func testSgemmQ8B(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 46))
	for _, s := range [][3]int{{1, 32, 32}, {5, 64, 7}, {13, 96, 33}, {32, 768, 768}, {200, 160, 288}, {70, 96, 1056}, {300, 256, 544}, {40, 608, 130}} {
		M, N, K := s[0], s[1], s[2]
		for _, transB := range []bool{true, false} {
			if transB && K%Q8Block != 0 || !transB && N%Q8Block != 0 {
				continue
			}
			rows, cols := K, N // of S
			if transB {
				rows, cols = N, K
			}
			lda, ldc := K+3, N+5
			a := normals(rng, (M-1)*lda+K)
			q := randQ8(rng, rows*cols)
			w := make([]float32, rows*cols)
			DequantQ8(w, q)
			c0 := normals(rng, (M-1)*ldc+N)
			for _, ab := range [][2]float32{{1, 0}, {0.5, 0.25}} {
				want := append([]float32(nil), c0...)
				Sgemm(false, transB, M, N, K, ab[0], a, lda, w, cols, ab[1], want, ldc)
				for _, procs := range []int{1, 2} {
					prev := runtime.GOMAXPROCS(procs)
					got := append([]float32(nil), c0...)
					SgemmQ8B(transB, M, N, K, ab[0], a, lda, q, ab[1], got, ldc)
					runtime.GOMAXPROCS(prev)
					require.Equal(t, want, got, "transB=%v M=%d N=%d K=%d alpha=%g beta=%g GOMAXPROCS=%d", transB, M, N, K, ab[0], ab[1], procs)
				}
			}
		}
	}
	f, q := make([]float32, 4096), make([]byte, 64*Q8BlockBytes)
	assert.Panics(t, func() { SgemmQ8B(true, 2, 2, 48, 1, f, 48, q, 0, f, 2) })                  // K % 32 ≠ 0
	assert.Panics(t, func() { SgemmQ8B(false, 2, 48, 2, 1, f, 2, q, 0, f, 48) })                 // N % 32 ≠ 0
	assert.Panics(t, func() { SgemmQ8B(true, 2, 3, 64, 1, f, 64, q[:5*Q8BlockBytes], 0, f, 3) }) // S
	assert.Panics(t, func() { SgemmQ8B(false, 2, 64, 3, 1, f, 3, q[:5*Q8BlockBytes], 0, f, 64) })
	assert.Panics(t, func() { SgemmQ8B(true, 2, 3, 64, 1, f[:100], 64, q, 0, f, 3) }) // A
	assert.NotPanics(t, func() { SgemmQ8B(true, 2, 3, 64, 1, f, 64, q[:6*Q8BlockBytes], 0, f, 3) })
	assert.NotPanics(t, func() { SgemmQ8B(false, 2, 64, 3, 1, f, 3, q[:6*Q8BlockBytes], 0, f, 64) })
}
