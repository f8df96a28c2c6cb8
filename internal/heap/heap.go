package heap

// Heap is a binary min-heap of T under less: the root, Peek, is an element that no other is less than (reverse
// less for a max-heap). The zero value is not usable; make one with New.
type Heap[T any] struct {
	items []T
	less  func(a, b T) bool
}

// New returns a heap of items ordered by less, reordering items in place in O(len(items)). The heap owns items
// from then on: pass buf[:0] to fill a reused buffer.
func New[T any](items []T, less func(a, b T) bool) Heap[T] {
	h := Heap[T]{items: items, less: less}
	h.Init()
	return h
}

// Len returns the number of elements.
func (h *Heap[T]) Len() int { return len(h.items) }

// Peek returns the root without removing it. The heap must not be empty.
func (h *Heap[T]) Peek() T { return h.items[0] }

// Items returns the elements in heap order, the root first. The slice is the heap's own: after changing an element
// call Fix, or Init after changing several. Push may move the elements to a new slice.
func (h *Heap[T]) Items() []T { return h.items }

// Push adds x in O(log n).
func (h *Heap[T]) Push(x T) {
	h.items = append(h.items, x)
	h.rise(len(h.items)-1, 0, x)
}

// Pop removes and returns the root in O(log n). The heap must not be empty.
func (h *Heap[T]) Pop() T {
	items := h.items
	n := len(items) - 1
	top, last := items[0], items[n]
	var zero T
	items[n] = zero // no reference kept past the end
	h.items = items[:n]
	if n > 0 {
		h.place(0, 0, last)
	}
	return top
}

// Replace removes and returns the root and adds x, in one O(log n) pass: Pop then Push, faster. The heap must not
// be empty.
func (h *Heap[T]) Replace(x T) T {
	top := h.items[0]
	h.place(0, 0, x)
	return top
}

// Fix restores the order after the element at index i of Items changed, in O(log n).
func (h *Heap[T]) Fix(i int) {
	h.place(i, 0, h.items[i])
}

// Init restores the order after any changes to Items, in O(n).
func (h *Heap[T]) Init() {
	for i := len(h.items)/2 - 1; i >= 0; i-- {
		h.place(i, i, h.items[i])
	}
}

// place puts x in the heap at index i, whose element is to be replaced, where every other element is in order: it
// moves the hole at i down to a leaf, each time filling it with the lesser child, then x up from that leaf while
// it is less than its parent, though not above index top. When x belongs near the bottom, as the last element
// that Pop moves to the root does, that takes about half the comparisons of moving x down from i (one a level
// instead of two), and the calls of less are most of a heap's time.
func (h *Heap[T]) place(i, top int, x T) {
	items := h.items
	n := len(items)
	for {
		child := 2*i + 1
		if child >= n || child < 0 { // child < 0: int overflow
			break
		}
		if r := child + 1; r < n && h.less(items[r], items[child]) {
			child = r
		}
		items[i] = items[child]
		i = child
	}
	h.rise(i, top, x)
}

// rise puts x at index i, then moves it up while it is less than its parent, though not above index top.
func (h *Heap[T]) rise(i, top int, x T) {
	items := h.items
	for i > top {
		parent := (i - 1) / 2
		if !h.less(x, items[parent]) {
			break
		}
		items[i] = items[parent]
		i = parent
	}
	items[i] = x
}
