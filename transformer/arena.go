package transformer

import (
	"math"
	"slices"
	"sync"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// Arena lends the float32 buffers of a model's training steps (activations, the
// gradients of activations, the scratch an op keeps for its backward) and takes them
// back, so that a step reuses the memory of the step before it instead of allocating it
// afresh: fresh memory costs the Go allocator's clearing, the garbage collector, and,
// once the runtime has returned the pages to the OS between steps, a page fault for every
// 4 KiB the step touches (SmolLM2-135M LoRA at B=4, T=128: 1.3 million minor faults in
// 7 steps, a tenth of the CPU time in the kernel; with an arena 0.5 million, most of
// them filling it in the first step).
//
// A model draws from its arena (Model.SetArena) in Forward and Loss; Model.ReleaseStep
// takes back everything lent since the last release, when nothing can still read it:
// after ag.Backward has returned and the loss value has been read. EvalLoss draws from
// it too and gives its buffers back itself. The gradients of parameters never come from
// an arena: they live until the optimizer's ZeroGrad, across gradient-accumulation
// micro-steps.
//
// A graph node built by RunOp gives its buffers back as soon as its backward step is
// done with them, as the garbage collector would free them, so that a step never holds
// more than it did without an arena: its scratch and the gradients it computed but did
// not hand over, the gradient it received (unless it handed that on), and its output
// value once every node that reads the value has finished its own backward step. So the
// values of the graph's inner nodes are not to be read after ag.Backward; the node
// Model.Forward returns keeps its value until the release.
//
// A request draws the smallest idle buffer that holds it and is at most twice its size,
// else a fresh one, and then the idle buffer just under its size that the step has not
// used (the same request's buffer from a step of smaller shapes) goes to the garbage
// collector. After a release, idle buffers beyond the most memory one step (or
// one EvalLoss) has ever drawn on are dropped to the garbage collector, those idle
// longest first, so that batches of changing shapes do not pile up buffers: between
// steps an arena holds at most the memory of its largest step and an eighth. A step of
// the shapes of the one before draws (almost) only on idle buffers.
//
// An Arena is safe for concurrent use (ag.Backward runs backward steps in parallel). A
// nil *Arena lends nothing: every buffer is freshly allocated, as make([]float32, n).
type Arena struct {
	p *arenaPool
	// root is the arena whose Release takes back what this one lends: itself, but for
	// an op's view (RunOp), whose root is the arena the graph draws from
	root *Arena

	// a root's, guarded by p.mu
	lent      []*lentBuf // lent since the last Release, given back early or not
	bytes     int        // lent and not given back
	period    uint64     // names the time since the last Release
	footprint int        // the bytes of the buffers lent in this period, each counted once

	// an op's view's, guarded by p.mu
	node *ag.Operator // the op's node
	own  []*lentBuf   // what the op has lent
}

// arenaPool is the memory an Arena and its scopes and views share.
type arenaPool struct {
	mu        sync.Mutex
	idle      map[int][]idleBuf // by capacity, most recently given back last
	caps      []int             // the keys of idle with a buffer, sorted
	idleBytes int
	lentBytes int                   // lent and not given back, by every arena of the pool
	peak      int                   // the most lentBytes has been
	budget    int                   // the largest footprint of a period so far
	byData    map[*float32]*lentBuf // what is lent, by its first element
	slab      []lentBuf             // records for what is lent next
	gen       uint64                // releases so far
	periods   uint64                // periods named so far
	stats     ArenaStats
	// poison, for tests, fills every buffer FloatsUninit returns and every buffer given
	// back with NaN: an op that reads an element before writing it, or anything that
	// reads a buffer after it was given back, then gives NaN instead of the right bits.
	poison bool
}

// lentBuf is a lent buffer: its full capacity, and the references that keep it lent.
type lentBuf struct {
	buf   []float32 // nil once done
	root  *Arena
	stamp uint64 // the last period that lent it
	// refs counts what keeps the buffer: its lender (an op's view, until the op's
	// backward is done with it, or whoever holds a gradient it was handed over as), and
	// each node whose backward reads it as an operand's value
	refs int
	done bool // given back
}

type idleBuf struct {
	buf   []float32
	gen   uint64 // p.gen when it became idle
	stamp uint64 // the last period that lent it
}

// ArenaStats counts what an Arena has done.
type ArenaStats struct {
	Reused    int // requests served from an idle buffer
	Allocated int // requests served by a fresh buffer
	Early     int // buffers given back by their graph node before the release
	GivenUp   int // buffers handed over to a parameter as its gradient, which keeps them
	Dropped   int // idle buffers dropped to the garbage collector
	IdleBytes int // bytes held in idle buffers now
	LentBytes int // bytes the arena has lent and not yet taken back
	PeakBytes int // the most bytes lent at once, by the arena and its scopes
	// Budget is the most memory one period between two releases has drawn on, in bytes:
	// the idle buffers kept after a release
	Budget int
}

// NewArena returns an empty arena.
func NewArena() *Arena {
	a := &Arena{p: &arenaPool{idle: map[int][]idleBuf{}, byData: map[*float32]*lentBuf{}}}
	a.root = a
	a.newPeriod()
	return a
}

// newPeriod starts a root's period; p.mu is held, or a is not shared yet.
func (a *Arena) newPeriod() {
	a.p.periods++
	a.period, a.footprint = a.p.periods, 0
}

// scope returns an arena that lends from a's idle buffers but is released on its own:
// EvalLoss takes its buffers from one and gives them back when it is done, whatever the
// state of a's step.
func (a *Arena) scope() *Arena {
	if a == nil {
		return nil
	}
	s := &Arena{p: a.p}
	s.root = s
	a.p.mu.Lock()
	s.newPeriod()
	a.p.mu.Unlock()
	return s
}

// Floats returns a zeroed buffer of n float32s, lent until the next Release.
func (a *Arena) Floats(n int) []float32 {
	if a == nil {
		return make([]float32, n)
	}
	b, fresh := a.get(n)
	if !fresh {
		clear(b)
	}
	return b
}

// FloatsUninit returns a buffer of n float32s whose contents are unspecified (those of
// an earlier use), lent until the next Release: for a caller that writes every element
// before it reads any. Kernels that add into their output (the backward steps, mostly)
// need Floats.
func (a *Arena) FloatsUninit(n int) []float32 {
	if a == nil {
		return make([]float32, n)
	}
	b, _ := a.get(n)
	if a.p.poison {
		fillNaN(b)
	}
	return b
}

func fillNaN(b []float32) {
	nan := float32(math.NaN())
	for i := range b {
		b[i] = nan
	}
}

// Dense returns a zeroed (rows, cols) matrix whose memory is lent until the next
// Release; the matrix itself (its shape, its gradient) is new.
func (a *Arena) Dense(rows, cols int) *mat.Dense[float32] {
	if a == nil {
		return newDense(rows, cols)
	}
	return fromData(a.Floats(rows*cols), rows, cols)
}

// DenseUninit is Dense with unspecified contents (see FloatsUninit).
func (a *Arena) DenseUninit(rows, cols int) *mat.Dense[float32] {
	if a == nil {
		return newDense(rows, cols)
	}
	return fromData(a.FloatsUninit(rows*cols), rows, cols)
}

// get returns a buffer of length n and whether it is fresh (zeroed by make).
func (a *Arena) get(n int) ([]float32, bool) {
	if n <= 0 {
		return make([]float32, n), true
	}
	p := a.p
	p.mu.Lock()
	if b, ok := p.take(n); ok {
		p.stats.Reused++
		a.lend(b)
		p.mu.Unlock()
		return b.buf[:n], false
	}
	p.stats.Allocated++
	p.dropOutgrown(n, a.root.period)
	p.mu.Unlock()
	b := make([]float32, n) // outside the lock: it clears n floats
	p.mu.Lock()
	a.lend(idleBuf{buf: b})
	p.mu.Unlock()
	return b, true
}

// lend records b (at full capacity) as lent by a; p.mu is held.
func (a *Arena) lend(ib idleBuf) {
	p, r := a.p, a.root
	b := ib.buf[:cap(ib.buf)]
	if len(p.slab) == 0 {
		p.slab = make([]lentBuf, 256) // records in bulk: one allocation for many
	}
	e := &p.slab[0]
	p.slab = p.slab[1:]
	*e = lentBuf{buf: b, root: r, refs: 1, stamp: r.period}
	if ib.stamp != r.period {
		r.footprint += 4 * cap(b)
	}
	r.lent = append(r.lent, e)
	r.bytes += 4 * cap(b)
	if a.node != nil {
		a.own = append(a.own, e)
	}
	p.byData[&b[0]] = e
	p.lentBytes += 4 * cap(b)
	p.peak = max(p.peak, p.lentBytes)
}

// take removes and returns the smallest idle buffer of capacity n to 2n, if any.
func (p *arenaPool) take(n int) (idleBuf, bool) {
	i, _ := slices.BinarySearch(p.caps, n)
	if i == len(p.caps) || p.caps[i] > 2*n {
		return idleBuf{}, false
	}
	c := p.caps[i]
	l := p.idle[c]
	b := l[len(l)-1]
	l[len(l)-1] = idleBuf{}
	if l = l[:len(l)-1]; len(l) == 0 {
		delete(p.idle, c)
		p.caps = slices.Delete(p.caps, i, i+1)
	} else {
		p.idle[c] = l
	}
	p.idleBytes -= 4 * c
	return b, true
}

// dropOutgrown drops, for a request of n that no idle buffer serves, the idle buffer
// that most likely served the same request before its shape grew: the largest one
// under n (and at least n/2) that this period has not lent. Left idle, it would sit
// beside the fresh buffer until the release (the step's memory growing by both), and
// then serve nothing the fresh one cannot: dropped now, the garbage collector can reuse
// its memory within the step. p.mu is held.
func (p *arenaPool) dropOutgrown(n int, period uint64) {
	i, _ := slices.BinarySearch(p.caps, n)
	if i == 0 || 2*p.caps[i-1] < n {
		return
	}
	c := p.caps[i-1]
	l := p.idle[c]
	for j, e := range l { // oldest first
		if e.stamp == period {
			continue
		}
		copy(l[j:], l[j+1:])
		l[len(l)-1] = idleBuf{}
		if l = l[:len(l)-1]; len(l) == 0 {
			delete(p.idle, c)
			p.caps = slices.Delete(p.caps, i-1, i)
		} else {
			p.idle[c] = l
		}
		p.idleBytes -= 4 * c
		p.stats.Dropped++
		return
	}
}

// giveBack makes e's buffer idle; p.mu is held.
func (p *arenaPool) giveBack(e *lentBuf) {
	b, c := e.buf, cap(e.buf)
	e.done, e.buf = true, nil // the record may outlive the buffer's stay in the arena
	delete(p.byData, &b[0])
	p.lentBytes -= 4 * c
	e.root.bytes -= 4 * c
	if p.poison {
		fillNaN(b)
	}
	if _, ok := p.idle[c]; !ok {
		j, _ := slices.BinarySearch(p.caps, c)
		p.caps = slices.Insert(p.caps, j, c)
	}
	p.idle[c] = append(p.idle[c], idleBuf{b, p.gen, e.stamp})
	p.idleBytes += 4 * c
}

// unref drops one reference to e, giving it back with the last; p.mu is held.
func (p *arenaPool) unref(e *lentBuf) {
	if e.done {
		return
	}
	if e.refs--; e.refs == 0 {
		p.giveBack(e)
		p.stats.Early++
	}
}

// keep returns how many idle bytes a release keeps: the budget and an eighth. The
// slack is for the backward pass, whose parallel steps give buffers back in an order
// that varies from step to step, so that a step of the same shapes as the last now and
// then needs a buffer more than the last did, or fewer: without it, the idle buffers a
// step did not touch would be dropped only for the next to allocate them again.
func (p *arenaPool) keep() int { return p.budget + p.budget/8 }

// giveUp forgets e, lent and handed over to a parameter as its gradient: the parameter
// keeps the memory; p.mu is held.
func (p *arenaPool) giveUp(e *lentBuf) {
	delete(p.byData, &e.buf[0])
	p.lentBytes -= 4 * cap(e.buf)
	e.root.bytes -= 4 * cap(e.buf)
	e.done, e.buf = true, nil
	p.stats.GivenUp++
}

// lookup returns the lent buffer whose data t's value (or t itself, a gradient) holds,
// or nil; p.mu is held.
func (p *arenaPool) lookup(t mat.Tensor) *lentBuf {
	d, ok := t.(*dense)
	if !ok || d == nil {
		return nil
	}
	data := mat.Data[float32](d)
	if len(data) == 0 {
		return nil
	}
	return p.byData[&data[0]]
}

// Release takes back every buffer lent since the last Release. Nothing may read or
// write them afterwards: not the graph nodes built on them, not their gradients; so
// never while a backward pass over them runs.
func (a *Arena) Release() {
	if a == nil {
		return
	}
	p := a.p
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, e := range a.lent {
		if !e.done {
			p.giveBack(e)
		}
		a.lent[i] = nil
	}
	a.lent = a.lent[:0]
	p.budget = max(p.budget, a.footprint)
	a.newPeriod()
	p.gen++
	p.trim()
}

// trim drops the idle buffers idle longest until at most keep() bytes are idle.
func (p *arenaPool) trim() {
	limit := p.keep()
	if p.idleBytes <= limit {
		return
	}
	var all []idleBuf
	for _, c := range p.caps {
		all = append(all, p.idle[c]...)
	}
	// oldest first; within one release, the largest first
	slices.SortStableFunc(all, func(x, y idleBuf) int {
		if x.gen != y.gen {
			if x.gen < y.gen {
				return -1
			}
			return 1
		}
		return cap(y.buf) - cap(x.buf)
	})
	drop := 0
	for p.idleBytes > limit {
		p.idleBytes -= 4 * cap(all[drop].buf)
		drop++
	}
	p.stats.Dropped += drop
	clear(p.idle)
	p.caps = p.caps[:0]
	for _, e := range all[drop:] { // oldest first: the most recent end up last, taken first
		c := cap(e.buf)
		if _, ok := p.idle[c]; !ok {
			p.caps = append(p.caps, c)
		}
		p.idle[c] = append(p.idle[c], e)
	}
	slices.Sort(p.caps)
}

// Stats returns the arena's counts so far; IdleBytes, LentBytes and PeakBytes are those
// of now. LentBytes counts only what a itself (and the nodes built on it) has lent.
func (a *Arena) Stats() ArenaStats {
	if a == nil {
		return ArenaStats{}
	}
	a.p.mu.Lock()
	defer a.p.mu.Unlock()
	s := a.p.stats
	s.IdleBytes, s.LentBytes, s.PeakBytes, s.Budget = a.p.idleBytes, a.root.bytes, a.p.peak, a.p.budget
	return s
}

// pin keeps the buffer of t's value (if lent) until the next Release, for a reader that
// does not tell the arena when it is done with it: a Linear that is not an ArenaLinear,
// the caller of Model.Forward.
func (a *Arena) pin(t mat.Tensor) {
	if a == nil {
		return
	}
	p := a.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.lookup(t.Value()); e != nil && !e.done {
		e.refs++ // never dropped: Release takes it back
	}
}

// RunOp runs the graph node of the op that build returns (ag.NewOperator(op).Run()),
// handing build the op's own view of a to lend its buffers from: its output, its
// scratch, the gradients it computes. The node gives them back as soon as it is done
// with them (see Arena), which needs three things of the op: its Backward never reads
// its own output value, nor a buffer after handing it over as a gradient (GiveGrad),
// and it hands gradients to its operands only. With a nil a, build gets nil and the op
// allocates as usual.
func (a *Arena) RunOp(build func(a *Arena) ag.AutoGradFunction) mat.Tensor {
	if a == nil {
		return ag.NewOperator(build(nil)).Run()
	}
	op := a.newOp()
	op.f = build(&op.v)
	return op.run()
}

// arenaOp is an op run by RunOp: it keeps the lent values of its operands, which its
// backward reads, and gives back what it is done with after its backward.
type arenaOp struct {
	f       ag.AutoGradFunction
	v       Arena      // the op's view of the arena
	uses    []*lentBuf // the operands' lent values, each holding a reference
	usesBuf [4]*lentBuf
	ownBuf  [6]*lentBuf
}

// newOp returns an arenaOp with its view of a and its node, for an op still to be set:
// what the op lends from then on, in its constructor too, is its own.
func (a *Arena) newOp() *arenaOp {
	op := &arenaOp{v: Arena{p: a.p, root: a.root}}
	op.v.own, op.uses = op.ownBuf[:0], op.usesBuf[:0]
	op.v.node = ag.NewOperator(op)
	return op
}

// run runs the op's graph node.
func (o *arenaOp) run() mat.Tensor { return o.v.node.Run() }

func (o *arenaOp) Operands() []mat.Tensor { return o.f.Operands() }

func (o *arenaOp) Forward() (mat.Tensor, error) {
	p := o.v.p
	p.mu.Lock()
	for _, x := range o.f.Operands() {
		if e := p.lookup(x.Value()); e != nil && !e.done {
			e.refs++
			o.uses = append(o.uses, e)
		}
	}
	p.mu.Unlock()
	return o.f.Forward()
}

// Backward runs the op's backward, then gives back what nothing reads any more: what the
// op lent but did not hand to an operand as its gradient (the op's output among them,
// which the nodes reading it still hold), the gradient it received unless it handed
// that on, and its hold on its operands' values.
func (o *arenaOp) Backward(gy mat.Tensor) error {
	err := o.f.Backward(gy)
	// the gradients the operands hold now: a buffer handed over to a node is the node's,
	// given back by the op that produced the node once its own backward is done; one
	// handed over to a parameter (an op of this package never does that) is the
	// parameter's for good
	var heldBuf, paramBuf [4]*float32
	held, param := heldBuf[:0], paramBuf[:0]
	for _, x := range o.f.Operands() {
		if g, ok := x.Value().Grad().(*dense); ok && g != nil {
			if d := mat.Data[float32](g); len(d) > 0 {
				if _, ok := x.(*ag.Operator); ok {
					held = append(held, &d[0])
				} else {
					param = append(param, &d[0])
				}
			}
		}
	}
	p := o.v.p
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range o.v.own {
		p.settle(e, held, param)
	}
	o.v.own = nil
	if e := p.lookup(gy); e != nil {
		p.settle(e, held, param)
	}
	for _, e := range o.uses {
		p.unref(e)
	}
	o.uses = nil
	return err
}

// settle gives e back after the backward of the op that holds it, unless a node now
// holds it as its gradient (held), or a parameter does (param: then the arena gives it
// up); p.mu is held.
func (p *arenaPool) settle(e *lentBuf, held, param []*float32) {
	switch {
	case e.done || slices.Contains(held, &e.buf[0]):
	case slices.Contains(param, &e.buf[0]):
		p.giveUp(e)
	default:
		p.unref(e)
	}
}
