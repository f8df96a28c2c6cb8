package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// geluEdges are inputs where GELU's kernels change branch or saturate: where the tanh
// argument √(2/π)·(x + 0.044715·x³) crosses ±0.125 (the polynomial) and ±9 (tanh = ±1),
// where e^{2u} under- and overflows, x³ overflows, and zeros, infinities and NaNs.
func geluEdges() []float32 {
	xs := []float32{0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 1e-45, -1e-45, 1, -1, 3, -3,
		5, -5, 100, -100, 1e13, -1e13, 3e38, -3e38, float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), math.Float32frombits(0xffc00001)}
	// x at which the argument is ±0.125 and ±9 (found by bisection), and a few floats
	// either side of each.
	for _, u := range []float32{0.125, -0.125, 9, -9, 44, -44} {
		lo, hi := float32(-20), float32(20)
		for range 100 {
			mid := (lo + hi) / 2
			if geluArg(mid) < u {
				lo = mid
			} else {
				hi = mid
			}
		}
		x, y := hi, hi
		for range 8 {
			xs = append(xs, x, y)
			x, y = math.Nextafter32(x, float32(math.Inf(1))), math.Nextafter32(y, float32(math.Inf(-1)))
		}
	}
	return xs
}

// TestGeluPathsAgree checks that every vector path gives the pure-Go path's bits in
// GeluForward (also in place) and GeluBackward (which adds to nonzero gradients), on
// lengths that leave partial vectors (and, above 16,384, several parallel ranges), and
// on geluEdges scattered over every lane position.
func TestGeluPathsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(79, 80))
	edges := geluEdges()
	type result struct{ out, inPlace, dx []float32 }
	run := func(p Path, x, dout, dx0 []float32) result {
		defer SetPath(SetPath(p))
		n := len(x)
		var r result
		r.out = make([]float32, n)
		GeluForward(r.out, x, n)
		r.inPlace = append([]float32(nil), x...)
		GeluForward(r.inPlace, r.inPlace, n)
		r.dx = append([]float32(nil), dx0...)
		GeluBackward(r.dx, x, dout, n)
		return r
	}
	for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 31, 33, 130, len(edges), 40000 + 5} {
		x := randSlice(rng, n, 3)
		if n == len(edges) {
			copy(x, edges)
		} else if n > len(edges) {
			for i, e := range edges {
				x[i*37%n] = e
			}
		}
		dout, dx0 := randSlice(rng, n, 1), randSlice(rng, n, 1)
		want := run(PathGo, x, dout, dx0)
		for _, p := range vectorPaths() {
			got := run(p, x, dout, dx0)
			name := fmt.Sprintf("%v/n%d", p, n)
			assertSameBits(t, name+" out", got.out, want.out)
			assertSameBits(t, name+" out in place", got.inPlace, want.inPlace)
			assertSameBits(t, name+" dinp", got.dx, want.dx)
		}
	}
}

func BenchmarkGelu(b *testing.B) {
	rng := rand.New(rand.NewPCG(81, 82))
	const n = 512 * 3072 // GPT-2 small's MLP on 512 rows
	x, out, dx := randSlice(rng, n, 2), make([]float32, n), make([]float32, n)
	for _, p := range Paths() {
		b.Run(p.String()+"/fwd", func(b *testing.B) {
			defer SetPath(SetPath(p))
			loopCPU(b, func() { GeluForward(out, x, n) })
		})
		b.Run(p.String()+"/bwd", func(b *testing.B) {
			defer SetPath(SetPath(p))
			loopCPU(b, func() { GeluBackward(dx, x, out, n) })
		})
	}
}
