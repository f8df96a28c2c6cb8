package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/llmtune/llmtune/internal/numtest"
)

// ropeInvFreq returns Llama's unscaled inverse frequencies 1/base^(2i/hs), i < hs/2,
// computed as HF does: base ** (arange(0, hs, 2, int64).float() / hs) in float32.
func ropeInvFreq(hs int, base float64) []float32 {
	f := make([]float32, hs/2)
	for i := range f {
		e := float32(2*i) / float32(hs)
		f[i] = float32(1 / float32(math.Pow(base, float64(e))))
	}
	return f
}

// ropePositions returns positions for B sequences of T tokens, or packed examples.
func ropePositions(rng *rand.Rand, N int) []int {
	pos := make([]int, N)
	for n := range pos {
		switch n % 4 {
		case 0:
			pos[n] = n
		case 1:
			pos[n] = n % 7
		default:
			pos[n] = rng.IntN(40000)
		}
	}
	return pos
}

func TestRoPEAgainstRef(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	for _, s := range []struct{ N, H, hs, pad int }{{1, 1, 2, 0}, {7, 3, 8, 0}, {65, 9, 64, 0}, {130, 4, 6, 5}, {33, 12, 64, 3 * 64}} {
		N, H, hs, pad := s.N, s.H, s.hs, s.pad
		ld := H*hs + pad
		name := fmt.Sprintf("N%d/H%d/hs%d/ld%d", N, H, hs, ld)
		x := randSlice(rng, N*ld, 1)
		pos := ropePositions(rng, N)
		invFreq := ropeInvFreq(hs, 10000)
		got, want := append([]float32(nil), x...), append([]float32(nil), x...)
		RoPEForwardStrided(got, ld, pos, invFreq, N, H, hs)
		ropeForwardRef(want, ld, pos, invFreq, N, H, hs)
		assert.Equal(t, want, got, "%s forward", name)
		for n := range N { // the padding is left alone
			assert.Equal(t, x[n*ld+H*hs:(n+1)*ld], got[n*ld+H*hs:(n+1)*ld], "%s padding of row %d", name, n)
		}
		dx := randSlice(rng, N*ld, 1)
		got, want = append([]float32(nil), dx...), append([]float32(nil), dx...)
		RoPEBackwardStrided(got, ld, pos, invFreq, N, H, hs)
		ropeBackwardRef(want, ld, pos, invFreq, N, H, hs)
		assert.Equal(t, want, got, "%s backward", name)
		if pad == 0 {
			got2 := append([]float32(nil), x...)
			RoPEForward(got2, pos, invFreq, N, H, hs)
			want2 := append([]float32(nil), x...)
			ropeForwardRef(want2, H*hs, pos, invFreq, N, H, hs)
			assert.Equal(t, want2, got2, "%s RoPEForward", name)
		}
	}
}

// TestRoPEValues checks RoPEForward against rotate_half worked out in float64 (the
// angle still a float32 product), and that the backward undoes the forward: the
// rotation is orthogonal.
func TestRoPEValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(63, 64))
	const N, H, hs = 20, 3, 16
	x := randSlice(rng, N*H*hs, 1)
	pos := ropePositions(rng, N)
	invFreq := ropeInvFreq(hs, 500000)
	got := append([]float32(nil), x...)
	RoPEForward(got, pos, invFreq, N, H, hs)
	want := make([]float32, len(x))
	for n := range N {
		for h := range H {
			for j := range hs {
				i := j % (hs / 2)
				theta := float64(float32(pos[n]) * invFreq[i])
				xj := float64(x[n*H*hs+h*hs+j])
				// rotate_half(x) = cat(−x2, x1)
				var rot float64
				if j < hs/2 {
					rot = -float64(x[n*H*hs+h*hs+j+hs/2])
				} else {
					rot = float64(x[n*H*hs+h*hs+j-hs/2])
				}
				want[n*H*hs+h*hs+j] = float32(xj*math.Cos(theta) + rot*math.Sin(theta))
			}
		}
	}
	numtest.AssertClose(t, "RoPEForward vs rotate_half", got, want, 3e-7)
	// Position 0 is the identity.
	zero := append([]float32(nil), x[:H*hs]...)
	RoPEForward(zero, []int{0}, invFreq, 1, H, hs)
	assert.Equal(t, x[:H*hs], zero, "position 0")
	// Backward after forward gives x back, to rounding.
	RoPEBackward(got, pos, invFreq, N, H, hs)
	numtest.AssertClose(t, "RoPEBackward(RoPEForward(x))", got, x, 1e-6)
}

// TestRoPEBackwardFiniteDiff checks RoPEBackward against central differences of
// RoPEForward through the loss Σ RoPE(x) ⊙ g.
func TestRoPEBackwardFiniteDiff(t *testing.T) {
	rng := rand.New(rand.NewPCG(65, 66))
	const N, H, hs = 6, 2, 8
	x, g := randSlice(rng, N*H*hs, 1), randSlice(rng, N*H*hs, 1)
	pos := ropePositions(rng, N)
	invFreq := ropeInvFreq(hs, 10000)
	y := make([]float32, len(x))
	loss := func() float64 {
		copy(y, x)
		RoPEForward(y, pos, invFreq, N, H, hs)
		return dotLoss(y, g)
	}
	dx := append([]float32(nil), g...)
	RoPEBackward(dx, pos, invFreq, N, H, hs)
	checkGradFD(t, "RoPE dx", x, dx, sampleIdx(len(x), len(x)), 1e-2, 1e-4, loss)
}

// TestRoPETablesConcurrent runs RoPEForward from several goroutines at once with more
// inverse-frequency vectors than the cache keeps and growing positions, so tables are
// built, extended and dropped while others read them: every result must still be the
// reference's, bit for bit.
func TestRoPETablesConcurrent(t *testing.T) {
	const H, hs, N = 2, 8, 40
	freqs := make([][]float32, ropeTables+2)
	for i := range freqs {
		freqs[i] = ropeInvFreq(hs, 1000*float64(i+1))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(69, uint64(g)))
			for r := range 30 {
				invFreq := freqs[rng.IntN(len(freqs))]
				pos := make([]int, N)
				for n := range pos {
					pos[n] = rng.IntN(100 * (r + 1))
				}
				x := randSlice(rng, N*H*hs, 1)
				got, want := append([]float32(nil), x...), append([]float32(nil), x...)
				RoPEForward(got, pos, invFreq, N, H, hs)
				ropeForwardRef(want, H*hs, pos, invFreq, N, H, hs)
				if !slices.Equal(got, want) {
					errs <- fmt.Sprintf("goroutine %d round %d: RoPEForward differs from the reference", g, r)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if l := ropeCache.Load(); l != nil {
		assert.LessOrEqual(t, len(*l), ropeTables, "tables kept")
	}
}

func TestRoPEPanics(t *testing.T) {
	buf, pos, f := make([]float32, 64), make([]int, 4), make([]float32, 4)
	assert.Panics(t, func() { RoPEForward(buf, pos, f, 4, 2, 7) }, "odd hs")
	assert.Panics(t, func() { RoPEForward(buf, pos, f, 4, 3, 8) }, "x too short")
	assert.Panics(t, func() { RoPEForward(buf, pos[:3], f, 4, 2, 8) }, "pos too short")
	assert.Panics(t, func() { RoPEBackward(buf, pos, f[:3], 4, 2, 8) }, "invFreq too short")
	assert.Panics(t, func() { RoPEForwardStrided(buf, 15, pos, f, 4, 2, 8) }, "ld below H·hs")
	assert.NotPanics(t, func() { RoPEForward(nil, nil, nil, 0, 2, 8) }, "no rows")
}

// BenchmarkRoPE times RoPE on SmolLM2-135M's heads over 512 rows: the query and key
// heads of fused rows, the key heads alone, and the key heads at positions beyond the
// cosine/sine tables (computed afresh).
func BenchmarkRoPE(b *testing.B) {
	rng := rand.New(rand.NewPCG(67, 68))
	const N, NH, KVH, hs = 512, 9, 3, 64
	RS := (NH + 2*KVH) * hs
	qkv := randSlice(rng, N*RS, 1)
	pos, far := make([]int, N), make([]int, N)
	for n := range pos {
		pos[n] = n % 128
		far[n] = ropeTableMax/hs + n%128
	}
	invFreq := ropeInvFreq(hs, 100000)
	b.Run("fwd/q+k", func(b *testing.B) {
		for b.Loop() {
			RoPEForwardStrided(qkv, RS, pos, invFreq, N, NH+KVH, hs)
		}
	})
	b.Run("fwd/k", func(b *testing.B) {
		for b.Loop() {
			RoPEForwardStrided(qkv[NH*hs:], RS, pos, invFreq, N, KVH, hs)
		}
	})
	b.Run("fwd/k_uncached", func(b *testing.B) {
		for b.Loop() {
			RoPEForwardStrided(qkv[NH*hs:], RS, far, invFreq, N, KVH, hs)
		}
	})
}
