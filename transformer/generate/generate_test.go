package generate

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nlpodyssey/spago/mat"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/internal/reftest"
	"github.com/llmtune/llmtune/transformer"
)

func loadTiny(t testing.TB) *transformer.Model {
	t.Helper()
	m, err := transformer.Load(reftest.Path("tiny-f32"))
	require.NoError(t, err)
	return m
}

// fullGreedy decodes n tokens greedily with a full forward pass over the whole sequence
// per token: the reference the KV-cache path must reproduce.
func fullGreedy(m *transformer.Model, prompt []int, n int, penalty float64) []int {
	seq := slices.Clone(prompt)
	for range n {
		last := m.Logits(seq)[len(seq)-1]
		sc := make([]float64, len(last))
		for i, v := range last {
			sc[i] = float64(v)
			if penalty != 0 && slices.Contains(seq, i) { // HF: l > 0 ? l/p : l·p
				if sc[i] > 0 {
					sc[i] /= penalty
				} else {
					sc[i] *= penalty
				}
			}
		}
		seq = append(seq, argmax(sc))
	}
	return seq[len(prompt):]
}

// tinyPrompts are prompts of several lengths for the reference model (vocab 512).
func tinyPrompts(t *testing.T, g *reftest.Golden) [][]int {
	return [][]int{g.Ints(t, "ids.T1"), g.Ints(t, "ids.T7"), g.Ints(t, "ids.T33"), {0}, {511, 511, 3}, g.Batch(t).IDs[1][:20]}
}

// opts returns DefaultOptions with max_new_tokens n.
func opts(n int) Options {
	o := DefaultOptions()
	o.MaxNewTokens = n
	return o
}

func TestGenerateGreedyMatchesFullForward(t *testing.T) {
	g := reftest.Load(t)
	m := loadTiny(t)
	for _, prompt := range tinyPrompts(t, g) {
		got, err := Generate(context.Background(), m, Request{Prompt: prompt}, opts(16))
		require.NoError(t, err)
		assert.Equal(t, fullGreedy(m, prompt, 16, 0), got, "Generate(%v) greedy", prompt)
	}
}

func TestGenerateLengthLimit(t *testing.T) {
	g := reftest.Load(t)
	m := loadTiny(t)
	prompt := Request{Prompt: g.Ints(t, "ids.T7")}
	_, err := Generate(context.Background(), m, prompt, opts(122))
	require.ErrorIs(t, err, transformer.ErrContextLength)
	assert.ErrorContains(t, err, "prompt of 7 tokens + max_new_tokens 122 exceeds n_positions 128")
	ids, err := Generate(context.Background(), m, prompt, opts(121))
	require.NoError(t, err)
	assert.Len(t, ids, 121)
}

func TestGenerateOptionErrors(t *testing.T) {
	m := loadTiny(t)
	ctx := context.Background()
	_, err := Generate(ctx, m, Request{Prompt: []int{1}, StopIDs: []int{512}}, Options{
		MaxNewTokens: -1, Temperature: -1, TopK: -2, TopP: 1.5, RepetitionPenalty: math.NaN(), Stop: []string{""},
	})
	require.Error(t, err)
	for _, want := range []string{"max_new_tokens: must be ≥ 1, got -1", "temperature: must be ≥ 0 (0 = greedy), got -1",
		"top_k: must be ≥ 0 (0 = off), got -2", "top_p: must be in (0, 1], got 1.5",
		"repetition_penalty: must be > 0 (1 = off), got NaN", "stop: an empty stop string", "stop id 512"} {
		assert.ErrorContains(t, err, want)
	}
	warm := opts(1)
	warm.Temperature = 0.7
	_, err = Generate(ctx, m, Request{Prompt: []int{1}}, warm)
	assert.ErrorContains(t, err, "needs a *rand.Rand")
	_, err = Generate(ctx, m, Request{}, opts(1))
	assert.ErrorContains(t, err, "empty prompt")
	_, err = Generate(ctx, m, Request{Prompt: []int{3, -1}}, opts(1))
	assert.ErrorContains(t, err, "prompt[1] = -1")
}

func TestGenerateSampling(t *testing.T) {
	g := reftest.Load(t)
	m := loadTiny(t)
	prompt := g.Ints(t, "ids.T7")
	const n = 24
	greedy := fullGreedy(m, prompt, n, 0)
	gen := func(opt Options, seed uint64) []int {
		t.Helper()
		opt.MaxNewTokens = n
		if opt.TopP == 0 {
			opt.TopP = 1
		}
		opt.RepetitionPenalty = 1
		ids, err := Generate(context.Background(), m, Request{Prompt: prompt, Rand: rand.New(rand.NewPCG(seed, 1))}, opt)
		require.NoError(t, err)
		require.Len(t, ids, n)
		return ids
	}
	warm := Options{Temperature: 1.5}
	a, b := gen(warm, 1), gen(warm, 1)
	assert.Equal(t, a, b, "same seed, same ids")
	assert.NotEqual(t, a, gen(warm, 2), "another seed, other ids")
	assert.NotEqual(t, greedy, a, "sampling at temperature 1.5 is not greedy")
	assert.Equal(t, greedy, gen(Options{Temperature: 1.5, TopK: 1}, 3), "top-k 1 is greedy")
	assert.Equal(t, greedy, gen(Options{Temperature: 1.5, TopP: 1e-9}, 4), "tiny top-p is greedy")
	assert.Equal(t, greedy, gen(Options{Temperature: 1e-4}, 5), "near-zero temperature is greedy")
	// Top-k and top-p at loose settings still sample and stay reproducible.
	loose := Options{Temperature: 1, TopK: 40, TopP: 0.95}
	assert.Equal(t, gen(loose, 6), gen(loose, 6))
}

// TestGenerateRepetitionPenalty checks the penalty against full-forward greedy decoding
// with Hugging Face's rule applied by hand; the penalty must change the ids.
func TestGenerateRepetitionPenalty(t *testing.T) {
	g := reftest.Load(t)
	m := loadTiny(t)
	for _, p := range []float64{1.3, 0.7} {
		o := opts(20)
		o.RepetitionPenalty = p
		ids, err := Generate(context.Background(), m, Request{Prompt: g.Ints(t, "ids.T7")}, o)
		require.NoError(t, err)
		assert.Equal(t, fullGreedy(m, g.Ints(t, "ids.T7"), 20, p), ids, "penalty %g", p)
		assert.NotEqual(t, fullGreedy(m, g.Ints(t, "ids.T7"), 20, 0), ids, "penalty %g changed nothing", p)
	}
}

func TestRepetitionPenaltyRule(t *testing.T) {
	sc := []float64{2, 1.5, -1, 0, 3}
	applyRepetitionPenalty(sc, []bool{true, false, true, true, false}, 2)
	assert.Equal(t, []float64{1, 1.5, -2, 0, 3}, sc)
	s := newSampler(Options{RepetitionPenalty: 2}, nil, 4, []int{0})
	assert.Equal(t, 1, s.next([]float32{2, 1.5, -1, 0}), "the seen id 0 drops from 2 to 1")
	assert.Equal(t, 0, s.next([]float32{2, 1.5, -1, 0}), "1 is now seen too: 2/2 = 1 > 1.5/2")
}

func TestTopKTopP(t *testing.T) {
	inf := math.Inf(-1)
	s := &sampler{}
	for _, c := range []struct {
		in   []float64
		k    int
		want []float64
	}{
		{[]float64{1, 5, 3, 5, 2}, 2, []float64{inf, 5, inf, 5, inf}},
		{[]float64{1, 5, 3, 5, 2}, 3, []float64{inf, 5, 3, 5, inf}},
		{[]float64{1, 3, 3, 5}, 2, []float64{inf, 3, 3, 5}}, // ties with the k-th stay
		{[]float64{4, 3, 2, 1}, 1, []float64{4, inf, inf, inf}},
	} {
		s.scores = slices.Clone(c.in)
		s.topK(c.k)
		assert.Equal(t, c.want, s.scores, "topK(%v, %d)", c.in, c.k)
	}
	probs := []float64{0.15, 0.5, 0.05, 0.3}
	for _, c := range []struct {
		p    float64
		keep []bool
	}{
		{0.4, []bool{false, true, false, false}},
		{0.75, []bool{false, true, false, true}},
		{0.85, []bool{true, true, false, true}},
		{0.99, []bool{true, true, true, true}},
	} {
		s.scores = make([]float64, len(probs))
		for i, p := range probs {
			s.scores[i] = math.Log(p) + 7
		}
		s.topP(c.p)
		for i, k := range c.keep {
			assert.Equal(t, k, !math.IsInf(s.scores[i], -1), "topP(%g): token %d kept", c.p, i)
			if k {
				assert.InDelta(t, math.Log(probs[i])+7, s.scores[i], 1e-12)
			}
		}
	}
}

func TestSampleFollowsSoftmax(t *testing.T) {
	probs := []float64{0.1, 0, 0.2, 0.7}
	sc := make([]float64, len(probs))
	for i, p := range probs {
		sc[i] = math.Log(p) // log 0 = −Inf: never drawn
	}
	rng := rand.New(rand.NewPCG(9, 9))
	counts := make([]float64, len(probs))
	const n = 20000
	for range n {
		counts[sample(sc, rng)]++
	}
	for i, p := range probs {
		assert.InDelta(t, p, counts[i]/n, 0.015, "frequency of %d", i)
	}
}

func TestGenerateStops(t *testing.T) {
	g := reftest.Load(t)
	m := loadTiny(t)
	ctx := context.Background()
	greedy := fullGreedy(m, g.Ints(t, "ids.T33"), 20, 0)
	// Stop at the first occurrence of the id at index 5.
	stop := greedy[5]
	at := slices.Index(greedy, stop)
	prompt := g.Ints(t, "ids.T33")
	ids, err := Generate(ctx, m, Request{Prompt: prompt, StopIDs: []int{500, stop}}, opts(20))
	require.NoError(t, err)
	assert.Equal(t, greedy[:at+1], ids, "stop id %d is included and ends generation", stop)

	// OnToken sees every id as it comes; returning false stops after that id.
	var seen []int
	ids, err = Generate(ctx, m, Request{Prompt: prompt, OnToken: func(id int) bool {
		seen = append(seen, id)
		return len(seen) < 4
	}}, opts(20))
	require.NoError(t, err)
	assert.Equal(t, greedy[:4], ids)
	assert.Equal(t, ids, seen)

	// Cancelling the context stops between tokens and returns what was generated.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	seen = nil
	ids, err = Generate(cctx, m, Request{Prompt: prompt, OnToken: func(id int) bool {
		seen = append(seen, id)
		if len(seen) == 3 {
			cancel()
		}
		return true
	}}, opts(20))
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, greedy[:3], ids)
	ids, err = Generate(cctx, m, Request{Prompt: prompt}, opts(20))
	assert.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, ids)
}

// TestGenerateUntiedHead checks that an untied LM head is the one used.
func TestGenerateUntiedHead(t *testing.T) {
	cfg := transformer.DefaultConfig()
	cfg.NumLayers, cfg.NumHeads, cfg.EmbedDim, cfg.VocabSize, cfg.MaxPositions = 1, 2, 8, 11, 16
	cfg.UntiedLMHead = true
	m, err := transformer.New(cfg, rand.New(rand.NewPCG(1, 1)))
	require.NoError(t, err)
	head := mat.Data[float32](m.LMHead)
	for i := range head { // unlike wte, and decisive
		head[i] *= 50
	}
	prompt := []int{1, 2, 3}
	ids, err := Generate(context.Background(), m, Request{Prompt: prompt}, opts(8))
	require.NoError(t, err)
	assert.Equal(t, fullGreedy(m, prompt, 8, 0), ids)
}
