// Package heap is a binary heap of any element type, ordered by a less function.
//
// It does what container/heap does without its interface: elements are stored as T, not boxed in an any, so
// Push allocates only when the backing slice grows, and less is a plain function rather than three methods.
// A heap of k best items (the root is the worst of them, replaced by a better newcomer), a priority queue with
// stale entries skipped when popped, and heapify-then-pop all fit:
//
//	h := heap.New(buf[:0], func(a, b float64) bool { return a < b }) // a min-heap reusing buf
//	for _, v := range scores {
//		if h.Len() < k {
//			h.Push(v)
//		} else if v > h.Peek() {
//			h.Replace(v)
//		}
//	}
//	kth := h.Peek() // the k-th largest score
//
// Elements that compare equal (neither less than the other) leave the heap in an unspecified order: give less a
// tie-breaker when the order of equal elements matters.
package heap
