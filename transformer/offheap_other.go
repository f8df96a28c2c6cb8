//go:build !unix

package transformer

// offHeap returns n zeroed elements; outside Unix, on the Go heap (see the Unix version
// for why it is kept off the heap there).
func offHeap[E uint16 | byte, T any](_ *T, n int) []E { return make([]E, n) }

// offHeapFloat32 returns n zeroed float32s and a release that does nothing; outside
// Unix, on the Go heap.
func offHeapFloat32(n int) (buf []float32, release func()) { return make([]float32, n), func() {} }
