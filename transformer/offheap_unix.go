//go:build unix

package transformer

import (
	"runtime"
	"syscall"
	"unsafe"
)

// offHeap returns n zeroed elements outside the Go heap (an anonymous private
// mapping), released when owner becomes unreachable. A model's frozen weights live as long
// as the model, and memory the GC manages counts toward its pacing target: with
// GOGC=25, every gigabyte of weights on the heap let a quarter gigabyte of garbage
// accumulate before a collection. Off the heap they cost their size and nothing more.
// Where the mapping fails it falls back to the heap.
func offHeap[E uint16 | byte, T any](owner *T, n int) []E {
	if n == 0 {
		return nil
	}
	var e E
	b, err := mapAnon(int(unsafe.Sizeof(e)) * n)
	if err != nil {
		return make([]E, n)
	}
	runtime.AddCleanup(owner, func(b []byte) { _ = syscall.Munmap(b) }, b)
	return unsafe.Slice((*E)(unsafe.Pointer(&b[0])), n)
}

// offHeapFloat32 returns n zeroed float32s outside the Go heap and the function that
// unmaps them, for a scratch buffer whose end is known: memory given back to the OS at
// once, where a heap buffer would stay until the GC's next cycle (and, garbage, still
// count toward that cycle's target). Where the mapping fails it falls back to the heap.
func offHeapFloat32(n int) (buf []float32, release func()) {
	if n == 0 {
		return nil, func() {}
	}
	b, err := mapAnon(4 * n)
	if err != nil {
		return make([]float32, n), func() {}
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n), func() { _ = syscall.Munmap(b) }
}

// mapAnon returns size zeroed bytes of an anonymous private mapping.
func mapAnon(size int) ([]byte, error) {
	return syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
}
