package transformer

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"
	"github.com/stretchr/testify/require"
)

// poisonedArena returns an arena whose uninitialised and released buffers are NaN.
func poisonedArena() *Arena {
	a := NewArena()
	a.p.poison = true
	return a
}

func TestArenaNil(t *testing.T) {
	var a *Arena
	require.Equal(t, make([]float32, 3), a.Floats(3))
	require.Equal(t, make([]float32, 3), a.FloatsUninit(3))
	require.Equal(t, []int{2, 3}, a.Dense(2, 3).Shape())
	require.Equal(t, []int{2, 3}, a.DenseUninit(2, 3).Shape())
	a.Release()
	require.Nil(t, a.scope())
	require.Equal(t, ArenaStats{}, a.Stats())
}

func TestArenaReuse(t *testing.T) {
	a := NewArena()
	x := a.FloatsUninit(100)
	for i := range x {
		x[i] = 7
	}
	y := a.Floats(100)
	require.Len(t, y, 100)
	require.NotSame(t, &x[0], &y[0], "two buffers lent at once are distinct")
	require.Equal(t, ArenaStats{Allocated: 2, LentBytes: 800, PeakBytes: 800}, a.Stats())
	a.Release()
	require.Equal(t, ArenaStats{Allocated: 2, IdleBytes: 800, PeakBytes: 800, Budget: 800}, a.Stats())

	// the same lengths come back: y's (most recently given back) first, then x's;
	// Floats clears
	z := a.Floats(100)
	require.Same(t, &y[0], &z[0])
	w := a.Floats(100)
	require.Same(t, &x[0], &w[0])
	require.Equal(t, make([]float32, 100), w)
	v := a.FloatsUninit(60) // none is idle now
	require.Equal(t, 3, a.Stats().Allocated)
	a.Release()

	// best fit: the smallest idle buffer that holds the request, and is at most twice
	// its size
	u := a.FloatsUninit(60)
	require.Same(t, &v[0], &u[0])
	s := a.FloatsUninit(50)
	require.Equal(t, 100, cap(s))
	require.Len(t, s, 50)
	require.Equal(t, 49, cap(a.FloatsUninit(49)), "the other 100 is over 2·49")
	st := a.Stats()
	require.Equal(t, 4, st.Reused)
	require.Equal(t, 4, st.Allocated)
	require.Equal(t, 400, st.IdleBytes)
	require.Equal(t, 4*(60+100+49), st.LentBytes)
}

func TestArenaTrim(t *testing.T) {
	// batches of changing shapes: each release keeps at most the memory of the largest
	// step (and an eighth) idle, dropping what was idle longest
	a := NewArena()
	rng := rand.New(rand.NewPCG(1, 2))
	most := 0
	for range 200 {
		n := 1 + rng.IntN(1000)
		drawn := 0
		for range 1 + rng.IntN(8) {
			b := a.FloatsUninit(n + rng.IntN(n))
			drawn += 4 * cap(b)
		}
		most = max(most, drawn)
		a.Release()
		s := a.Stats()
		require.LessOrEqual(t, s.IdleBytes, most+most/8)
		require.Equal(t, most, s.Budget)
		require.Zero(t, s.LentBytes)
	}
	require.Positive(t, a.Stats().Dropped)

	// steady shapes reuse everything and drop nothing
	a = NewArena()
	for range 5 {
		for _, n := range []int{10, 10, 30, 700} {
			a.FloatsUninit(n)
		}
		a.Release()
	}
	s := a.Stats()
	require.Equal(t, 16, s.Reused)
	require.Equal(t, 4, s.Allocated)
	require.Zero(t, s.Dropped)
	require.Equal(t, 4*750, s.IdleBytes)
}

func TestArenaDropOutgrown(t *testing.T) {
	a := NewArena()
	a.FloatsUninit(60)
	a.FloatsUninit(20)
	a.Release()
	// a request of 100 misses: the 60 it outgrew goes; the 20 (under 100/2) stays
	a.FloatsUninit(100)
	s := a.Stats()
	require.Equal(t, 1, s.Dropped)
	require.Equal(t, 80, s.IdleBytes)
	a.Release()

	// a buffer this step has used stays: it serves this step's requests
	x := a.FloatsUninit(20)
	a.p.mu.Lock()
	a.p.unref(a.p.byData[&x[0]]) // given back early, as a node would
	a.p.mu.Unlock()
	d := a.Stats().Dropped
	a.FloatsUninit(39)
	require.Equal(t, d, a.Stats().Dropped)
	require.Same(t, &x[0], &a.FloatsUninit(20)[0])
}

func TestArenaScope(t *testing.T) {
	a := NewArena()
	x := a.FloatsUninit(10)
	a.Release()
	s := a.scope()
	y := s.FloatsUninit(10) // from a's idle buffers
	require.Same(t, &x[0], &y[0])
	z := a.FloatsUninit(10) // a's step, while the scope holds x's buffer
	require.NotSame(t, &x[0], &z[0])
	s.Release() // gives back y's buffer only
	require.Equal(t, 40, a.Stats().LentBytes)
	require.Equal(t, 40, a.Stats().IdleBytes)
	// no period drew on more than 40 bytes: one buffer stays idle, the longest idle goes
	a.Release()
	require.Equal(t, 40, a.Stats().IdleBytes)
	require.Equal(t, 1, a.Stats().Dropped)
	require.Same(t, &z[0], &a.FloatsUninit(10)[0])
}

// TestArenaRunOp follows the buffers of a small graph through its backward: each node
// gives back its scratch, the gradients it did not hand over and its output once the
// nodes reading it are done, and keeps what it handed over.
func TestArenaRunOp(t *testing.T) {
	a := poisonedArena()
	x := NewParam(2, 3)
	copy(Floats(x), []float32{1, -2, 3, 0.5, -1, 2})
	x0 := run(a, &copyOp{x: x})     // value 1
	h := run(a, &geluOp{x: x0})     // value 2
	y := run(a, &geluOp{x: h})      // value 3, reads h
	z := run(a, &addOp{a: y, b: h}) // value 4, reads y and h
	l := run(a, &lossLike{x: z})    // scalar
	require.Equal(t, 4*6*4, a.Stats().LentBytes)
	require.NoError(t, ag.Backward(l))
	s := a.Stats()
	// backward lent: z's gradient (lossLike), b's copy (add), dx of each gelu: 4 more;
	// all given back early but the gradient copyOp handed to x, a parameter, which keeps
	// it (an op of this package never hands a lent buffer to a parameter)
	require.Equal(t, 4+4, s.Allocated+s.Reused)
	require.Positive(t, s.Reused, "buffers reused within the step")
	require.Equal(t, 4+4-1, s.Early)
	require.Equal(t, 1, s.GivenUp)
	require.Zero(t, s.LentBytes)
	require.Less(t, s.PeakBytes, 8*6*4)
	a.Release()
	want := []float32{2.2039778, -0.12603165, 2.0350041, 1.5309883, -0.114022024, 2.2710164}
	require.Equal(t, want, mat.Data[float32](x.Grad()))
}

// lossLike is Σ x, an op handing a lent gradient (ones) to its operand.
type lossLike struct {
	x mat.Tensor
	lender
}

func (o *lossLike) Operands() []mat.Tensor { return []mat.Tensor{o.x} }

func (o *lossLike) Forward() (mat.Tensor, error) {
	var s float32
	for _, v := range Floats(o.x) {
		s += v
	}
	return mat.Scalar(s), nil
}

func (o *lossLike) Backward(gy mat.Tensor) error {
	sh := o.x.Shape()
	g := o.arena.DenseUninit(sh[0], sh[1])
	d := Floats(g)
	for i := range d {
		d[i] = 1
	}
	GiveGrad(o.x, g)
	return nil
}

func TestArenaPoison(t *testing.T) {
	a := poisonedArena()
	x := a.FloatsUninit(4)
	require.True(t, math.IsNaN(float64(x[3])))
	y := a.Floats(4)
	require.Equal(t, make([]float32, 4), y)
	a.Release()
	require.True(t, math.IsNaN(float64(y[0])), "a released buffer is poisoned")
}

// TestArenaConcurrent lends and releases from many goroutines (run with -race).
func TestArenaConcurrent(t *testing.T) {
	a := NewArena()
	for range 3 {
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				s := a.scope()
				for i := range 50 {
					b := a.Floats(1 + (g*i)%97)
					b[0] = 1
					c := s.FloatsUninit(1 + i%13)
					c[0] = 2
				}
				s.Release()
			})
		}
		wg.Wait()
		a.Release()
	}
	s := a.Stats()
	require.Zero(t, s.LentBytes)
	require.Equal(t, 3*8*100, s.Reused+s.Allocated)
}

// arenaCase is a model to train with and without an arena.
type arenaCase struct {
	name   string
	cfg    Config
	freeze func(m *Model) // nil: every parameter trains
}

func arenaCases() []arenaCase {
	llama := Config{Arch: Llama, NumLayers: 2, NumHeads: 4, NumKVHeads: 2, EmbedDim: 16, InnerDim: 24,
		MaxPositions: 32, VocabSize: 50, LayerNormEps: 1e-5, Activation: "silu", RopeTheta: 1e4}
	qwen := llama
	qwen.Arch, qwen.QKVBias, qwen.UntiedLMHead = Qwen2, true, true
	untied := tinyConfig()
	untied.UntiedLMHead = true
	return []arenaCase{
		{name: "gpt2", cfg: tinyConfig()},
		{name: "gpt2-untied-frozen-embeddings", cfg: untied, freeze: func(m *Model) {
			m.WTE.SetRequiresGrad(false)
			m.WPE.SetRequiresGrad(false)
		}},
		{name: "llama", cfg: llama},
		{name: "qwen2-frozen-base", cfg: qwen, freeze: func(m *Model) {
			m.SetTrainable(false)
			m.Blocks[1].Attn.Q.(*Dense).Bias.SetRequiresGrad(true)
			m.Blocks[0].MLP.Up.(*Dense).Weight.SetRequiresGrad(true)
			m.LNF.(*RMSNorm).Weight.SetRequiresGrad(true)
		}},
	}
}

// arenaBatches returns batches of changing shapes: plain, with ignored targets, packed
// (positions and segments), a single token.
func arenaBatches(V int) []Batch {
	rng := rand.New(rand.NewPCG(7, 7))
	mk := func(B, T int, packed bool) Batch {
		var b Batch
		for range B {
			ids, tg, pos, seg := make([]int, T), make([]int, T), make([]int, T), make([]int, T)
			for i := range ids {
				ids[i], tg[i], pos[i] = rng.IntN(V), rng.IntN(V), i
				if rng.IntN(5) == 0 {
					tg[i] = IgnoreIndex
				}
			}
			tg[0] = rng.IntN(V) // at least one target counts
			if packed {
				cut := T / 2
				for i := cut; i < T; i++ {
					pos[i], seg[i] = i-cut, 1
				}
			}
			b.IDs, b.Targets = append(b.IDs, ids), append(b.Targets, tg)
			if packed {
				b.Positions, b.Segments = append(b.Positions, pos), append(b.Segments, seg)
			}
		}
		return b
	}
	return []Batch{mk(2, 8, false), mk(2, 8, false), mk(1, 12, false), mk(3, 5, true), mk(1, 1, false),
		mk(2, 8, false), mk(2, 11, true), mk(4, 3, false)}
}

// arenaTrace is what a run of trainArena saw, for bitwise comparison.
type arenaTrace struct {
	losses, evals []float64
	grads         [][]float32 // every step's parameter gradients, concatenated
	logits        []float32
	weights       []float32
}

// trainArena trains m on batches, two micro-batches per update (plain SGD, so that the
// weights change), releasing the arena after every backward as the trainer does; it
// records the losses, the gradients after each update's micro-batches, an EvalLoss and
// finally Logits and the weights.
func trainArena(t *testing.T, m *Model, batches []Batch) arenaTrace {
	var tr arenaTrace
	var params []*nn.Param
	for _, p := range m.Params() {
		params = append(params, p.Param)
	}
	for i := 0; i+1 < len(batches); i += 2 {
		for _, p := range params {
			p.ZeroGrad()
		}
		for _, b := range batches[i : i+2] {
			loss, err := m.Loss(b)
			require.NoError(t, err)
			tr.losses = append(tr.losses, loss.Value().Item().F64())
			loss.AccGrad(mat.Scalar(float32(0.5)))
			require.NoError(t, ag.Backward(loss))
			m.ReleaseStep()
		}
		var g []float32
		for _, p := range params {
			if p.RequiresGrad() && p.HasGrad() {
				pg := mat.Data[float32](p.Grad())
				g = append(g, pg...)
				w := Floats(p)
				for j := range w {
					w[j] -= 0.05 * pg[j]
				}
			}
		}
		tr.grads = append(tr.grads, g)
		s, _, err := m.EvalLoss(batches[i])
		require.NoError(t, err)
		tr.evals = append(tr.evals, s)
	}
	for _, l := range m.Logits([]int{1, 2, 3, 4}) {
		tr.logits = append(tr.logits, l...)
	}
	for _, p := range params {
		tr.weights = append(tr.weights, Floats(p)...)
	}
	return tr
}

func bitsEqual(t *testing.T, what string, want, got []float32) {
	t.Helper()
	require.Len(t, got, len(want), what)
	for i := range want {
		if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
			t.Fatalf("%s[%d] = %v with the arena, %v without", what, i, got[i], want[i])
		}
	}
}

// TestArenaBitIdentical trains each model with and without an arena (poisoned: every
// buffer an op gets unzeroed is NaN, every released one too) on batches of changing
// shapes, and requires the same bits throughout: losses, gradients, evaluation losses,
// logits and weights. An op that read a lent buffer before writing it, a parameter
// gradient lent by the arena (released before the update reads it), or a buffer read
// after its release would show NaN.
func TestArenaBitIdentical(t *testing.T) {
	for _, c := range arenaCases() {
		t.Run(c.name, func(t *testing.T) {
			build := func() *Model {
				m, err := New(c.cfg, rand.New(rand.NewPCG(3, 4)))
				require.NoError(t, err)
				if c.freeze != nil {
					c.freeze(m)
				}
				return m
			}
			batches := arenaBatches(c.cfg.VocabSize)
			want := trainArena(t, build(), batches)
			m := build()
			a := poisonedArena()
			m.SetArena(a)
			require.Same(t, a, m.Arena())
			got := trainArena(t, m, batches)
			require.Equal(t, want.losses, got.losses)
			require.Equal(t, want.evals, got.evals)
			for i := range want.grads {
				bitsEqual(t, "gradients", want.grads[i], got.grads[i])
			}
			bitsEqual(t, "logits", want.logits, got.logits)
			bitsEqual(t, "weights", want.weights, got.weights)
			s := a.Stats()
			require.Zero(t, s.LentBytes, "everything released")
			require.Positive(t, s.Reused)
		})
	}
}

// TestArenaSteadyState: with a fixed batch shape, the steps after the first draw (all
// but a few of) their buffers from the idle ones, give most back early, and the arena
// holds no more than its budget between steps. (The order in which the parallel
// backward steps give buffers back varies, so a step may now and then need one more.)
func TestArenaSteadyState(t *testing.T) {
	for _, c := range arenaCases() {
		t.Run(c.name, func(t *testing.T) {
			m, err := New(c.cfg, rand.New(rand.NewPCG(3, 4)))
			require.NoError(t, err)
			a := NewArena()
			m.SetArena(a)
			b := arenaBatches(c.cfg.VocabSize)[0]
			step := func() {
				loss, err := m.Loss(b)
				require.NoError(t, err)
				require.NoError(t, ag.Backward(loss))
				m.ReleaseStep()
				_, _, err = m.EvalLoss(b)
				require.NoError(t, err)
			}
			step()
			s1 := a.Stats()
			for range 8 {
				step()
			}
			s2 := a.Stats()
			require.Zero(t, s2.LentBytes)
			require.LessOrEqual(t, s2.Allocated-s1.Allocated, 4)
			require.Greater(t, s2.Reused-s1.Reused, 8*s1.Allocated*9/10)
			require.Greater(t, s2.Early, s2.Allocated)
			require.LessOrEqual(t, s2.IdleBytes, s2.Budget+s2.Budget/8)
		})
	}
}

// lateConv is a Linear that is not an ArenaLinear: y = x·W (Conv1D layout), whose op
// reads x again well after handing x its gradient, when the rest of the backward pass
// may be done with x's producer.
type lateConv struct{ w *nn.Param }

func (l lateConv) Forward(x mat.Tensor) mat.Tensor {
	return ag.NewOperator(&lateConvOp{x: x, w: l.w}).Run()
}
func (l lateConv) InDim() int  { return l.w.Shape()[0] }
func (l lateConv) OutDim() int { return l.w.Shape()[1] }

type lateConvOp struct{ x, w mat.Tensor }

func (o *lateConvOp) Operands() []mat.Tensor { return []mat.Tensor{o.x, o.w} }

func (o *lateConvOp) Forward() (mat.Tensor, error) {
	N, in, out := rows(o.x), o.w.Shape()[0], o.w.Shape()[1]
	y := newDense(N, out)
	conv1DForward(Floats(y), Floats(o.x), Floats(o.w), make([]float32, out), N, in, out)
	return y, nil
}

func (o *lateConvOp) Backward(gy mat.Tensor) error {
	N, in, out := rows(o.x), o.w.Shape()[0], o.w.Shape()[1]
	dx := newDense(N, in)
	conv1DForward(Floats(dx), Floats(gy), transposed(Floats(o.w), in, out), make([]float32, in), N, out, in)
	GiveGrad(o.x, dx)
	time.Sleep(20 * time.Millisecond) // the rest of the backward pass runs meanwhile
	dw := newDense(in, out)
	conv1DForward(Floats(dw), transposed(Floats(o.x), N, in), Floats(gy), make([]float32, out), in, N, out)
	GiveGrad(o.w, dw)
	return nil
}

func transposed(a []float32, r, c int) []float32 {
	t := make([]float32, len(a))
	for i := range r {
		for j := range c {
			t[j*r+i] = a[i*c+j]
		}
	}
	return t
}

// lateSum is s·Σh for a (1, 1) parameter s, reading h again after handing h its
// gradient.
type lateSum struct{ h, s mat.Tensor }

func (o *lateSum) Operands() []mat.Tensor { return []mat.Tensor{o.h, o.s} }

func (o *lateSum) Forward() (mat.Tensor, error) {
	var sum float32
	for _, v := range Floats(o.h) {
		sum += v
	}
	return mat.Scalar(sum * Floats(o.s)[0]), nil
}

func (o *lateSum) Backward(gy mat.Tensor) error {
	sh := o.h.Shape()
	dh := newDense(sh[0], sh[1])
	for i := range Floats(dh) {
		Floats(dh)[i] = Floats(o.s)[0]
	}
	GiveGrad(o.h, dh)
	time.Sleep(20 * time.Millisecond)
	var sum float32
	for _, v := range Floats(o.h) {
		sum += v
	}
	GiveGrad(o.s, mat.Scalar(sum))
	return nil
}

// TestArenaForeignReaders: nodes the arena knows nothing of (a Linear that is not an
// ArenaLinear, the caller's nodes on Model.Forward's output) may read their inputs
// late in the backward pass; the arena keeps those inputs until the release.
func TestArenaForeignReaders(t *testing.T) {
	run := func(a *Arena) []float32 {
		m, err := New(tinyConfig(), rand.New(rand.NewPCG(3, 4)))
		require.NoError(t, err)
		base := m.Blocks[1].MLP.CFc.(*Conv1D)
		w := NewParam(base.InDim(), base.OutDim())
		copy(Floats(w), Floats(base.Weight))
		m.SetLinear(Proj{1, MLPCFc}, lateConv{w})
		m.SetArena(a)
		s := NewParam(1, 1)
		Floats(s)[0] = 0.5
		h, err := m.Forward(arenaBatches(50)[0])
		require.NoError(t, err)
		require.NoError(t, ag.Backward(ag.NewOperator(&lateSum{h: h, s: s}).Run()))
		m.ReleaseStep()
		g := append([]float32{}, mat.Data[float32](s.Grad())...)
		g = append(g, mat.Data[float32](w.Grad())...)
		return append(g, mat.Data[float32](m.WTE.Grad())...)
	}
	want := run(nil)
	a := poisonedArena()
	bitsEqual(t, "gradients", want, run(a))
	require.Positive(t, a.Stats().Early)
}
