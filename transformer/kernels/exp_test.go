package kernels

import (
	"fmt"
	"math"
	"testing"
)

func TestExpf(t *testing.T) {
	worst := 0.0
	for x := -87.0; x <= 88.7; x += 0.0137 {
		got := float64(expf(float32(x)))
		want := math.Exp(float64(float32(x)))
		rel := math.Abs(got-want) / want
		if rel > worst {
			worst = rel
		}
		if rel > 3e-7 {
			t.Fatalf("expf(%g) = %g, want %g (rel %.2g)", x, got, want, rel)
		}
	}
	t.Logf("worst relative error %.3g", worst)
	for _, c := range []struct{ x, want float32 }{{0, 1}, {-100, 0}, {100, float32(math.Inf(1))}} {
		if got := expf(c.x); got != c.want {
			t.Errorf("expf(%g) = %g, want %g", c.x, got, c.want)
		}
	}
	if nan := expf(float32(math.NaN())); nan == nan {
		t.Errorf("expf(NaN) = %g, want NaN", nan)
	}
}

func TestTanhf(t *testing.T) {
	for x := -12.0; x <= 12; x += 0.00731 {
		got, want := float64(tanhf(float32(x))), math.Tanh(float64(float32(x)))
		if d := math.Abs(got - want); d > 3e-7 { // a few float32 ulp
			t.Fatalf("tanhf(%g) = %.9g, want %.9g (diff %.2g)", x, got, want, d)
		}
	}
}

func BenchmarkExpf(b *testing.B) {
	xs := make([]float32, 4096)
	for i := range xs {
		xs[i] = float32(i%200) * -0.05
	}
	b.Run("expf", func(b *testing.B) {
		var s float32
		for b.Loop() {
			for _, x := range xs {
				s += expf(x)
			}
		}
		_ = s
	})
	b.Run("math.Exp", func(b *testing.B) {
		var s float64
		for b.Loop() {
			for _, x := range xs {
				s += math.Exp(float64(x))
			}
		}
		_ = s
	})
}

// vectorPaths lists the paths other than PathGo that this CPU supports.
func vectorPaths() []Path {
	var ps []Path
	for _, p := range Paths() {
		if p != PathGo {
			ps = append(ps, p)
		}
	}
	return ps
}

// assertSameBits fails t at the first element where got and want differ in their bits,
// except that any NaN matches any NaN: which of two NaN operands a float operation
// passes on is up to the compiler's choice of operand order.
func assertSameBits(t *testing.T, name string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d elements, want %d", name, len(got), len(want))
	}
	for i := range want {
		if got[i] != got[i] && want[i] != want[i] {
			continue
		}
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: [%d] = %.9g (%#08x), want %.9g (%#08x)", name, i,
				got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

// expfEdges are arguments around expf's special cases: its cut-offs −87.33654 and
// 88.72283 and their neighbours, results that are subnormal or round to 2^128 and
// overflow, zeros, infinities, NaNs, huge and tiny values.
func expfEdges() []float32 {
	xs := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 0.5, -0.5, 1e-30, -1e-30, 1e-45, -1e-45,
		88.72283, -87.33654, 88.7, 88.72, 88.73, 89, -87.3, -87.336, -87.34, -88, -100, 100,
		3e38, -3e38, math.MaxFloat32, -math.MaxFloat32, float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), -float32(math.NaN()), math.Float32frombits(0x7fc12345), math.Float32frombits(0xffc00001)}
	for _, c := range []float32{88.72283, -87.33654, 0, 44.3614, -43.668} {
		up, down := c, c
		for range 40 {
			up = math.Nextafter32(up, float32(math.Inf(1)))
			down = math.Nextafter32(down, float32(math.Inf(-1)))
			xs = append(xs, up, down)
		}
	}
	return xs
}

// TestExpSubVecMatchesExpf checks that the vector exponential of every vector path
// (expSubVec, behind the softmax and SwiGLU kernels) gives expf's bits: on a fine sweep
// of [−110, 110], on the edge cases, and on 65,536 bit patterns spread over all of
// float32, for several maxima m and for every length up to 40 (the partial vectors).
func TestExpSubVecMatchesExpf(t *testing.T) {
	var xs []float32
	for x := -110.0; x <= 110; x += 0.00097 {
		xs = append(xs, float32(x))
	}
	xs = append(xs, expfEdges()...)
	for b := uint64(0); b < 1<<32; b += 65537 {
		xs = append(xs, math.Float32frombits(uint32(b)))
	}
	for _, p := range vectorPaths() {
		t.Run(p.String(), func(t *testing.T) {
			for _, m := range []float32{0, 1.5, -3, 80, -1e-3} {
				got := append([]float32(nil), xs...)
				expSubVec(p, got, m)
				want := make([]float32, len(xs))
				for i, x := range xs {
					want[i] = expf(x - m)
				}
				assertSameBits(t, fmt.Sprintf("m=%g", m), got, want)
			}
			for n := range 41 {
				x := xs[len(xs)-n-100 : len(xs)-100] // spread-out bit patterns
				got := append([]float32(nil), x...)
				expSubVec(p, got, 0.25)
				want := make([]float32, n)
				for i, v := range x {
					want[i] = expf(v - 0.25)
				}
				assertSameBits(t, fmt.Sprintf("n=%d", n), got, want)
			}
		})
	}
}
