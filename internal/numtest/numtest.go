// Package numtest holds the numeric assertions the tests of llmtune share: they report
// the largest difference and the first element out of tolerance, never whole arrays.
package numtest

import (
	"fmt"
	"math"
	"testing"
)

// Diff describes how far got is from want.
type Diff struct {
	MaxAbs   float64 // largest |got−want|
	MaxWant  float64 // largest |want|
	FirstBad int     // first index out of tolerance, or −1
	Len      int
}

// Compare returns the differences of got from want, where element i is out of tolerance
// when |got−want| > tol·scale or either is NaN and the other is not NaN. scale is 1 for an
// absolute tolerance, or the largest |want| (relative to the tensor's max) when relMax.
func Compare(got, want []float32, tol float64, relMax bool) (Diff, bool) {
	d := Diff{FirstBad: -1, Len: len(want)}
	for _, w := range want {
		d.MaxWant = math.Max(d.MaxWant, math.Abs(float64(w)))
	}
	scale := 1.0
	if relMax && d.MaxWant > 0 {
		scale = d.MaxWant
	}
	if len(got) != len(want) {
		return d, false
	}
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		diff := math.Abs(g - w)
		if math.IsNaN(g) != math.IsNaN(w) {
			diff = math.Inf(1)
		}
		if math.IsNaN(g) && math.IsNaN(w) {
			diff = 0
		}
		d.MaxAbs = math.Max(d.MaxAbs, diff)
		if diff > tol*scale && d.FirstBad < 0 {
			d.FirstBad = i
		}
	}
	return d, d.FirstBad < 0
}

// AssertClose fails t when an element of got differs from want by more than tol
// (absolute), naming what was compared, the largest difference and the first bad element.
func AssertClose(t testing.TB, name string, got, want []float32, tol float64) bool {
	t.Helper()
	return check(t, name, got, want, tol, false)
}

// AssertCloseRel is AssertClose with tol relative to the largest |want| of the tensor.
func AssertCloseRel(t testing.TB, name string, got, want []float32, tol float64) bool {
	t.Helper()
	return check(t, name, got, want, tol, true)
}

func check(t testing.TB, name string, got, want []float32, tol float64, rel bool) bool {
	t.Helper()
	d, ok := Compare(got, want, tol, rel)
	if len(got) != len(want) {
		t.Errorf("%s: got %d elements, want %d", name, len(got), len(want))
		return false
	}
	if ok {
		t.Logf("%s: max |diff| %.3g (max |want| %.3g, %d elements)", name, d.MaxAbs, d.MaxWant, d.Len)
	}
	if !ok {
		kind := "abs"
		if rel {
			kind = fmt.Sprintf("relative to max |want| %.4g", d.MaxWant)
		}
		i := d.FirstBad
		t.Errorf("%s: max |diff| %.3g > tol %.3g (%s); first bad [%d] = %.8g, want %.8g (of %d)",
			name, d.MaxAbs, tol, kind, i, got[i], want[i], d.Len)
	}
	return ok
}
