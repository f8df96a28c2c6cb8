//go:build !unix

package transformer

// offHeapUint16 returns n zeroed uint16s; outside Unix, on the Go heap (see the Unix
// version for why it is kept off the heap there).
func offHeapUint16[T any](_ *T, n int) []uint16 { return make([]uint16, n) }
