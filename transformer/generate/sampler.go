package generate

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/llmtune/llmtune/internal/heap"
)

// sampler chooses each next id from the logits: the logits processors and warpers of
// Hugging Face's generate(), in its order, in float64.
type sampler struct {
	opt    Options
	rng    *rand.Rand
	seen   []bool    // (V) ids in the prompt or generated, for the repetition penalty
	scores []float64 // (V) the processed logits of the current step
	heap   []float64 // top-k scratch
	probs  []float64 // top-p scratch: (V) unnormalised probabilities
	kept   []float64 // top-p scratch: the kept scores
	cand   []int     // top-p scratch: candidate ids
}

func newSampler(opt Options, rng *rand.Rand, V int, prompt []int) *sampler {
	s := &sampler{opt: opt, rng: rng, seen: make([]bool, V), scores: make([]float64, V)}
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
	return sample(sc, s.rng)
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
	h := heap.New(s.heap[:0], func(a, b float64) bool { return a < b })
	for _, v := range s.scores {
		if h.Len() < k {
			h.Push(v)
		} else if v > h.Peek() {
			h.Replace(v)
		}
	}
	s.heap = h.Items()
	kth := h.Peek()
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
