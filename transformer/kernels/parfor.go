package kernels

import "runtime"

// funcItems adapts a function to itemRunner.
type funcItems func(i int)

func (f funcItems) runItem(i int) { f(i) }

// parallelFor calls fn(lo, hi) on consecutive ranges of [0, n) of at most grain
// elements, spread over the cores the package-wide budget allows (see newTeam), and
// returns when all calls have returned. Ranges are fixed by n and grain alone, so a
// kernel whose ranges write disjoint outputs is deterministic whatever the core count.
func parallelFor(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	grain = max(grain, 1)
	chunks := (n + grain - 1) / grain
	if chunks == 1 {
		fn(0, n)
		return
	}
	t := newTeam(min(chunks, runtime.GOMAXPROCS(0)))
	defer t.done()
	t.run(chunks, funcItems(func(i int) { fn(i*grain, min(n, (i+1)*grain)) }))
}
