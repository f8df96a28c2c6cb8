package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
)

// countItems records how often each item ran.
type countItems []atomic.Int32

func (c countItems) runItem(i int) { c[i].Add(1) }

func TestTeamRunsEveryItemOnce(t *testing.T) {
	prev := runtime.GOMAXPROCS(4)
	defer runtime.GOMAXPROCS(prev)
	tm := newTeam(4)
	assert.Equal(t, 3, tm.helpers, "newTeam(4) helpers with GOMAXPROCS=4 and nothing else running")
	for _, n := range []int{0, 1, 2, 3, 100, 1000} {
		items := make(countItems, n)
		tm.run(n, items)
		for i := range items {
			if !assert.Equal(t, int32(1), items[i].Load(), "run(n=%d): item %d ran this often", n, i) {
				break
			}
		}
	}
	tm.done()
	assert.Zero(t, busyWorkers.Load(), "busyWorkers after done")
}

func TestTeamsShareTheBudget(t *testing.T) {
	prev := runtime.GOMAXPROCS(3)
	defer runtime.GOMAXPROCS(prev)
	first := newTeam(3)
	second := newTeam(3)
	third := newTeam(3)
	assert.Equal(t, 2, first.helpers, "first team's helpers")
	assert.Equal(t, 0, second.helpers, "second team's helpers: budget spent")
	assert.Equal(t, 0, third.helpers, "third team's helpers")
	third.done()
	second.done()
	first.done()
	assert.Equal(t, 1, newTeam(2).helpers, "helpers once the budget is back")
	team{helpers: 1}.done()
	assert.Zero(t, busyWorkers.Load(), "busyWorkers after done")
}

func TestTeamGrowsWhenTheBudgetFrees(t *testing.T) {
	prev := runtime.GOMAXPROCS(3)
	defer runtime.GOMAXPROCS(prev)
	first := newTeam(3)
	second := newTeam(3)
	assert.Equal(t, 0, second.helpers, "second team's helpers: budget spent")
	second.grow(3)
	assert.Equal(t, 0, second.helpers, "second team's helpers after grow: budget still spent")
	first.done()
	second.grow(3)
	assert.Equal(t, 2, second.helpers, "second team's helpers after the first is done")
	second.grow(3)
	assert.Equal(t, 2, second.helpers, "grow past want")
	items := make(countItems, 50)
	second.run(len(items), items)
	for i := range items {
		assert.Equal(t, int32(1), items[i].Load(), "item %d ran this often", i)
	}
	second.done()
	assert.Zero(t, busyWorkers.Load(), "busyWorkers after done")
}

func TestTeamConcurrentRuns(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < 20; r++ {
				tm := newTeam(runtime.GOMAXPROCS(0))
				items := make(countItems, 37)
				tm.run(len(items), items)
				tm.done()
				for i := range items {
					if items[i].Load() != 1 {
						t.Errorf("concurrent run: item %d ran %d times, want 1", i, items[i].Load())
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, busyWorkers.Load(), "busyWorkers after all teams are done")
}

// TestAddSplits: Add and AddBias split large inputs into ranges over the cores; every
// element must get its one addition, at its own index, whatever the split (sizes below,
// at and past one range, ragged ends; a bias row wider than a range).
func TestAddSplits(t *testing.T) {
	prev := runtime.GOMAXPROCS(3)
	defer runtime.GOMAXPROCS(prev)
	val := func(i, salt int) float32 { return float32((i*7919+salt)%1009) - 504.5 }
	for _, n := range []int{0, 1, 100, addGrain - 1, addGrain, addGrain + 1, 3*addGrain + 17} {
		a, b, out := make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range a {
			a[i], b[i], out[i] = val(i, 1), val(i, 2), float32(-1e30)
		}
		Add(out, a, b, n)
		for i := range out {
			if !assert.Equal(t, a[i]+b[i], out[i], "Add n=%d: element %d", n, i) {
				break
			}
		}
	}
	for _, sh := range [][2]int{{0, 8}, {1, 768}, {512, 768}, {43, 2304}, {3, addGrain + 5}, {1000, 1}} {
		N, C := sh[0], sh[1]
		out, bias := make([]float32, N*C), make([]float32, C)
		for j := range bias {
			bias[j] = val(j, 3)
		}
		for i := range out {
			out[i] = val(i, 4)
		}
		AddBias(out, bias, N, C)
		for i := range out {
			if !assert.Equal(t, val(i, 4)+bias[i%C], out[i], "AddBias %d×%d: element %d", N, C, i) {
				break
			}
		}
	}
}
