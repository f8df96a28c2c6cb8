package transformer

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/internal/numtest"
	"github.com/llmtune/llmtune/internal/reftest"
)

func loadTiny(t testing.TB) *Model {
	t.Helper()
	m, err := Load(filepath.Join(refDir, "tiny-f32"))
	require.NoError(t, err)
	return m
}

// fullGreedy decodes n tokens greedily with a full forward pass over the whole sequence
// per token: the reference the KV-cache path must reproduce.
func fullGreedy(m *Model, prompt []int, n int, penalty float64) []int {
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

func TestGenerateGreedyMatchesFullForward(t *testing.T) {
	g := reftest.Load(t)
	m := loadTiny(t)
	for _, prompt := range tinyPrompts(t, g) {
		got, err := m.Generate(context.Background(), prompt, GenerateOptions{MaxNewTokens: 16})
		require.NoError(t, err)
		assert.Equal(t, fullGreedy(m, prompt, 16, 0), got, "Generate(%v) greedy", prompt)
	}
}

// TestNextLogitsMatchesLogits feeds a sequence in chunks of several sizes (a prefill,
// single tokens, several tokens on a non-empty cache) and compares each step's logits
// with the full forward pass.
func TestNextLogitsMatchesLogits(t *testing.T) {
	g := reftest.Load(t)
	m := loadTiny(t)
	seq := g.Ints(t, "ids.T33")
	full := m.Logits(seq)
	cache, err := NewKVCache(m.Config, len(seq)+2)
	require.NoError(t, err)
	for range 2 { // the second round reuses the cache after Reset
		pos := 0
		for _, n := range []int{5, 1, 1, 3, 7, 1, 15} {
			logits, err := m.NextLogits(cache, seq[pos:pos+n])
			require.NoError(t, err)
			pos += n
			numtest.AssertClose(t, "NextLogits after "+itoa(pos)+" ids", logits, full[pos-1], 2e-5)
			assert.Equal(t, pos, cache.Len())
		}
		require.Equal(t, len(seq), pos)
		cache.Reset()
		assert.Equal(t, 0, cache.Len())
	}
}

func itoa(i int) string { return string(rune('0'+i/10)) + string(rune('0'+i%10)) }

func TestNextLogitsErrors(t *testing.T) {
	m := loadTiny(t)
	cache, err := NewKVCache(m.Config, 4)
	require.NoError(t, err)
	assert.Equal(t, 4, cache.Cap())
	_, err = m.NextLogits(cache, nil)
	assert.ErrorContains(t, err, "no ids")
	_, err = m.NextLogits(cache, []int{1, 512})
	assert.ErrorContains(t, err, "ids[1] = 512 is outside [0, 512)")
	_, err = m.NextLogits(cache, []int{1, 2, 3})
	require.NoError(t, err)
	_, err = m.NextLogits(cache, []int{4, 5})
	assert.ErrorIs(t, err, ErrContextLength)
	assert.Equal(t, 3, cache.Len(), "a failed call changed the cache")
	_, err = m.NextLogits(cache, []int{4})
	assert.NoError(t, err)

	other := m.Config
	other.NumLayers = 3
	c3, err := NewKVCache(other, 4)
	require.NoError(t, err)
	_, err = m.NextLogits(c3, []int{1})
	assert.ErrorContains(t, err, "kv cache is for 3 layers")

	_, err = NewKVCache(m.Config, 129)
	assert.ErrorIs(t, err, ErrContextLength)
	_, err = NewKVCache(m.Config, 0)
	assert.Error(t, err)
}

func TestGenerateLengthLimit(t *testing.T) {
	g := reftest.Load(t)
	m := loadTiny(t)
	_, err := m.Generate(context.Background(), g.Ints(t, "ids.T7"), GenerateOptions{MaxNewTokens: 122})
	require.ErrorIs(t, err, ErrContextLength)
	assert.ErrorContains(t, err, "prompt of 7 tokens + max_new_tokens 122 exceeds n_positions 128")
	ids, err := m.Generate(context.Background(), g.Ints(t, "ids.T7"), GenerateOptions{MaxNewTokens: 121})
	require.NoError(t, err)
	assert.Len(t, ids, 121)
	ids, err = m.Generate(context.Background(), g.Ints(t, "ids.T7"), GenerateOptions{})
	require.NoError(t, err)
	assert.Empty(t, ids)
}

func TestGenerateOptionErrors(t *testing.T) {
	m := loadTiny(t)
	_, err := m.Generate(context.Background(), []int{1}, GenerateOptions{
		MaxNewTokens: -1, Temperature: -1, TopK: -2, TopP: 1.5, RepetitionPenalty: math.NaN(), StopIDs: []int{512},
	})
	require.Error(t, err)
	for _, want := range []string{"max_new_tokens = -1", "temperature = -1", "top_k = -2", "top_p = 1.5",
		"repetition_penalty = NaN", "stop id 512"} {
		assert.ErrorContains(t, err, want)
	}
	_, err = m.Generate(context.Background(), []int{1}, GenerateOptions{MaxNewTokens: 1, Temperature: 0.7})
	assert.ErrorContains(t, err, "needs Rand")
	_, err = m.Generate(context.Background(), nil, GenerateOptions{MaxNewTokens: 1})
	assert.ErrorContains(t, err, "empty prompt")
	_, err = m.Generate(context.Background(), []int{3, -1}, GenerateOptions{MaxNewTokens: 1})
	assert.ErrorContains(t, err, "prompt[1] = -1")
}

func TestGenerateSampling(t *testing.T) {
	g := reftest.Load(t)
	m := loadTiny(t)
	prompt := g.Ints(t, "ids.T7")
	const n = 24
	greedy := fullGreedy(m, prompt, n, 0)
	gen := func(opt GenerateOptions, seed uint64) []int {
		t.Helper()
		opt.MaxNewTokens, opt.Rand = n, rand.New(rand.NewPCG(seed, 1))
		ids, err := m.Generate(context.Background(), prompt, opt)
		require.NoError(t, err)
		require.Len(t, ids, n)
		return ids
	}
	warm := GenerateOptions{Temperature: 1.5}
	a, b := gen(warm, 1), gen(warm, 1)
	assert.Equal(t, a, b, "same seed, same ids")
	assert.NotEqual(t, a, gen(warm, 2), "another seed, other ids")
	assert.NotEqual(t, greedy, a, "sampling at temperature 1.5 is not greedy")
	assert.Equal(t, greedy, gen(GenerateOptions{Temperature: 1.5, TopK: 1}, 3), "top-k 1 is greedy")
	assert.Equal(t, greedy, gen(GenerateOptions{Temperature: 1.5, TopP: 1e-9}, 4), "tiny top-p is greedy")
	assert.Equal(t, greedy, gen(GenerateOptions{Temperature: 1e-4}, 5), "near-zero temperature is greedy")
	// Top-k and top-p at loose settings still sample and stay reproducible.
	loose := GenerateOptions{Temperature: 1, TopK: 40, TopP: 0.95}
	assert.Equal(t, gen(loose, 6), gen(loose, 6))
}

// TestGenerateRepetitionPenalty checks the penalty against full-forward greedy decoding
// with Hugging Face's rule applied by hand; the penalty must change the ids.
func TestGenerateRepetitionPenalty(t *testing.T) {
	g := reftest.Load(t)
	m := loadTiny(t)
	for _, p := range []float64{1.3, 0.7} {
		ids, err := m.Generate(context.Background(), g.Ints(t, "ids.T7"), GenerateOptions{MaxNewTokens: 20, RepetitionPenalty: p})
		require.NoError(t, err)
		assert.Equal(t, fullGreedy(m, g.Ints(t, "ids.T7"), 20, p), ids, "penalty %g", p)
		assert.NotEqual(t, fullGreedy(m, g.Ints(t, "ids.T7"), 20, 0), ids, "penalty %g changed nothing", p)
	}
}

func TestRepetitionPenaltyRule(t *testing.T) {
	sc := []float64{2, 1.5, -1, 0, 3}
	applyRepetitionPenalty(sc, []bool{true, false, true, true, false}, 2)
	assert.Equal(t, []float64{1, 1.5, -2, 0, 3}, sc)
	s := newSampler(GenerateOptions{RepetitionPenalty: 2}, 4, []int{0})
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
	ids, err := m.Generate(ctx, g.Ints(t, "ids.T33"), GenerateOptions{MaxNewTokens: 20, StopIDs: []int{500, stop}})
	require.NoError(t, err)
	assert.Equal(t, greedy[:at+1], ids, "stop id %d is included and ends generation", stop)

	// OnToken sees every id as it comes; returning false stops after that id.
	var seen []int
	ids, err = m.Generate(ctx, g.Ints(t, "ids.T33"), GenerateOptions{MaxNewTokens: 20, OnToken: func(id int) bool {
		seen = append(seen, id)
		return len(seen) < 4
	}})
	require.NoError(t, err)
	assert.Equal(t, greedy[:4], ids)
	assert.Equal(t, ids, seen)

	// Cancelling the context stops between tokens and returns what was generated.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	seen = nil
	ids, err = m.Generate(cctx, g.Ints(t, "ids.T33"), GenerateOptions{MaxNewTokens: 20, OnToken: func(id int) bool {
		seen = append(seen, id)
		if len(seen) == 3 {
			cancel()
		}
		return true
	}})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, greedy[:3], ids)
	ids, err = m.Generate(cctx, g.Ints(t, "ids.T33"), GenerateOptions{MaxNewTokens: 20})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, ids)
}

// TestGenerateUntiedHead checks that an untied LM head is the one used.
func TestGenerateUntiedHead(t *testing.T) {
	cfg := DefaultConfig()
	cfg.NumLayers, cfg.NumHeads, cfg.EmbedDim, cfg.VocabSize, cfg.MaxPositions = 1, 2, 8, 11, 16
	cfg.UntiedLMHead = true
	m, err := New(cfg, rand.New(rand.NewPCG(1, 1)))
	require.NoError(t, err)
	for i, d := range Floats(m.LMHead) { // unlike wte, and decisive
		Floats(m.LMHead)[i] = d * 50
	}
	prompt := []int{1, 2, 3}
	ids, err := m.Generate(context.Background(), prompt, GenerateOptions{MaxNewTokens: 8})
	require.NoError(t, err)
	assert.Equal(t, fullGreedy(m, prompt, 8, 0), ids)
}
