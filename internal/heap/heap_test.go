package heap

import (
	"cmp"
	"container/heap"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func intLess(a, b int) bool { return a < b }

// popAll empties h and returns the elements in the order popped.
func popAll[T any](h *Heap[T]) []T {
	var out []T
	for h.Len() > 0 {
		out = append(out, h.Pop())
	}
	return out
}

// TestRandom checks Push, Pop, New, Fix, Replace and Init against sorting, on random ints with many duplicates.
func TestRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 3, 7, 8, 100, 1000} {
		vals := make([]int, n)
		for i := range vals {
			vals[i] = rng.IntN(max(1, n/3))
		}
		want := slices.Sorted(slices.Values(vals))

		h := New(nil, intLess)
		for _, v := range vals {
			h.Push(v)
		}
		require.Equal(t, n, h.Len())
		if n > 0 {
			assert.Equal(t, want[0], h.Peek(), "Peek, n=%d", n)
		}
		assert.Equal(t, want, popAll(&h), "Push then Pop, n=%d", n)

		h = New(slices.Clone(vals), intLess)
		assert.Equal(t, want, popAll(&h), "New then Pop, n=%d", n)

		if n == 0 {
			continue
		}
		h = New(slices.Clone(vals), intLess)
		changed := slices.Clone(vals) // the same changes, for the sort
		for range 3 * n {
			i, v := rng.IntN(n), rng.IntN(n)
			old := h.Items()[i]
			changed[slices.Index(changed, old)] = v
			h.Items()[i] = v
			h.Fix(i)
		}
		assert.Equal(t, slices.Sorted(slices.Values(changed)), popAll(&h), "Fix, n=%d", n)

		h = New(slices.Clone(vals), intLess)
		for i := range h.Items() {
			h.Items()[i] = -h.Items()[i]
		}
		h.Init()
		negated := make([]int, n)
		for i, v := range want {
			negated[n-1-i] = -v
		}
		assert.Equal(t, negated, popAll(&h), "Init, n=%d", n)
	}
}

// TestTopK keeps the k largest of random floats in a min-heap, replacing the root with each larger one, as top-k
// sampling does, and the k smallest (hash, index) pairs in a max-heap, as a hold-out split does.
func TestTopK(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	scores := make([]float64, 5000)
	for i := range scores {
		scores[i] = float64(rng.IntN(2000)) / 7 // ties too
	}
	for _, k := range []int{1, 2, 10, 999, 5000} {
		h := New(make([]float64, 0, k), func(a, b float64) bool { return a < b })
		for _, v := range scores {
			if h.Len() < k {
				h.Push(v)
			} else if v > h.Peek() {
				h.Replace(v)
			}
		}
		sorted := slices.Sorted(slices.Values(scores))
		assert.Equal(t, sorted[len(sorted)-k], h.Peek(), "k-th largest, k=%d", k)
		assert.Equal(t, sorted[len(sorted)-k:], popAll(&h), "the k largest, k=%d", k)
	}

	type pair struct {
		hash  uint64
		index int
	}
	less := func(p, q pair) bool { return p.hash < q.hash || p.hash == q.hash && p.index < q.index }
	pairs := make([]pair, 3000)
	for i := range pairs {
		pairs[i] = pair{uint64(rng.IntN(500)), i}
	}
	const n = 100
	h := New[pair](nil, func(a, b pair) bool { return less(b, a) }) // max-heap: the root is the largest kept
	for _, p := range pairs {
		if h.Len() < n {
			h.Push(p)
		} else if less(p, h.Peek()) {
			h.Items()[0] = p
			h.Fix(0)
		}
	}
	sorted := slices.SortedFunc(slices.Values(pairs), func(p, q pair) int {
		return cmp.Or(cmp.Compare(p.hash, q.hash), cmp.Compare(p.index, q.index))
	})
	got := popAll(&h)
	slices.Reverse(got)
	assert.Equal(t, sorted[:n], got, "the %d smallest pairs", n)
}

// TestTies checks that with a tie-breaker in less, elements with equal keys pop in the tie-breaker's order.
func TestTies(t *testing.T) {
	type item struct{ key, seq int }
	rng := rand.New(rand.NewPCG(5, 6))
	items := make([]item, 500)
	for i := range items {
		items[i] = item{rng.IntN(5), i}
	}
	rng.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	h := New[item](nil, func(a, b item) bool { return a.key < b.key || a.key == b.key && a.seq < b.seq })
	for _, it := range items {
		h.Push(it)
	}
	want := slices.SortedFunc(slices.Values(items), func(a, b item) int {
		return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.seq, b.seq))
	})
	assert.Equal(t, want, popAll(&h))
}

func TestPopClears(t *testing.T) {
	x, y := new(int), new(int)
	*x, *y = 1, 2
	h := New([]*int{y, x}, func(a, b *int) bool { return *a < *b })
	require.Same(t, x, h.Pop())
	assert.Nil(t, h.Items()[:2][1], "Pop leaves no pointer past the end")
}

func TestNoAllocs(t *testing.T) {
	h := New(make([]int, 0, 64), intLess)
	allocs := testing.AllocsPerRun(100, func() {
		for i := range 64 {
			h.Push(i * 7919 % 64)
		}
		h.Replace(3)
		h.Items()[5] = 100
		h.Fix(5)
		for h.Len() > 0 {
			h.Pop()
		}
	})
	assert.Zero(t, allocs)
}

// intHeap is container/heap's version, for the benchmark.
type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// BenchmarkPushPop pushes 10,000 random ints and pops them all, with this package and with container/heap.
func BenchmarkPushPop(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	vals := make([]int, 10_000)
	for i := range vals {
		vals[i] = rng.Int()
	}
	b.Run("Heap", func(b *testing.B) {
		b.ReportAllocs()
		h := New(make([]int, 0, len(vals)), intLess)
		for b.Loop() {
			for _, v := range vals {
				h.Push(v)
			}
			for h.Len() > 0 {
				h.Pop()
			}
		}
	})
	b.Run("container-heap", func(b *testing.B) {
		b.ReportAllocs()
		h := make(intHeap, 0, len(vals))
		for b.Loop() {
			for _, v := range vals {
				heap.Push(&h, v)
			}
			for h.Len() > 0 {
				heap.Pop(&h)
			}
		}
	})
}
