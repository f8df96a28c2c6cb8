package kernels

import (
	"math"
	"testing"
)

// checkGradFD compares grad, the analytic gradient of loss with respect to x, with the
// central difference (loss(x+h) − loss(x−h)) / 2h at the entries idx of x, where h is
// the float32 step actually taken. It fails t where they differ by more than
// tol·(1 + |numeric|).
func checkGradFD(t *testing.T, name string, x, grad []float32, idx []int, eps float32, tol float64, loss func() float64) {
	t.Helper()
	worst := 0.0
	for _, i := range idx {
		x0 := x[i]
		xp, xm := x0+eps, x0-eps
		x[i] = xp
		lp := loss()
		x[i] = xm
		lm := loss()
		x[i] = x0
		num := (lp - lm) / (float64(xp) - float64(xm))
		d := math.Abs(num-float64(grad[i])) / (1 + math.Abs(num))
		worst = math.Max(worst, d)
		if d > tol {
			t.Errorf("%s: d/dx[%d] = %.6g, finite difference %.6g (rel diff %.3g > %.3g)", name, i, grad[i], num, d, tol)
			return
		}
	}
	t.Logf("%s: %d entries, worst rel diff %.3g", name, len(idx), worst)
}

// dotLoss returns Σ out[i]·w[i] in float64: a loss whose gradient with respect to out is w.
func dotLoss(out, w []float32) float64 {
	var s float64
	for i, v := range out {
		s += float64(v) * float64(w[i])
	}
	return s
}

// sampleIdx returns up to n distinct indices of [0, size), spread over the whole range.
func sampleIdx(size, n int) []int {
	if size <= n {
		idx := make([]int, size)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = int(int64(i) * int64(size) / int64(n))
	}
	return idx
}
