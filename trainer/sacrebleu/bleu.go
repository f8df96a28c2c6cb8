package sacrebleu

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Version is the sacreBLEU release named in the version field of
// BLEUScore.Signature and ChrFScore.Signature: 2.0.0 introduced the semantics reproduced
// here (scores in 0..100, empty references dropped, chrF effective-order averaging by
// default) and later 2.x releases keep them.
const Version = "2.0.0"

// ErrNoReference reports a hypothesis whose references are all empty strings;
// sacreBLEU raises "Empty or `None` reference sentence found." for the same input.
var ErrNoReference = errors.New("no non-empty reference")

// BLEUTokenizer names the tokenization applied to hypotheses and references before
// BLEU counts word n-grams. The zero value "" means Tokenize13a.
type BLEUTokenizer string

// The tokenizers of sacreBLEU's BLEU that need no external model.
const (
	Tokenize13a  BLEUTokenizer = "13a"  // mteval-v13a.pl rules, sacreBLEU's default
	TokenizeNone BLEUTokenizer = "none" // split on whitespace only
	TokenizeChar BLEUTokenizer = "char" // every non-space character is a token
)

// UnmarshalText accepts "13a", "none" and "char".
func (t *BLEUTokenizer) UnmarshalText(text []byte) error {
	switch v := BLEUTokenizer(text); v {
	case Tokenize13a, TokenizeNone, TokenizeChar:
		*t = v
		return nil
	}
	return fmt.Errorf("unknown BLEU tokenizer %q (allowed: 13a, none, char)", text)
}

// BLEUSmoothing names how BLEU treats an n-gram order without matches. The zero value
// "" means SmoothExp.
type BLEUSmoothing string

// The smoothing methods of sacreBLEU's BLEU.compute_bleu (Chen & Cherry 2014 numbering).
const (
	SmoothExp   BLEUSmoothing = "exp"   // method 3, mteval-v13a.pl: 1/(2^k · total) for the k-th empty order; the default
	SmoothNone  BLEUSmoothing = "none"  // no smoothing: an empty order makes BLEU 0
	SmoothFloor BLEUSmoothing = "floor" // method 1: SmoothValue/total for an empty order (SmoothValue default 0.1)
	SmoothAddK  BLEUSmoothing = "add-k" // method 2: SmoothValue added to matches and totals for n > 1 (default 1)
)

// UnmarshalText accepts "exp", "none", "floor" and "add-k".
func (s *BLEUSmoothing) UnmarshalText(text []byte) error {
	switch v := BLEUSmoothing(text); v {
	case SmoothExp, SmoothNone, SmoothFloor, SmoothAddK:
		*s = v
		return nil
	}
	return fmt.Errorf("unknown BLEU smoothing %q (allowed: exp, none, floor, add-k)", text)
}

// BLEU configures corpus BLEU as sacreBLEU's metrics.BLEU does. The zero value is
// sacreBLEU's default configuration (signature "case:mixed|eff:no|tok:13a|smooth:exp"):
// case-sensitive, tokenizer 13a, exp smoothing, n-grams up to 4, no effective order.
type BLEU struct {
	// Lowercase lowercases hypotheses and references (Python str.lower) before tokenizing.
	Lowercase bool
	// Tokenize is the tokenizer; "" means Tokenize13a.
	Tokenize BLEUTokenizer
	// Smooth is the smoothing method; "" means SmoothExp.
	Smooth BLEUSmoothing
	// SmoothValue is the floor or k of SmoothFloor and SmoothAddK; 0 means the method's
	// default (0.1 for floor, 1 for add-k). Smoothing by 0 is SmoothNone.
	SmoothValue float64
	// MaxNgramOrder is the largest n-gram order; 0 means 4.
	MaxNgramOrder int
	// EffectiveOrder averages only over the orders up to the last one the hypotheses
	// have n-grams of, as sacreBLEU recommends for sentence-level BLEU.
	EffectiveOrder bool
}

// BLEUScore is a BLEU score with its sufficient statistics, the fields of sacreBLEU's
// BLEUScore. Counts, Totals and Precisions have one entry per n-gram order 1..max.
// Counts and Totals are the raw statistics even under SmoothAddK, where sacreBLEU
// reports them with k added for n > 1.
type BLEUScore struct {
	Score      float64   // BLEU in 0..100
	Counts     []int     // clipped n-gram matches per order, summed over the corpus
	Totals     []int     // hypothesis n-grams per order, summed over the corpus
	Precisions []float64 // smoothed precisions in 0..100 (all 0 when nothing matches)
	BP         float64   // brevity penalty
	SysLen     int       // hypothesis tokens
	RefLen     int       // closest reference tokens, summed over hypotheses
	// NumRefs is the number of non-empty references per hypothesis, or -1 when it varies.
	NumRefs int
	// Config is the configuration that produced the score, defaults filled in.
	Config BLEU
}

// CorpusBLEU returns sacreBLEU's default corpus BLEU (BLEU{}.Corpus) of hyps against
// refs, laid out as sacreBLEU's corpus_score takes them: refs[k][i] is the k-th
// reference of hyps[i]. For one reference per hypothesis pass [][]string{refs}.
// An empty string in refs means "no k-th reference for this hypothesis"; see
// BLEU.Corpus for the errors.
func CorpusBLEU(hyps []string, refs [][]string) (BLEUScore, error) {
	return BLEU{}.Corpus(hyps, refs)
}

// SentenceBLEU returns the BLEU of one hypothesis against its references as
// sacrebleu.sentence_bleu computes it by default: exp smoothing with effective order.
func SentenceBLEU(hyp string, refs []string) (BLEUScore, error) {
	return BLEU{EffectiveOrder: true}.Sentence(hyp, refs)
}

// Sentence returns b's BLEU of one hypothesis against its references, that is
// b.Corpus([]string{hyp}, [][]string{{refs[0]}, {refs[1]}, ...}).
func (b BLEU) Sentence(hyp string, refs []string) (BLEUScore, error) {
	streams := make([][]string, len(refs))
	for k, r := range refs {
		streams[k] = []string{r}
	}
	return b.Corpus([]string{hyp}, streams)
}

// Corpus returns the corpus BLEU of hyps against refs (refs[k][i] is the k-th reference
// of hyps[i]): n-gram matches, totals and lengths are summed over all hypotheses and
// turned into one score, as sacreBLEU's BLEU.corpus_score does. Each hypothesis is
// compared with the element-wise maximum of its references' n-gram counts and with the
// reference length closest to its own (the shorter on a tie). Empty references are
// skipped, so hypotheses may have different numbers of references; an empty hypothesis
// is kept. It fails on an invalid configuration, no hypotheses, no reference streams,
// a stream whose length differs from len(hyps), or a hypothesis without a non-empty
// reference (ErrNoReference).
func (b BLEU) Corpus(hyps []string, refs [][]string) (BLEUScore, error) {
	c, err := b.resolve()
	if err != nil {
		return BLEUScore{}, fmt.Errorf("bleu: %w", err)
	}
	segRefs, numRefs, err := segmentRefs(hyps, refs)
	if err != nil {
		return BLEUScore{}, fmt.Errorf("bleu: %w", err)
	}
	N := c.MaxNgramOrder
	counts, totals := make([]int, N), make([]int, N)
	sysLen, refLen := 0, 0
	for i, hyp := range hyps {
		// BLEU._extract_reference_info: each n-gram's count is its largest count in any
		// one reference; _get_closest_ref_len: the reference length nearest the
		// hypothesis length, the shorter one on a tie.
		htoks := c.tokens(hyp)
		var refMax []map[string]int
		closest, closestDiff := -1, -1
		for _, ref := range segRefs[i] {
			rtoks := c.tokens(ref)
			rc := wordNgramCounts(rtoks, N)
			if refMax == nil {
				refMax = rc
			} else {
				for n, m := range rc {
					for ng, cnt := range m {
						refMax[n][ng] = max(refMax[n][ng], cnt)
					}
				}
			}
			diff := max(len(htoks)-len(rtoks), len(rtoks)-len(htoks))
			if closestDiff == -1 || diff < closestDiff {
				closestDiff, closest = diff, len(rtoks)
			} else if diff == closestDiff && len(rtoks) < closest {
				closest = len(rtoks)
			}
		}
		// BLEU._compute_segment_statistics: clipped matches and totals per order.
		for n, m := range wordNgramCounts(htoks, N) {
			for ng, cnt := range m {
				totals[n] += cnt
				counts[n] += min(cnt, refMax[n][ng])
			}
		}
		sysLen += len(htoks)
		refLen += closest
	}
	s := c.score(counts, totals, sysLen, refLen)
	s.NumRefs = numRefs
	return s, nil
}

// resolve returns b with its defaults filled in, or the joined configuration problems.
func (b BLEU) resolve() (BLEU, error) {
	var errs []error
	if b.Tokenize == "" {
		b.Tokenize = Tokenize13a
	}
	if err := new(BLEUTokenizer).UnmarshalText([]byte(b.Tokenize)); err != nil {
		errs = append(errs, err)
	}
	if b.Smooth == "" {
		b.Smooth = SmoothExp
	}
	if err := new(BLEUSmoothing).UnmarshalText([]byte(b.Smooth)); err != nil {
		errs = append(errs, err)
	}
	if b.SmoothValue == 0 {
		switch b.Smooth {
		case SmoothFloor:
			b.SmoothValue = 0.1
		case SmoothAddK:
			b.SmoothValue = 1
		}
	}
	if b.SmoothValue < 0 || math.IsNaN(b.SmoothValue) || math.IsInf(b.SmoothValue, 0) {
		errs = append(errs, fmt.Errorf("smooth value must be finite and ≥ 0, got %v", b.SmoothValue))
	}
	if b.MaxNgramOrder == 0 {
		b.MaxNgramOrder = 4
	}
	if b.MaxNgramOrder < 0 {
		errs = append(errs, fmt.Errorf("max n-gram order must be ≥ 0, got %d", b.MaxNgramOrder))
	}
	return b, errors.Join(errs...)
}

// tokens lowercases (optionally), right-strips and tokenizes one segment, as
// BLEU._preprocess_segment does, and splits it into words.
func (b BLEU) tokens(seg string) []string {
	if b.Lowercase {
		seg = pyLower(seg)
	}
	seg = strings.TrimRightFunc(seg, isPySpace)
	switch b.Tokenize {
	case TokenizeNone:
	case TokenizeChar:
		// TokenizerChar joins every character with spaces; splitting that on whitespace
		// leaves the non-space characters.
		var toks []string
		for i, r := range seg {
			if !isPySpace(r) {
				_, w := utf8.DecodeRuneInString(seg[i:])
				toks = append(toks, seg[i:i+w])
			}
		}
		return toks
	default:
		seg = Tokenize13aString(seg)
	}
	return strings.FieldsFunc(seg, isPySpace)
}

// score is BLEU.compute_bleu: brevity penalty, smoothed precisions and their geometric
// mean, from corpus totals. Floating-point operations follow the Python expression order.
func (b BLEU) score(counts, totals []int, sysLen, refLen int) BLEUScore {
	N := b.MaxNgramOrder
	s := BLEUScore{Counts: counts, Totals: totals, Precisions: make([]float64, N),
		SysLen: sysLen, RefLen: refLen, Config: b, BP: 1}
	if sysLen < refLen {
		s.BP = 0
		if sysLen > 0 {
			s.BP = math.Exp(1 - float64(refLen)/float64(sysLen))
		}
	}
	anyMatch := false
	for _, c := range counts {
		anyMatch = anyMatch || c != 0
	}
	if !anyMatch { // sacreBLEU #141: no matches at all is 0 whatever the smoothing
		return s
	}
	smoothMteval := 1.0
	effOrder := N
	for n := 1; n <= N; n++ {
		correct, total := float64(counts[n-1]), float64(totals[n-1])
		if b.Smooth == SmoothAddK && n > 1 {
			correct += b.SmoothValue
			total += b.SmoothValue
		}
		if total == 0 {
			break
		}
		if b.EffectiveOrder {
			effOrder = n
		}
		switch {
		case correct != 0:
			s.Precisions[n-1] = 100 * correct / total
		case b.Smooth == SmoothExp:
			smoothMteval *= 2
			s.Precisions[n-1] = 100 / (smoothMteval * total)
		case b.Smooth == SmoothFloor:
			s.Precisions[n-1] = 100 * b.SmoothValue / total
		}
	}
	// utils.my_log floors log(0) at -9999999999, which makes the score exactly 0.
	sum := 0.0
	for _, p := range s.Precisions[:effOrder] {
		if p == 0 {
			sum += -9999999999
		} else {
			sum += math.Log(p)
		}
	}
	s.Score = s.BP * math.Exp(sum/float64(effOrder))
	return s
}

// Ratio is SysLen/RefLen, 0 when RefLen is 0.
func (s BLEUScore) Ratio() float64 {
	if s.RefLen == 0 {
		return 0
	}
	return float64(s.SysLen) / float64(s.RefLen)
}

// String formats s as sacreBLEU's BLEUScore repr, e.g.
// "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)".
func (s BLEUScore) String() string {
	prec := make([]string, len(s.Precisions))
	for i, p := range s.Precisions {
		prec[i] = fmt.Sprintf("%.1f", p)
	}
	return fmt.Sprintf("BLEU = %.2f %s (BP = %.3f ratio = %.3f hyp_len = %d ref_len = %d)",
		s.Score, strings.Join(prec, "/"), s.BP, s.Ratio(), s.SysLen, s.RefLen)
}

// Signature is sacreBLEU's BLEU signature of the configuration behind s, e.g.
// "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.0.0"; the version is
// Version.
func (s BLEUScore) Signature() string {
	c := s.Config
	smooth := string(c.Smooth)
	if c.Smooth == SmoothFloor || c.Smooth == SmoothAddK {
		smooth += fmt.Sprintf("[%.2f]", c.SmoothValue)
	}
	return fmt.Sprintf("nrefs:%s|case:%s|eff:%s|tok:%s|smooth:%s|version:%s",
		sigNRefs(s.NumRefs), sigCase(c.Lowercase), sigYesNo(c.EffectiveOrder), c.Tokenize, smooth,
		Version)
}

// Tokenize13aString tokenizes one line as sacreBLEU's Tokenizer13a (mteval-v13a.pl)
// does and returns the tokens joined by single spaces: "<skipped>" and "-\n" are
// removed, newlines become spaces, &quot; &amp; &lt; &gt; are unescaped in that order,
// ASCII punctuation other than ' , - . is split off, '.' and ',' are split off unless
// between digits, and '-' is split off after a digit.
func Tokenize13aString(line string) string {
	// language-independent part (tokenizer_13a.py)
	line = strings.ReplaceAll(line, "<skipped>", "")
	line = strings.ReplaceAll(line, "-\n", "")
	line = strings.ReplaceAll(line, "\n", " ")
	if strings.Contains(line, "&") {
		line = strings.ReplaceAll(line, "&quot;", `"`)
		line = strings.ReplaceAll(line, "&amp;", "&")
		line = strings.ReplaceAll(line, "&lt;", "<")
		line = strings.ReplaceAll(line, "&gt;", ">")
	}
	line = " " + line + " "
	// TokenizerRegexp: the four re.sub passes, each a left-to-right scan for
	// non-overlapping matches like re.sub's.
	// ([\{-\~\[-\` -\&\(-\+\:-\@\/]) -> " \1 "
	var sb strings.Builder
	for i := 0; i < len(line); i++ {
		if c := line[i]; isPunct13a(c) {
			sb.WriteByte(' ')
			sb.WriteByte(c)
			sb.WriteByte(' ')
		} else {
			sb.WriteByte(c)
		}
	}
	line = sb.String()
	// ([^0-9])([\.,]) -> "\1 \2 "
	line = subPairs(line, func(a, b rune) bool { return !isASCIIDigit(a) && (b == '.' || b == ',') },
		func(sb *strings.Builder, a, b string) { sb.WriteString(a + " " + b + " ") })
	// ([\.,])([^0-9]) -> " \1 \2"
	line = subPairs(line, func(a, b rune) bool { return (a == '.' || a == ',') && !isASCIIDigit(b) },
		func(sb *strings.Builder, a, b string) { sb.WriteString(" " + a + " " + b) })
	// ([0-9])(-) -> "\1 \2 "
	line = subPairs(line, func(a, b rune) bool { return isASCIIDigit(a) && b == '-' },
		func(sb *strings.Builder, a, b string) { sb.WriteString(a + " " + b + " ") })
	// ' '.join(line.split())
	return strings.Join(strings.FieldsFunc(line, isPySpace), " ")
}

// isPunct13a reports whether c is in the class [\{-\~\[-\` -\&\(-\+\:-\@\/]: ASCII
// space and punctuation except ' , - and '.'. Only ASCII bytes can match, so the scan
// can go byte by byte without splitting a UTF-8 sequence.
func isPunct13a(c byte) bool {
	return c >= '{' && c <= '~' || c >= '[' && c <= '`' || c >= ' ' && c <= '&' ||
		c >= '(' && c <= '+' || c >= ':' && c <= '@' || c == '/'
}

// isASCIIDigit is the class [0-9] of Python's re: ASCII digits only.
func isASCIIDigit(r rune) bool { return r >= '0' && r <= '9' }

// subPairs is re.sub for a pattern of two one-character groups: scanning s left to
// right by characters, where match(a, b) holds for the characters at i and i+1 it
// writes repl(a, b) and resumes after b, otherwise it copies the character at i.
func subPairs(s string, match func(a, b rune) bool, repl func(sb *strings.Builder, a, b string)) string {
	var sb strings.Builder
	sb.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		a, wa := utf8.DecodeRuneInString(s[i:])
		if i+wa < len(s) {
			b, wb := utf8.DecodeRuneInString(s[i+wa:])
			if match(a, b) {
				repl(&sb, s[i:i+wa], s[i+wa:i+wa+wb])
				i += wa + wb
				continue
			}
		}
		sb.WriteString(s[i : i+wa])
		i += wa
	}
	return sb.String()
}

// wordNgramCounts counts the n-grams of toks for n = 1..N (helpers.extract_all_word_ngrams):
// element n-1 maps an n-gram, its tokens joined by spaces, to its count. Tokens hold no
// whitespace, so the joined key is as unique as Python's tuple.
func wordNgramCounts(toks []string, N int) []map[string]int {
	out := make([]map[string]int, N)
	for n := 1; n <= N; n++ {
		m := make(map[string]int, max(len(toks)-n+1, 0))
		for i := 0; i+n <= len(toks); i++ {
			m[strings.Join(toks[i:i+n], " ")]++
		}
		out[n-1] = m
	}
	return out
}

// segmentRefs turns sacreBLEU's reference streams (refs[k][i]) into the non-empty
// references of each hypothesis, as Metric._cache_references does, and returns the
// number of references per hypothesis, -1 when it varies.
func segmentRefs(hyps []string, refs [][]string) ([][]string, int, error) {
	if len(hyps) == 0 {
		return nil, 0, errors.New("no hypotheses")
	}
	if len(refs) == 0 {
		return nil, 0, errors.New("no reference streams")
	}
	for k, stream := range refs {
		if len(stream) != len(hyps) {
			return nil, 0, fmt.Errorf("reference stream %d has %d segments, want %d (one per hypothesis)",
				k, len(stream), len(hyps))
		}
	}
	seg := make([][]string, len(hyps))
	numRefs := 0
	for i := range hyps {
		for _, stream := range refs {
			if stream[i] != "" {
				seg[i] = append(seg[i], stream[i])
			}
		}
		if len(seg[i]) == 0 {
			return nil, 0, fmt.Errorf("hypothesis %d: %w", i, ErrNoReference)
		}
		switch {
		case i == 0:
			numRefs = len(seg[i])
		case numRefs != len(seg[i]):
			numRefs = -1
		}
	}
	return seg, numRefs, nil
}

// isPySpace reports whether Python's str.isspace() holds for r, which is what
// str.split() and str.strip() use: Go's unicode.IsSpace plus the separators U+001C..U+001F.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f
}

// pyLower is Python's str.lower(): Unicode lowercase mapping including the two
// language-independent special cases, U+0130 → "i\u0307" and final sigma (Σ → ς at
// the end of a word, the Final_Sigma context of Unicode's SpecialCasing.txt).
func pyLower(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r == 0x130 || r == 0x3a3 }) {
		return strings.ToLower(s)
	}
	rs := []rune(s)
	var sb strings.Builder
	for i, r := range rs {
		switch r {
		case 0x130:
			sb.WriteString("i\u0307")
		case 0x3a3:
			if finalSigma(rs, i) {
				sb.WriteRune('ς')
			} else {
				sb.WriteRune('σ')
			}
		default:
			sb.WriteRune(unicode.ToLower(r))
		}
	}
	return sb.String()
}

// finalSigma is CPython's handle_capital_sigma: rs[i] is final when a cased letter
// precedes it and none follows it, skipping case-ignorable characters both ways.
func finalSigma(rs []rune, i int) bool {
	j := i - 1
	for j >= 0 && isCaseIgnorable(rs[j]) {
		j--
	}
	if j < 0 || !isCased(rs[j]) {
		return false
	}
	j = i + 1
	for j < len(rs) && isCaseIgnorable(rs[j]) {
		j++
	}
	return j == len(rs) || !isCased(rs[j])
}

// isCased is Unicode's Cased property: Lowercase, Uppercase or Lt.
func isCased(r rune) bool {
	return unicode.IsLower(r) || unicode.IsUpper(r) || unicode.IsTitle(r) ||
		unicode.Is(unicode.Other_Lowercase, r) || unicode.Is(unicode.Other_Uppercase, r)
}

// isCaseIgnorable is Unicode's Case_Ignorable property: categories Mn, Me, Cf, Lm, Sk
// and the Word_Break classes MidLetter, MidNumLet and Single_Quote.
func isCaseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', 0xb7, 0x387, 0x55f, 0x5f4, 0x2018, 0x2019, 0x2024, 0x2027,
		0xfe13, 0xfe52, 0xfe55, 0xff07, 0xff0e, 0xff1a:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}

func sigNRefs(n int) string {
	if n < 0 {
		return "var"
	}
	return fmt.Sprint(n)
}

func sigCase(lower bool) string {
	if lower {
		return "lc"
	}
	return "mixed"
}

func sigYesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
