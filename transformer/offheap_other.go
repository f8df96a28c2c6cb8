//go:build !unix

package transformer

// offHeapUint16 returns n zeroed uint16s; outside Unix, on the Go heap (see the Unix
// version for why it is kept off the heap there).
func offHeapUint16[T any](_ *T, n int) []uint16 { return make([]uint16, n) }

// offHeapFloat32 returns n zeroed float32s and a release that does nothing; outside
// Unix, on the Go heap.
func offHeapFloat32(n int) (buf []float32, release func()) { return make([]float32, n), func() {} }
