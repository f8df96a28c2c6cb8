package transformer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// GenerateOptions controls Model.Generate. The zero value generates nothing; with only
// MaxNewTokens set it decodes greedily. The sampling knobs follow Hugging Face's
// generate(): the logits of each step go through the repetition penalty, then (when
// sampling) temperature, top-k and top-p, then a draw from the softmax, all in float64.
type GenerateOptions struct {
	// MaxNewTokens is the most tokens to generate (≥ 0). The prompt plus MaxNewTokens must
	// fit in the model's n_positions, or Generate returns ErrContextLength before it starts.
	MaxNewTokens int
	// Temperature divides the logits before sampling; 0 means greedy decoding (argmax,
	// the lowest id on ties), which ignores TopK, TopP and Rand.
	Temperature float64
	// TopK, when > 0, keeps only the TopK highest logits (and any tied with the last).
	TopK int
	// TopP, when in (0, 1), keeps the smallest set of most likely tokens whose probability
	// reaches TopP (nucleus sampling; the most likely token always stays). 0 and 1 are off.
	TopP float64
	// RepetitionPenalty, when not 0 or 1, penalises every id already in the prompt or
	// generated (CTRL, as Hugging Face): a logit l becomes l/p if l > 0, else l·p.
	RepetitionPenalty float64
	// StopIDs end generation when one of them is produced (EOS, say). As in Hugging
	// Face, the stop id is included: it is the last id of the result and OnToken sees it.
	StopIDs []int
	// Rand draws the samples; required when Temperature > 0. A seeded generator makes
	// generation reproducible.
	Rand *rand.Rand
	// OnToken, if not nil, is called with each new id as soon as it is chosen (for
	// streaming); the id is part of the result. Returning false stops generation after
	// it: callers implement stop strings and interruption with it.
	OnToken func(id int) bool
}

// validate reports every problem of the options at once, for a vocabulary of V ids.
func (o GenerateOptions) validate(V int) error {
	var errs []error
	if o.MaxNewTokens < 0 {
		errs = append(errs, fmt.Errorf("max_new_tokens = %d, want ≥ 0", o.MaxNewTokens))
	}
	if !(o.Temperature >= 0) || math.IsInf(o.Temperature, 0) {
		errs = append(errs, fmt.Errorf("temperature = %g, want ≥ 0 (0 is greedy)", o.Temperature))
	}
	if o.TopK < 0 {
		errs = append(errs, fmt.Errorf("top_k = %d, want ≥ 0 (0 is off)", o.TopK))
	}
	if !(o.TopP >= 0 && o.TopP <= 1) {
		errs = append(errs, fmt.Errorf("top_p = %g, want in [0, 1] (0 and 1 are off)", o.TopP))
	}
	if !(o.RepetitionPenalty >= 0) || math.IsInf(o.RepetitionPenalty, 0) {
		errs = append(errs, fmt.Errorf("repetition_penalty = %g, want ≥ 0 (0 and 1 are off)", o.RepetitionPenalty))
	}
	for _, id := range o.StopIDs {
		if id < 0 || id >= V {
			errs = append(errs, fmt.Errorf("stop id %d is outside the vocabulary [0, %d)", id, V))
		}
	}
	if o.Temperature > 0 && o.Rand == nil {
		errs = append(errs, errors.New("temperature > 0 samples and needs Rand"))
	}
	return errors.Join(errs...)
}

// Generate continues prompt (token ids, at least one) and returns the new ids only, at
// most opt.MaxNewTokens of them. It feeds the prompt once through NextLogits (one pass
// over all of it), then one token per step, with a KV cache of exactly the room needed,
// so an applied LoRA adapter is used (in evaluation mode; see NextLogits).
//
// Generation ends when MaxNewTokens ids are out, when a stop id is produced (it is
// included), or when OnToken returns false (the id it saw is included). Between tokens
// it checks ctx: when ctx is done it returns the ids generated so far with ctx.Err().
// Invalid options or prompt ids, and a prompt plus MaxNewTokens longer than n_positions
// (ErrContextLength, wrapped: the rule is Hugging Face's error, not a silent cut), are
// errors before any work.
func (m *Model) Generate(ctx context.Context, prompt []int, opt GenerateOptions) ([]int, error) {
	cfg := m.Config
	if err := opt.validate(cfg.VocabSize); err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	if len(prompt) == 0 {
		return nil, errors.New("generate: empty prompt")
	}
	for i, id := range prompt {
		if id < 0 || id >= cfg.VocabSize {
			return nil, fmt.Errorf("generate: prompt[%d] = %d is outside [0, %d)", i, id, cfg.VocabSize)
		}
	}
	if len(prompt)+opt.MaxNewTokens > cfg.MaxPositions {
		return nil, fmt.Errorf("generate: prompt of %d tokens + max_new_tokens %d exceeds n_positions %d: %w",
			len(prompt), opt.MaxNewTokens, cfg.MaxPositions, ErrContextLength)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]int, 0, opt.MaxNewTokens)
	if opt.MaxNewTokens == 0 {
		return out, nil
	}
	cache, err := NewKVCache(cfg, len(prompt)+opt.MaxNewTokens)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	smp := newSampler(opt, cfg.VocabSize, prompt)
	logits, err := m.NextLogits(cache, prompt)
	for {
		if err != nil {
			return out, fmt.Errorf("generate: %w", err)
		}
		id := smp.next(logits)
		out = append(out, id)
		if opt.OnToken != nil && !opt.OnToken(id) || slices.Contains(opt.StopIDs, id) || len(out) == opt.MaxNewTokens {
			return out, nil
		}
		if err := ctx.Err(); err != nil {
			return out, err
		}
		logits, err = m.NextLogits(cache, []int{id})
	}
}

// sampler chooses each next id from the logits: the logits processors and warpers of
// Hugging Face's generate(), in its order, in float64.
type sampler struct {
	opt    GenerateOptions
	seen   []bool    // (V) ids in the prompt or generated, for the repetition penalty
	scores []float64 // (V) the processed logits of the current step
	heap   []float64 // top-k scratch
	probs  []float64 // top-p scratch: (V) unnormalised probabilities
	kept   []float64 // top-p scratch: the kept scores
	cand   []int     // top-p scratch: candidate ids
}

func newSampler(opt GenerateOptions, V int, prompt []int) *sampler {
	s := &sampler{opt: opt, seen: make([]bool, V), scores: make([]float64, V)}
	for _, id := range prompt {
		s.seen[id] = true
	}
	return s
}

// next returns the id chosen from logits (V) and records it as seen.
func (s *sampler) next(logits []float32) int {
	id := s.choose(logits)
	s.seen[id] = true
	return id
}

func (s *sampler) choose(logits []float32) int {
	sc := s.scores
	for i, l := range logits {
		sc[i] = float64(l)
	}
	if p := s.opt.RepetitionPenalty; p != 0 && p != 1 {
		applyRepetitionPenalty(sc, s.seen, p)
	}
	if s.opt.Temperature == 0 {
		return argmax(sc)
	}
	if t := s.opt.Temperature; t != 1 {
		for i := range sc {
			sc[i] /= t
		}
	}
	if k := s.opt.TopK; k > 0 && k < len(sc) {
		s.topK(k)
	}
	if p := s.opt.TopP; p > 0 && p < 1 {
		s.topP(p)
	}
	return sample(sc, s.opt.Rand)
}

// applyRepetitionPenalty divides the positive scores of seen ids by p and multiplies the
// others by p (Hugging Face's RepetitionPenaltyLogitsProcessor).
func applyRepetitionPenalty(sc []float64, seen []bool, p float64) {
	for i, ok := range seen {
		if !ok {
			continue
		}
		if sc[i] > 0 {
			sc[i] /= p
		} else {
			sc[i] *= p
		}
	}
}

// argmax returns the index of the largest score, the lowest one on ties.
func argmax(sc []float64) int {
	best := 0
	for i, v := range sc {
		if v > sc[best] {
			best = i
		}
	}
	return best
}

// topK sets every score below the k-th largest to −Inf (ties with it stay, as in Hugging
// Face's TopKLogitsWarper). 0 < k < len(scores).
func (s *sampler) topK(k int) {
	// A min-heap of the k largest scores seen: its root is the k-th largest.
	h := s.heap[:0]
	for _, v := range s.scores {
		switch {
		case len(h) < k:
			h = append(h, v)
			for i := len(h) - 1; i > 0; { // sift up
				p := (i - 1) / 2
				if h[p] <= h[i] {
					break
				}
				h[p], h[i] = h[i], h[p]
				i = p
			}
		case v > h[0]:
			h[0] = v
			for i := 0; ; { // sift down
				m, l, r := i, 2*i+1, 2*i+2
				if l < len(h) && h[l] < h[m] {
					m = l
				}
				if r < len(h) && h[r] < h[m] {
					m = r
				}
				if m == i {
					break
				}
				h[m], h[i] = h[i], h[m]
				i = m
			}
		}
	}
	s.heap = h
	kth := h[0]
	for i, v := range s.scores {
		if v < kth {
			s.scores[i] = math.Inf(-1)
		}
	}
}

// topP keeps the most likely tokens, in order of decreasing probability, while the
// probability of those before each is below p, and sets the other scores to −Inf
// (Hugging Face's TopPLogitsWarper: it removes a token when the cumulative probability
// of the ascending sort up to it is ≤ 1−p). 0 < p < 1.
func (s *sampler) topP(p float64) {
	sc := s.scores
	maxv := slices.Max(sc)
	e := grow64(&s.probs, len(sc)) // unnormalised probabilities
	var total float64
	for i, v := range sc {
		e[i] = math.Exp(v - maxv)
		total += e[i]
	}
	// A token is kept only if the tokens before it hold less than p: once the tokens at
	// least as likely as some threshold hold p, no token below it is kept, and only those
	// need sorting. Try thresholds relative to the top probability (1).
	cand := s.cand[:0]
	for _, rel := range []float64{0x1p-10, 0x1p-30, 0} {
		cand = cand[:0]
		var mass float64
		for i, v := range e {
			if v > 0 && v >= rel {
				cand = append(cand, i)
				mass += v
			}
		}
		if mass >= p*total {
			break
		}
	}
	slices.SortStableFunc(cand, func(a, b int) int { return cmp.Compare(e[b], e[a]) })
	n := 0
	for before := 0.0; n < len(cand) && before < p*total; n++ {
		before += e[cand[n]]
	}
	s.cand = cand
	kept := grow64(&s.kept, n)
	for j, i := range cand[:n] {
		kept[j] = sc[i]
	}
	for i := range sc {
		sc[i] = math.Inf(-1)
	}
	for j, i := range cand[:n] {
		sc[i] = kept[j]
	}
}

// grow64 returns (*b)[:n], reallocating *b when it is too short.
func grow64(b *[]float64, n int) []float64 {
	if cap(*b) < n {
		*b = make([]float64, n)
	}
	return (*b)[:n]
}

// sample draws an index with probability softmax(sc), using rng.
func sample(sc []float64, rng *rand.Rand) int {
	maxv := slices.Max(sc)
	var total float64
	for _, v := range sc {
		total += math.Exp(v - maxv)
	}
	r := rng.Float64() * total
	last := 0
	for i, v := range sc {
		e := math.Exp(v - maxv)
		if e == 0 {
			continue
		}
		last = i
		if r < e {
			return i
		}
		r -= e
	}
	return last // rounding left r just above the total
}
