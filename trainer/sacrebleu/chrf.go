package sacrebleu

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ChrF configures chrF (Popović 2015) and chrF++ (Popović 2017) as sacreBLEU's
// metrics.CHRF does (metrics/chrf.py, sacreBLEU 2.x). The zero value is sacreBLEU's
// default chrF2 (signature "case:mixed|eff:yes|nc:6|nw:0|space:no"): character n-grams
// up to 6, no word n-grams, beta 2, case-sensitive, whitespace removed, and the
// precision and recall of the orders that occur averaged before the F-score
// ("effective order", not chrF++.py's epsilon smoothing).
type ChrF struct {
	// CharOrder is the largest character n-gram order; 0 means 6.
	CharOrder int
	// WordOrder is the largest word n-gram order: 0 is chrF, 2 is chrF++.
	WordOrder int
	// Beta weighs recall Beta times as much as precision; 0 means 2.
	Beta int
	// Lowercase lowercases hypotheses and references (Python str.lower).
	Lowercase bool
	// Whitespace keeps whitespace inside character n-grams; by default it is removed.
	Whitespace bool
	// EpsSmoothing averages per-order F-scores with 1e-16 for empty orders, as chrF++.py,
	// Moses and NLTK do, instead of sacreBLEU's default effective-order averaging.
	EpsSmoothing bool
}

// ChrFCounts are the n-gram statistics of one order: hypothesis n-grams, reference
// n-grams and matches (the smaller count of each n-gram in both).
type ChrFCounts struct {
	Hyp, Ref, Match int
}

// ChrFScore is a chrF score with the statistics it was computed from.
type ChrFScore struct {
	// Score is chrF in 0..100.
	Score float64
	// Orders holds the corpus statistics of character n-gram orders 1..CharOrder, then of
	// word n-gram orders 1..WordOrder; per hypothesis they are those of the reference
	// with the best F-score.
	Orders []ChrFCounts
	// NumRefs is the number of non-empty references per hypothesis, or -1 when it varies.
	NumRefs int
	// Config is the configuration that produced the score, defaults filled in.
	Config ChrF
}

// CorpusChrF returns sacreBLEU's default corpus chrF (ChrF{}.Corpus) of hyps against
// refs, laid out as sacreBLEU's corpus_score takes them: refs[k][i] is the k-th
// reference of hyps[i]. For one reference per hypothesis pass [][]string{refs}.
// An empty string in refs means "no k-th reference for this hypothesis"; see
// ChrF.Corpus for the errors.
func CorpusChrF(hyps []string, refs [][]string) (ChrFScore, error) {
	return ChrF{}.Corpus(hyps, refs)
}

// SentenceChrF returns sacreBLEU's default chrF of one hypothesis against its
// references, as sacrebleu.sentence_chrf computes it.
func SentenceChrF(hyp string, refs []string) (ChrFScore, error) {
	return ChrF{}.Sentence(hyp, refs)
}

// Sentence returns c's chrF of one hypothesis against its references, that is
// c.Corpus([]string{hyp}, [][]string{{refs[0]}, {refs[1]}, ...}).
func (c ChrF) Sentence(hyp string, refs []string) (ChrFScore, error) {
	streams := make([][]string, len(refs))
	for k, r := range refs {
		streams[k] = []string{r}
	}
	return c.Corpus([]string{hyp}, streams)
}

// Corpus returns the corpus chrF of hyps against refs (refs[k][i] is the k-th reference
// of hyps[i]), as sacreBLEU's CHRF.corpus_score does: for each hypothesis the n-gram
// statistics against each of its references are computed, those of the reference with
// the highest F-score (the first on a tie) are summed over the corpus, and one F-score
// is computed from the sums. Empty references are skipped; an empty hypothesis is kept.
// It fails on an invalid configuration, no hypotheses, no reference streams, a stream
// whose length differs from len(hyps), or a hypothesis without a non-empty reference
// (ErrNoReference).
func (c ChrF) Corpus(hyps []string, refs [][]string) (ChrFScore, error) {
	c, err := c.resolve()
	if err != nil {
		return ChrFScore{}, fmt.Errorf("chrf: %w", err)
	}
	segRefs, numRefs, err := segmentRefs(hyps, refs)
	if err != nil {
		return ChrFScore{}, fmt.Errorf("chrf: %w", err)
	}
	total := make([]ChrFCounts, c.CharOrder+c.WordOrder)
	stats := make([]ChrFCounts, len(total))
	for i, hyp := range hyps {
		h := c.ngrams(hyp)
		var best []ChrFCounts
		bestF := -1.0
		for _, ref := range segRefs[i] {
			// CHRF._get_match_statistics per order.
			for n, r := range c.ngrams(ref) {
				s := ChrFCounts{}
				for _, cnt := range r {
					s.Ref += cnt
				}
				for ng, cnt := range h[n] {
					s.Hyp += cnt
					s.Match += min(cnt, r[ng])
				}
				if len(r) == 0 { // a reference without n-grams of this order hides the hypothesis'
					s.Hyp = 0
				}
				stats[n] = s
			}
			if f := c.fScore(stats); f > bestF {
				bestF = f
				best = append(best[:0], stats...)
			}
		}
		for n, s := range best {
			total[n].Hyp += s.Hyp
			total[n].Ref += s.Ref
			total[n].Match += s.Match
		}
	}
	return ChrFScore{Score: c.fScore(total), Orders: total, NumRefs: numRefs, Config: c}, nil
}

// resolve returns c with its defaults filled in, or the joined configuration problems.
func (c ChrF) resolve() (ChrF, error) {
	var errs []error
	if c.CharOrder == 0 {
		c.CharOrder = 6
	}
	if c.Beta == 0 {
		c.Beta = 2
	}
	if c.CharOrder < 0 {
		errs = append(errs, fmt.Errorf("char order must be ≥ 0, got %d", c.CharOrder))
	}
	if c.WordOrder < 0 {
		errs = append(errs, fmt.Errorf("word order must be ≥ 0, got %d", c.WordOrder))
	}
	if c.Beta < 0 {
		errs = append(errs, fmt.Errorf("beta must be ≥ 0, got %d", c.Beta))
	}
	return c, errors.Join(errs...)
}

// ngrams returns the character n-gram counts of orders 1..CharOrder and then the word
// n-gram counts of orders 1..WordOrder of one segment (helpers.extract_all_char_ngrams,
// CHRF._remove_punctuation, helpers.extract_word_ngrams).
func (c ChrF) ngrams(seg string) []map[string]int {
	if c.Lowercase {
		seg = pyLower(seg)
	}
	out := make([]map[string]int, 0, c.CharOrder+c.WordOrder)
	chars := seg
	if !c.Whitespace {
		chars = strings.Join(strings.FieldsFunc(seg, isPySpace), "")
	}
	// Byte offsets of the characters, plus the end: n-gram i of order n is
	// chars[at[i]:at[i+n]].
	at := make([]int, 0, len(chars)+1)
	for i := range chars {
		at = append(at, i)
	}
	at = append(at, len(chars))
	L := len(at) - 1 // characters
	for n := 1; n <= c.CharOrder; n++ {
		m := make(map[string]int, max(L-n+1, 0))
		for i := 0; i+n <= L; i++ {
			m[chars[at[i]:at[i+n]]]++
		}
		out = append(out, m)
	}
	if c.WordOrder > 0 {
		words := chrfWords(seg)
		for n := 1; n <= c.WordOrder; n++ {
			m := make(map[string]int, max(len(words)-n+1, 0))
			for i := 0; i+n <= len(words); i++ {
				m[strings.Join(words[i:i+n], " ")]++
			}
			out = append(out, m)
		}
	}
	return out
}

// chrfWords splits seg on whitespace and then splits one ASCII punctuation character
// off the end, or else off the start, of each word longer than one character
// (CHRF._remove_punctuation, after chrF++.py; "(hi)" becomes "(hi" and ")").
func chrfWords(seg string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(seg, isPySpace) {
		switch {
		case utf8.RuneCountInString(w) == 1:
			out = append(out, w)
		case isASCIIPunct(w[len(w)-1]):
			out = append(out, w[:len(w)-1], w[len(w)-1:])
		case isASCIIPunct(w[0]):
			out = append(out, w[:1], w[1:])
		default:
			out = append(out, w)
		}
	}
	return out
}

// isASCIIPunct reports whether b is in Python's string.punctuation.
func isASCIIPunct(b byte) bool {
	return b >= '!' && b <= '/' || b >= ':' && b <= '@' || b >= '[' && b <= '`' || b >= '{' && b <= '~'
}

// fScore is CHRF._compute_f_score: the F-beta score in 0..100 of the statistics of all
// orders, by effective-order averaging or, with EpsSmoothing, by averaging per-order
// F-scores. Floating-point operations follow the Python expression order.
func (c ChrF) fScore(stats []ChrFCounts) float64 {
	const eps = 1e-16
	factor := float64(c.Beta * c.Beta)
	score, avgPrec, avgRec := 0.0, 0.0, 0.0
	effOrder := 0
	for _, s := range stats {
		prec, rec := eps, eps
		if s.Hyp > 0 {
			prec = float64(s.Match) / float64(s.Hyp)
		}
		if s.Ref > 0 {
			rec = float64(s.Match) / float64(s.Ref)
		}
		if denom := factor*prec + rec; denom > 0 {
			score += (1 + factor) * prec * rec / denom
		} else {
			score += eps
		}
		if s.Hyp > 0 && s.Ref > 0 {
			avgPrec += prec
			avgRec += rec
			effOrder++
		}
	}
	if c.EpsSmoothing {
		return 100 * score / float64(len(stats))
	}
	if effOrder == 0 {
		return 0
	}
	avgPrec /= float64(effOrder)
	avgRec /= float64(effOrder)
	if avgPrec+avgRec == 0 {
		return 0
	}
	score = (1 + factor) * avgPrec * avgRec
	score /= factor*avgPrec + avgRec
	return 100 * score
}

// Name is sacreBLEU's name of the metric behind s: "chrF" and Beta, then one "+" per
// word order, e.g. "chrF2" or "chrF2++".
func (s ChrFScore) Name() string {
	return fmt.Sprintf("chrF%d%s", s.Config.Beta, strings.Repeat("+", s.Config.WordOrder))
}

// String formats s as sacreBLEU's CHRFScore repr, e.g. "chrF2 = 59.73".
func (s ChrFScore) String() string {
	return fmt.Sprintf("%s = %.2f", s.Name(), s.Score)
}

// Signature is sacreBLEU's chrF signature of the configuration behind s, e.g.
// "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.0.0"; the version is
// Version.
func (s ChrFScore) Signature() string {
	c := s.Config
	return fmt.Sprintf("nrefs:%s|case:%s|eff:%s|nc:%d|nw:%d|space:%s|version:%s",
		sigNRefs(s.NumRefs), sigCase(c.Lowercase), sigYesNo(!c.EpsSmoothing), c.CharOrder,
		c.WordOrder, sigYesNo(c.Whitespace), Version)
}
