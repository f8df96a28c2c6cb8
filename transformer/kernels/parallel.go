package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Kernels split large work into items (tiles of a matrix, say) and run them on the
// calling goroutine plus helper goroutines. Helpers live on after a job, parked on
// idleHelpers, so later jobs do not start goroutines. The caller waits for the items,
// not for the helpers: a helper that the Go or OS scheduler starts late (the cores are
// shared with other work) finds every item taken and costs the caller nothing.

// busyWorkers counts the goroutines doing parallel kernel work right now: the callers
// of large kernels and the helpers they were granted. Helpers are granted only while it
// is below GOMAXPROCS, so kernels running concurrently (spago runs backward nodes in
// parallel goroutines) share the cores instead of each starting GOMAXPROCS goroutines.
var busyWorkers atomic.Int64

// idleHelpers hands jobs to parked helper goroutines.
var idleHelpers = make(chan *parallelJob)

// itemRunner is the work of a job: runItem(i) for each item i.
type itemRunner interface {
	runItem(i int)
}

// parallelJob is one batch of items shared by a team. A helper that starts late may
// still look at it after run has returned, so it goes back to jobPool only when the
// caller and every helper it was handed to have released it.
type parallelJob struct {
	items   itemRunner
	n       int
	next    atomic.Int64   // next item to hand out
	pending sync.WaitGroup // items not finished yet
	refs    atomic.Int32   // goroutines that may still touch the job
}

var jobPool = sync.Pool{New: func() any { return new(parallelJob) }}

// release drops one reference and recycles the job after the last.
func (j *parallelJob) release() {
	if j.refs.Add(-1) == 0 {
		j.items = nil
		jobPool.Put(j)
	}
}

// work runs items until none are left to take.
func (j *parallelJob) work() {
	for {
		i := int(j.next.Add(1) - 1)
		if i >= j.n {
			return
		}
		j.items.runItem(i)
		j.pending.Done()
	}
}

// helper works on j, then parks until idleHelpers hands it the next job.
func helper(j *parallelJob) {
	for {
		j.work()
		j.release()
		j = <-idleHelpers
	}
}

// team is a calling goroutine plus the helpers it may use. The zero team has no
// helpers: run then works on the caller alone.
type team struct{ helpers int }

// newTeam counts the calling goroutine as busy and grants it up to want-1 helpers, as
// far as the package-wide budget of GOMAXPROCS busy goroutines allows. The caller is
// always counted, so with many concurrent callers the budget is exceeded by callers
// only, never by helpers. Call done when the work is finished.
func newTeam(want int) team {
	busyWorkers.Add(1)
	var t team
	t.grow(want)
	return t
}

// grow grants the team more helpers, up to want-1 in all, as far as the budget allows
// now. A kernel with several phases calls it between them, so that cores that other
// kernels gave back since the team started (spago's concurrent backward nodes finish
// at different times) join the work instead of idling.
func (t *team) grow(want int) {
	limit := int64(runtime.GOMAXPROCS(0))
	for t.helpers < want-1 {
		cur := busyWorkers.Load()
		free := limit - cur
		if free <= 0 {
			return
		}
		n := min(int64(want-1-t.helpers), free)
		if busyWorkers.CompareAndSwap(cur, cur+n) {
			t.helpers += int(n)
			return
		}
	}
}

// done returns the team's goroutines to the budget.
func (t team) done() { busyWorkers.Add(-int64(1 + t.helpers)) }

// run calls items.runItem(i) once for every i in [0, n) and returns when all calls have
// returned. The caller and up to t.helpers helpers take items in order, first come
// first served. runItem must not panic: a panic in a helper ends the program.
func (t team) run(n int, items itemRunner) {
	h := min(t.helpers, n-1)
	if h <= 0 {
		for i := 0; i < n; i++ {
			items.runItem(i)
		}
		return
	}
	j := jobPool.Get().(*parallelJob)
	j.items, j.n = items, n
	j.next.Store(0)
	j.refs.Store(int32(h) + 1)
	j.pending.Add(n)
	for range h {
		select {
		case idleHelpers <- j:
		default:
			go helper(j)
		}
	}
	j.work()
	j.pending.Wait()
	j.release()
}

// scratch recycles float32 buffers that a kernel needs for one call (VecMat's partial
// outputs, the attention backward's score gradients and per-head key/value gradients),
// so that a training step does not allocate (and the GC clear) them anew at every layer.
// Unlike packBufs (the SGEMM's large panels) it may drop them at any GC.
var scratch = sync.Pool{New: func() any { return new([]float32) }}

// getScratch returns a buffer of n floats from scratch, contents undefined; give it back
// with scratch.Put.
func getScratch(n int) *[]float32 {
	p := scratch.Get().(*[]float32)
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}
