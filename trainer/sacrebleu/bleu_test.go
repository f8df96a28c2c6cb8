package sacrebleu

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README example of sacreBLEU (https://github.com/mjpost/sacrebleu, README.md,
// "Using SacreBLEU from Python"), also _hyps/_refs of test/test_bleu.py.
var (
	sacreReadmeHyps = []string{"The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."}
	sacreReadmeRefs = [][]string{
		{"The dog bit the man.", "It was not unexpected.", "The man bit him first."},
		{"The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."},
	}
)

// TestBLEUReadme checks the README example in full: score, components, repr, signature.
func TestBLEUReadme(t *testing.T) {
	s, err := CorpusBLEU(sacreReadmeHyps, sacreReadmeRefs)
	require.NoError(t, err)
	// test/test_bleu.py test_corpus_bleu: 48.530827 within EPSILON = 1e-8.
	assert.InDelta(t, 48.530827, s.Score, 1e-6)
	// README.md: Out[3] and Out[4].
	assert.Equal(t, "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)", s.String())
	assert.Equal(t, "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.0.0", s.Signature())
	assert.Equal(t, 17, s.SysLen)
	assert.Equal(t, 18, s.RefLen)
	assert.Len(t, s.Counts, 4)

	// README.md "Variable Number of References": the first reference of the first
	// hypothesis replaced by ''.
	varRefs := [][]string{{"", sacreReadmeRefs[0][1], sacreReadmeRefs[0][2]}, sacreReadmeRefs[1]}
	s, err = CorpusBLEU(sacreReadmeHyps, varRefs)
	require.NoError(t, err)
	assert.Equal(t, "BLEU = 29.44 82.4/42.9/27.3/12.5 (BP = 0.889 ratio = 0.895 hyp_len = 17 ref_len = 19)", s.String())
	assert.Equal(t, "nrefs:var|case:mixed|eff:no|tok:13a|smooth:exp|version:2.0.0", s.Signature())
}

// TestBLEUPublished holds every published BLEU value of sacreBLEU's tests that this
// implementation covers (tokenizer intl is not implemented), to the published precision.
func TestBLEUPublished(t *testing.T) {
	// compat.raw_corpus_bleu: no tokenization, floor smoothing, effective order.
	raw := func(floor float64) BLEU {
		if floor == 0 {
			// sacreBLEU's floor 0.0 smooths nothing; here SmoothValue 0 means the
			// default 0.1, and no smoothing is spelled SmoothNone.
			return BLEU{Tokenize: TokenizeNone, Smooth: SmoothNone, EffectiveOrder: true}
		}
		return BLEU{Tokenize: TokenizeNone, Smooth: SmoothFloor, SmoothValue: floor, EffectiveOrder: true}
	}
	const (
		rbSys = "Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;"
		rbRef = "producţia de zahăr brut se exprimă în zahăr alb;"
	)
	sent := func(b BLEU) BLEU { b.EffectiveOrder = true; return b }
	cases := []struct {
		source string
		bleu   BLEU
		hyps   []string
		refs   [][]string
		want   float64 // BLEU in 0..100
		tol    float64
	}{
		// test/test_bleu.py test_corpus_bleu_cases (EPSILON = 1e-8; the values are given to
		// 6 or 7 decimals).
		{"test_bleu.py default", BLEU{}, sacreReadmeHyps, sacreReadmeRefs, 48.530827, 1e-6},
		{"test_bleu.py empty hypotheses are kept", BLEU{}, []string{"", "", ""}, sacreReadmeRefs, 0, 1e-8},
		{"test_bleu.py tokenize none", BLEU{Tokenize: TokenizeNone}, sacreReadmeHyps, sacreReadmeRefs, 49.1919566, 1e-7},
		{"test_bleu.py tokenize 13a", BLEU{Tokenize: Tokenize13a}, sacreReadmeHyps, sacreReadmeRefs, 48.530827, 1e-6},
		{"test_bleu.py smooth none", BLEU{Smooth: SmoothNone}, sacreReadmeHyps, sacreReadmeRefs, 48.530827, 1e-6},
		// test/test_bleu.py test_raw_bleu_cases and test_case_effective_order
		// (raw_corpus_bleu(..., .01).score / 100, EPSILON = 1e-8).
		{"test_bleu.py raw no match (#141)", raw(.01), []string{"this is a test", "another test"},
			[][]string{{"ref1", "ref2"}}, 0, 1e-6},
		{"test_bleu.py raw identical", raw(.01), []string{"this is a test"}, [][]string{{"this is a test"}}, 100, 1e-6},
		{"test_bleu.py raw fest", raw(.01), []string{"this is a fest"}, [][]string{{"this is a test"}}, 22.3606797749979, 1e-6},
		{"test_bleu.py effective order 1", raw(.01), []string{"test"}, [][]string{{"a test"}}, 36.78794411714425, 1e-6},
		{"test_bleu.py effective order 2", raw(.01), []string{"a test"}, [][]string{{"a test"}}, 100, 1e-6},
		{"test_bleu.py effective order 3", raw(.01), []string{"a little test"}, [][]string{{"a test"}}, 3.218297948685433, 1e-6},
		// test/test_bleu.py test_offset: floor 0.0 gives 0, the default floor 0.1 gives 0.1555722182.
		{"test_bleu.py offset 0", raw(0), []string{"am I am a character sequence"},
			[][]string{{"I am a symbol string sequence a a"}}, 0, 1e-6},
		{"test_bleu.py offset default", BLEU{Tokenize: TokenizeNone, Smooth: SmoothFloor, EffectiveOrder: true},
			[]string{"am I am a character sequence"}, [][]string{{"I am a symbol string sequence a a"}}, 15.55722182, 1e-6},
		// test/test_sentence_bleu.py test_cases (issue #98 example; EPSILON = 1e-3), through
		// BLEU(..., effective_order=True).sentence_score.
		{"test_sentence_bleu.py exp", sent(BLEU{}), []string{rbSys}, [][]string{{rbRef}}, 8.493, 1e-3},
		{"test_sentence_bleu.py none", sent(BLEU{Smooth: SmoothNone}), []string{rbSys}, [][]string{{rbRef}}, 0, 1e-3},
		{"test_sentence_bleu.py floor default", sent(BLEU{Smooth: SmoothFloor}), []string{rbSys}, [][]string{{rbRef}}, 4.51688, 1e-3},
		{"test_sentence_bleu.py floor 0.1", sent(BLEU{Smooth: SmoothFloor, SmoothValue: 0.1}), []string{rbSys}, [][]string{{rbRef}}, 4.51688, 1e-3},
		{"test_sentence_bleu.py floor 0.5", sent(BLEU{Smooth: SmoothFloor, SmoothValue: 0.5}), []string{rbSys}, [][]string{{rbRef}}, 10.10, 1e-3},
		{"test_sentence_bleu.py add-k default", sent(BLEU{Smooth: SmoothAddK}), []string{rbSys}, [][]string{{rbRef}}, 14.882, 1e-3},
		{"test_sentence_bleu.py add-k 1", sent(BLEU{Smooth: SmoothAddK, SmoothValue: 1}), []string{rbSys}, [][]string{{rbRef}}, 14.882, 1e-3},
		{"test_sentence_bleu.py add-k 2", sent(BLEU{Smooth: SmoothAddK, SmoothValue: 2}), []string{rbSys}, [][]string{{rbRef}}, 21.389, 1e-3},
		{"test_sentence_bleu.py tok none", sent(BLEU{Tokenize: TokenizeNone}), []string{rbSys}, [][]string{{rbRef}}, 7.347, 1e-3},
		{"test_sentence_bleu.py tok char", sent(BLEU{Tokenize: TokenizeChar}), []string{rbSys}, [][]string{{rbRef}}, 40.8759, 1e-3},
		{"test_sentence_bleu.py tok char lowercase", sent(BLEU{Tokenize: TokenizeChar, Lowercase: true}), []string{rbSys}, [][]string{{rbRef}}, 42.0267, 1e-3},
	}
	// test/test_sentence_bleu.py test_cases_zero_bleu (issue #141): no match is 0 whatever the smoothing.
	for _, sm := range []BLEUSmoothing{SmoothExp, SmoothNone, SmoothFloor, SmoothAddK} {
		cases = append(cases, struct {
			source string
			bleu   BLEU
			hyps   []string
			refs   [][]string
			want   float64
			tol    float64
		}{"test_sentence_bleu.py zero " + string(sm), sent(BLEU{Smooth: sm}), []string{"this is a cat"}, [][]string{{"okay thanks"}}, 0, 1e-3})
	}
	for _, c := range cases {
		s, err := c.bleu.Corpus(c.hyps, c.refs)
		require.NoError(t, err, c.source)
		assert.InDelta(t, c.want, s.Score, c.tol, "%s: %+v.Corpus(%q, %q) = %v, want %v", c.source, c.bleu, c.hyps, c.refs, s.Score, c.want)
	}

	// test/test_bleu.py test_max_ngram_order, compared as "%.2f" strings.
	for order, want := range map[int]string{1: "77.65", 2: "60.50", 3: "53.93", 4: "48.53", 5: "46.14", 6: "43.28"} {
		s, err := BLEU{MaxNgramOrder: order}.Corpus(sacreReadmeHyps, sacreReadmeRefs)
		require.NoError(t, err)
		assert.Equal(t, want, fmt.Sprintf("%.2f", s.Score), "max n-gram order %d", order)
	}

	// test/test_bleu.py test_case_statistics: counts and totals.
	s, err := raw(.01).Corpus([]string{"am I am a character sequence"}, [][]string{{"I am a symbol string sequence a a"}})
	require.NoError(t, err)
	assert.Equal(t, []int{4, 2, 1, 0}, s.Counts)
	assert.Equal(t, []int{6, 5, 4, 3}, s.Totals)

	// test/test_bleu.py test_case_scoring: BLEU.compute_bleu(correct, total, 11, 11), whose
	// smooth_method defaults to 'none'.
	b, err := BLEU{Smooth: SmoothNone}.resolve()
	require.NoError(t, err)
	assert.InDelta(t, 0.8375922397, b.score([]int{9, 7, 5, 3}, []int{10, 8, 6, 4}, 11, 11).Score/100, 1e-8)

	// test/test_bleu.py test_degenerate_statistics: floor smoothing (0, 0.1, 0.01) of
	// statistics without matches is 0.
	for _, d := range []struct {
		totals         []int
		sysLen, refLen int
		floor          float64
	}{
		{[]int{4, 4, 2, 1}, 0, 1, 0}, {[]int{10, 11, 12, 0}, 14, 10, 0}, {[]int{0, 0, 0, 0}, 0, 0, 0},
		{[]int{0, 0, 0, 0}, 0, 0, 0.1}, {[]int{0, 0, 0, 0}, 1, 5, 0.01},
	} {
		b, err := BLEU{Smooth: SmoothFloor, SmoothValue: d.floor}.resolve()
		require.NoError(t, err)
		assert.Equal(t, 0.0, b.score([]int{0, 0, 0, 0}, d.totals, d.sysLen, d.refLen).Score, "%+v", d)
	}
	// ... and Statistics([6, 5, 4, 0], [6, 5, 4, 3]), 6, 6 with floor 0.0, i.e. no smoothing.
	b, err = BLEU{Smooth: SmoothNone}.resolve()
	require.NoError(t, err)
	assert.Equal(t, 0.0, b.score([]int{6, 5, 4, 0}, []int{6, 5, 4, 3}, 6, 6).Score)
}

// TestSentenceBLEU checks that SentenceBLEU is sacrebleu.sentence_bleu's default: exp
// smoothing with effective order (test/test_sentence_bleu.py, first case: 8.493).
func TestSentenceBLEU(t *testing.T) {
	s, err := SentenceBLEU("Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;",
		[]string{"producţia de zahăr brut se exprimă în zahăr alb;"})
	require.NoError(t, err)
	assert.InDelta(t, 8.493, s.Score, 1e-3)
	assert.Equal(t, "nrefs:1|case:mixed|eff:yes|tok:13a|smooth:exp|version:2.0.0", s.Signature())

	// Two references given per sentence equal the corpus of one sentence with two streams.
	multi, err := SentenceBLEU(sacreReadmeHyps[2], []string{sacreReadmeRefs[0][2], sacreReadmeRefs[1][2]})
	require.NoError(t, err)
	corpus, err := BLEU{EffectiveOrder: true}.Corpus(sacreReadmeHyps[2:], [][]string{sacreReadmeRefs[0][2:], sacreReadmeRefs[1][2:]})
	require.NoError(t, err)
	assert.Equal(t, corpus, multi)
}

// TestTokenize13a checks hand-made cases, one from a third-party test against
// sacreBLEU, and the generated golden cases of testdata/metrics/gen_golden.py, which
// runs sacreBLEU's own regexes through Python's re.
func TestTokenize13a(t *testing.T) {
	for in, want := range map[string]string{
		// sbintuitions/flexeval tests/core/metric/tokenizer/test_sacrebleu_tokenizer.py
		"I'm a student.": "I'm a student .",
		// Readings of tokenizer_13a.py / tokenizer_re.py.
		"":                        "",
		"3.14, 1,000.50 and 2-3.": "3.14 , 1,000.50 and 2 - 3 .",
		"a.b,c":                   "a . b , c",
		"&quot;x&quot; &amp;lt;":  `" x " <`,
		"co-\noperate <skipped>!": "cooperate !",
		"(hi) [x] {y} $5 50%":     "( hi ) [ x ] { y } $ 5 50 %",
		"é. .é.":                  "é . . é .",
	} {
		assert.Equal(t, want, Tokenize13aString(in), "Tokenize13aString(%q)", in)
	}
	g := loadMetricsGolden(t)
	require.NotEmpty(t, g.Tokenize13a)
	for _, c := range g.Tokenize13a {
		assert.Equal(t, c[1], Tokenize13aString(c[0]), "Tokenize13aString(%q)", c[0])
	}
}

// TestPyText pins the Python string semantics the metrics rely on: str.isspace and
// str.lower (including final sigma), against CPython's output.
func TestPyText(t *testing.T) {
	// [hex(c) for c in range(0x110000) if chr(c).isspace()] on CPython 3.11 (Unicode 14).
	want := []rune{0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680,
		0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
		0x2028, 0x2029, 0x202f, 0x205f, 0x3000}
	var got []rune
	for r := rune(0); r <= 0x10ffff; r++ {
		if isPySpace(r) {
			got = append(got, r)
		}
	}
	assert.Equal(t, want, got)

	g := loadMetricsGolden(t)
	require.NotEmpty(t, g.Lower)
	for _, c := range g.Lower {
		assert.Equal(t, c[1], pyLower(c[0]), "pyLower(%q)", c[0])
	}
}

// TestBLEUGolden compares every BLEU variant with the values of gen_golden.py on 60
// generated corpora (≈300 sentence pairs), and sentence BLEU on each pair.
func TestBLEUGolden(t *testing.T) {
	variants := map[string]BLEU{
		"default":          {},
		"lowercase":        {Lowercase: true},
		"tok_none":         {Tokenize: TokenizeNone},
		"tok_char":         {Tokenize: TokenizeChar},
		"smooth_none":      {Smooth: SmoothNone},
		"smooth_floor":     {Smooth: SmoothFloor},
		"smooth_floor_0.5": {Smooth: SmoothFloor, SmoothValue: 0.5},
		"smooth_add_k":     {Smooth: SmoothAddK},
		"smooth_add_k_2":   {Smooth: SmoothAddK, SmoothValue: 2},
		"effective_order":  {EffectiveOrder: true},
		"order_2":          {MaxNgramOrder: 2},
		"order_6":          {MaxNgramOrder: 6},
	}
	g := loadMetricsGolden(t)
	require.Len(t, g.Corpora, 60)
	worst := metricDiffs{tol: 1e-9}
	for i, c := range g.Corpora {
		require.Len(t, c.BLEU, len(variants), "corpus %d", i)
		for name, want := range c.BLEU {
			b, ok := variants[name]
			require.True(t, ok, "unknown variant %q", name)
			got, err := b.Corpus(c.Hyps, c.Refs)
			require.NoError(t, err, "corpus %d %s", i, name)
			worst.add(fmt.Sprintf("corpus %d %s", i, name), got.Score, want.Score)
			if name != "default" {
				continue
			}
			assert.Equal(t, want.Counts, got.Counts, "corpus %d counts", i)
			assert.Equal(t, want.Totals, got.Totals, "corpus %d totals", i)
			assert.Equal(t, want.SysLen, got.SysLen, "corpus %d sys_len", i)
			assert.Equal(t, want.RefLen, got.RefLen, "corpus %d ref_len", i)
			assert.Equal(t, want.NumRefs, got.NumRefs, "corpus %d num_refs", i)
			worst.add(fmt.Sprintf("corpus %d bp", i), got.BP, want.BP)
			for n := range want.Precisions {
				worst.add(fmt.Sprintf("corpus %d precision %d", i, n+1), got.Precisions[n], want.Precisions[n])
			}
		}
		require.Len(t, c.SentenceBLEU, len(c.Hyps))
		for j, h := range c.Hyps {
			refs := make([]string, len(c.Refs))
			for k := range c.Refs {
				refs[k] = c.Refs[k][j]
			}
			got, err := SentenceBLEU(h, refs)
			require.NoError(t, err)
			worst.add(fmt.Sprintf("corpus %d sentence %d", i, j), got.Score, c.SentenceBLEU[j])
		}
	}
	worst.check(t)
}

// TestBLEUErrors checks the argument and configuration errors.
func TestBLEUErrors(t *testing.T) {
	for _, c := range []struct {
		bleu BLEU
		hyps []string
		refs [][]string
		want string
	}{
		{BLEU{}, nil, [][]string{{}}, "bleu: no hypotheses"},
		{BLEU{}, []string{"a"}, nil, "bleu: no reference streams"},
		{BLEU{}, []string{"a", "b"}, [][]string{{"a", "b"}, {"a"}}, "bleu: reference stream 1 has 1 segments, want 2 (one per hypothesis)"},
		{BLEU{}, []string{"a", "b"}, [][]string{{"a", ""}, {"a", ""}}, "bleu: hypothesis 1: no non-empty reference"},
		{BLEU{Tokenize: "intl", Smooth: "add-one", SmoothValue: -1, MaxNgramOrder: -2}, []string{"a"}, [][]string{{"a"}},
			"bleu: unknown BLEU tokenizer \"intl\" (allowed: 13a, none, char)\n" +
				"unknown BLEU smoothing \"add-one\" (allowed: exp, none, floor, add-k)\n" +
				"smooth value must be finite and ≥ 0, got -1\n" +
				"max n-gram order must be ≥ 0, got -2"},
	} {
		_, err := c.bleu.Corpus(c.hyps, c.refs)
		assert.EqualError(t, err, c.want, "%+v.Corpus(%q, %q)", c.bleu, c.hyps, c.refs)
	}
	_, err := CorpusBLEU([]string{"a"}, [][]string{{""}})
	assert.True(t, errors.Is(err, ErrNoReference), "errors.Is(%v, ErrNoReference)", err)

	var tok BLEUTokenizer
	require.NoError(t, tok.UnmarshalText([]byte("char")))
	assert.Equal(t, TokenizeChar, tok)
	var sm BLEUSmoothing
	require.NoError(t, sm.UnmarshalText([]byte("add-k")))
	assert.Equal(t, SmoothAddK, sm)
	assert.Error(t, sm.UnmarshalText([]byte("")))
}

// TestBLEUSignatureOptions checks the signature's smoothing and case fields.
func TestBLEUSignatureOptions(t *testing.T) {
	s, err := BLEU{Lowercase: true, Smooth: SmoothFloor, Tokenize: TokenizeChar}.Corpus(sacreReadmeHyps, sacreReadmeRefs[:1])
	require.NoError(t, err)
	assert.Equal(t, "nrefs:1|case:lc|eff:no|tok:char|smooth:floor[0.10]|version:2.0.0", s.Signature())
	s, err = BLEU{Smooth: SmoothAddK, SmoothValue: 2}.Corpus(sacreReadmeHyps, sacreReadmeRefs[:1])
	require.NoError(t, err)
	assert.Equal(t, "nrefs:1|case:mixed|eff:no|tok:13a|smooth:add-k[2.00]|version:2.0.0", s.Signature())
}

// metricsGolden is testdata/metrics/golden.json, written by gen_golden.py.
type metricsGolden struct {
	Tokenize13a [][2]string `json:"tokenize_13a"`
	Lower       [][2]string `json:"lower"`
	Corpora     []struct {
		Hyps []string   `json:"hyps"`
		Refs [][]string `json:"refs"`
		BLEU map[string]struct {
			Score      float64   `json:"score"`
			Counts     []int     `json:"counts"`
			Totals     []int     `json:"totals"`
			Precisions []float64 `json:"precisions"`
			BP         float64   `json:"bp"`
			SysLen     int       `json:"sys_len"`
			RefLen     int       `json:"ref_len"`
			NumRefs    int       `json:"num_refs"`
		} `json:"bleu"`
		ChrF map[string]struct {
			Score   float64 `json:"score"`
			Stats   []int   `json:"stats"`
			NumRefs int     `json:"num_refs"`
		} `json:"chrf"`
		SentenceBLEU []float64 `json:"sentence_bleu"`
		SentenceChrF []float64 `json:"sentence_chrf"`
	} `json:"corpora"`
}

func loadMetricsGolden(t *testing.T) metricsGolden {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "metrics", "golden.json"))
	require.NoError(t, err)
	var g metricsGolden
	require.NoError(t, json.Unmarshal(raw, &g))
	return g
}

// metricDiffs records the largest absolute difference over many comparisons and the
// first one over tolerance, so a failure reports two lines instead of hundreds.
type metricDiffs struct {
	tol            float64 // allowed absolute difference
	n              int
	maxDiff        float64
	maxAt          string
	firstBad       string
	badGot, badWnt float64
}

func (d *metricDiffs) add(at string, got, want float64) {
	d.n++
	diff := math.Abs(got - want)
	if math.IsNaN(diff) {
		diff = math.Inf(1)
	}
	if diff > d.maxDiff || d.maxAt == "" {
		d.maxDiff, d.maxAt = diff, at
	}
	if d.firstBad == "" && diff > d.tol {
		d.firstBad, d.badGot, d.badWnt = at, got, want
	}
}

func (d *metricDiffs) check(t *testing.T) {
	t.Helper()
	require.Positive(t, d.n)
	assert.LessOrEqual(t, d.maxDiff, d.tol, "max abs diff %g at %s over %d values; first over %g: %s got %v want %v",
		d.maxDiff, d.maxAt, d.n, d.tol, d.firstBad, d.badGot, d.badWnt)
	t.Logf("%d values, max abs diff %g (%s)", d.n, d.maxDiff, d.maxAt)
}
