package sacrebleu

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestChrFReadme checks the README example (https://github.com/mjpost/sacrebleu,
// README.md, "Using SacreBLEU from Python": Out[6] chrF2 = 59.73) and the signature of
// README.md "Using multiple metrics".
func TestChrFReadme(t *testing.T) {
	s, err := CorpusChrF(sacreReadmeHyps, sacreReadmeRefs)
	require.NoError(t, err)
	assert.Equal(t, "chrF2 = 59.73", s.String())
	assert.Equal(t, "nrefs:2|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.0.0", s.Signature())
	assert.Len(t, s.Orders, 6)

	pp, err := ChrF{WordOrder: 2}.Corpus(sacreReadmeHyps, sacreReadmeRefs)
	require.NoError(t, err)
	assert.Equal(t, "chrF2++", pp.Name())
	assert.Equal(t, "nrefs:2|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.0.0", pp.Signature())
	assert.Len(t, pp.Orders, 8)
}

// TestChrFPublished holds every published chrF value of sacreBLEU's test/test_chrf.py
// (EPSILON = 1e-4), called there as corpus_chrf(hyps, [refs], ...) and
// sentence_chrf(hyp, refs, ...).
func TestChrFPublished(t *testing.T) {
	const (
		riskHyp = "risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists ."
		riskRef = "risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists ."
		obamaRf = "Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."
	)
	eps3 := ChrF{Beta: 3, EpsSmoothing: true} // test_chrf: char_order=6, word_order=0, beta=3, eps_smoothing=True
	eff3 := ChrF{Beta: 3}                     // test_chrf_eff_order: eps_smoothing=False
	ws3 := ChrF{Beta: 3, Whitespace: true}    // test_chrf_keep_whitespace: remove_whitespace=False
	sent := ChrF{EpsSmoothing: true}          // test_chrf_sentence_level: sentence_chrf(..., eps_smoothing=True)
	cases := []struct {
		source     string
		chrf       ChrF
		hyps, refs []string // one reference stream
		want       float64
	}{
		{"test_cases", eps3, []string{"abcdefg"}, []string{"hijklmnop"}, 0},
		{"test_cases", eps3, []string{"a"}, []string{"b"}, 0},
		{"test_cases", eps3, []string{""}, []string{"b"}, 0},
		{"test_cases", eps3, []string{""}, []string{"ref"}, 0},
		{"test_cases", eps3, []string{""}, []string{"reference"}, 0},
		{"test_cases", eps3, []string{"aa"}, []string{"ab"}, 8.3333},
		{"test_cases", eps3, []string{"a", "b"}, []string{"a", "c"}, 8.3333},
		{"test_cases", eps3, []string{"a"}, []string{"a"}, 16.6667},
		{"test_cases", eps3, []string{"a b c"}, []string{"a b c"}, 50},
		{"test_cases", eps3, []string{"a b c"}, []string{"abc"}, 50},
		{"test_cases", eps3, []string{" " + riskHyp}, []string{riskRef}, 63.361730},
		{"test_cases", eps3, []string{" Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. "},
			[]string{obamaRf}, 64.1302698},
		{"test_cases", eps3, []string{"Niemand hat die Absicht, eine Mauer zu errichten"},
			[]string{"Niemand hat die Absicht, eine Mauer zu errichten"}, 100},
		{"test_cases_effective_order", eff3, []string{"a"}, []string{"a"}, 100},
		{"test_cases_effective_order", eff3, []string{""}, []string{"reference"}, 0},
		{"test_cases_effective_order", eff3, []string{"a b c"}, []string{"a b c"}, 100},
		{"test_cases_effective_order", eff3, []string{"a b c"}, []string{"abc"}, 100},
		{"test_cases_effective_order", eff3, []string{""}, []string{"c"}, 0},
		{"test_cases_effective_order", eff3, []string{"a", "b"}, []string{"a", "c"}, 50},
		{"test_cases_effective_order", eff3, []string{"aa"}, []string{"ab"}, 25},
		{"test_cases_keep_whitespace", ws3, []string{"Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich."},
			[]string{obamaRf}, 67.3481606},
		{"test_cases_keep_whitespace", ws3, []string{riskHyp}, []string{riskRef}, 65.2414427},
		{"test_sentence_level_chrf", sent, []string{"Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře."},
			[]string{"Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře."}, 39.14078509},
		{"test_sentence_level_chrf", sent, []string{"Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři."},
			[]string{"A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři."}, 31.22557079},
		{"test_sentence_level_chrf", sent, []string{"Lapali po dechu, jejich životy skončily dřív, než skutečně začaly."},
			[]string{"Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli."}, 57.15704367},
	}
	for _, c := range cases {
		s, err := c.chrf.Corpus(c.hyps, [][]string{c.refs})
		require.NoError(t, err, c.source)
		assert.InDelta(t, c.want, s.Score, 1e-4, "test_chrf.py %s: %+v.Corpus(%q, %q) = %v, want %v",
			c.source, c.chrf, c.hyps, c.refs, s.Score, c.want)
	}
}

// TestSentenceChrF checks that SentenceChrF is the default chrF of a one-sentence
// corpus, and that a reference without n-grams of some order hides the hypothesis'
// n-grams of that order (CHRF._get_match_statistics).
func TestSentenceChrF(t *testing.T) {
	s, err := SentenceChrF("abc", []string{"ab"})
	require.NoError(t, err)
	assert.Equal(t, []ChrFCounts{{3, 2, 2}, {2, 1, 1}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}}, s.Orders)
	// Effective order 2: precision (2/3 + 1/2)/2, recall 1; F2 = 5PR/(4P+R).
	p, r := (2.0/3+1.0/2)/2, 1.0
	assert.InDelta(t, 100*5*p*r/(4*p+r), s.Score, 1e-12)

	// The best of several references is taken per sentence, by F-score.
	best, err := SentenceChrF("the cat sat", []string{"a dog ran", "the cat sat", "the cat"})
	require.NoError(t, err)
	assert.Equal(t, 100.0, best.Score)
}

// TestChrFGolden compares every chrF variant with the values of gen_golden.py on 60
// generated corpora (≈300 sentence pairs), and sentence chrF on each pair.
func TestChrFGolden(t *testing.T) {
	variants := map[string]ChrF{
		"default":       {},
		"chrf++":        {WordOrder: 2},
		"whitespace":    {Whitespace: true},
		"eps":           {EpsSmoothing: true},
		"lowercase":     {Lowercase: true},
		"beta_1":        {Beta: 1},
		"beta_3":        {Beta: 3},
		"char_3_word_1": {CharOrder: 3, WordOrder: 1},
	}
	g := loadMetricsGolden(t)
	require.Len(t, g.Corpora, 60)
	worst := metricDiffs{tol: 1e-9}
	for i, c := range g.Corpora {
		require.Len(t, c.ChrF, len(variants), "corpus %d", i)
		for name, want := range c.ChrF {
			v, ok := variants[name]
			require.True(t, ok, "unknown variant %q", name)
			got, err := v.Corpus(c.Hyps, c.Refs)
			require.NoError(t, err, "corpus %d %s", i, name)
			worst.add(fmt.Sprintf("corpus %d %s", i, name), got.Score, want.Score)
			if want.Stats == nil {
				continue
			}
			var stats []int
			for _, o := range got.Orders {
				stats = append(stats, o.Hyp, o.Ref, o.Match)
			}
			assert.Equal(t, want.Stats, stats, "corpus %d %s statistics", i, name)
			assert.Equal(t, want.NumRefs, got.NumRefs, "corpus %d num_refs", i)
		}
		require.Len(t, c.SentenceChrF, len(c.Hyps))
		for j, h := range c.Hyps {
			refs := make([]string, len(c.Refs))
			for k := range c.Refs {
				refs[k] = c.Refs[k][j]
			}
			got, err := SentenceChrF(h, refs)
			require.NoError(t, err)
			worst.add(fmt.Sprintf("corpus %d sentence %d", i, j), got.Score, c.SentenceChrF[j])
		}
	}
	worst.check(t)
}

// TestChrFErrors checks the argument and configuration errors.
func TestChrFErrors(t *testing.T) {
	for _, c := range []struct {
		chrf ChrF
		hyps []string
		refs [][]string
		want string
	}{
		{ChrF{}, []string{}, [][]string{{}}, "chrf: no hypotheses"},
		{ChrF{}, []string{"a"}, [][]string{}, "chrf: no reference streams"},
		{ChrF{}, []string{"a"}, [][]string{{"a", "b"}}, "chrf: reference stream 0 has 2 segments, want 1 (one per hypothesis)"},
		{ChrF{CharOrder: -1, WordOrder: -1, Beta: -1}, []string{"a"}, [][]string{{"a"}},
			"chrf: char order must be ≥ 0, got -1\nword order must be ≥ 0, got -1\nbeta must be ≥ 0, got -1"},
	} {
		_, err := c.chrf.Corpus(c.hyps, c.refs)
		assert.EqualError(t, err, c.want, "%+v.Corpus(%q, %q)", c.chrf, c.hyps, c.refs)
	}
	_, err := CorpusChrF([]string{"a", "b"}, [][]string{{"a", ""}})
	assert.True(t, errors.Is(err, ErrNoReference), "errors.Is(%v, ErrNoReference)", err)
}

// BenchmarkMetrics measures corpus BLEU and chrF on the README corpus repeated 100
// times (300 sentence pairs, two references each).
func BenchmarkMetrics(b *testing.B) {
	var hyps []string
	refs := make([][]string, 2)
	for range 100 {
		hyps = append(hyps, sacreReadmeHyps...)
		refs[0] = append(refs[0], sacreReadmeRefs[0]...)
		refs[1] = append(refs[1], sacreReadmeRefs[1]...)
	}
	b.Run("bleu", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := CorpusBLEU(hyps, refs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(hyps)*b.N)/b.Elapsed().Seconds(), "sent/s")
	})
	b.Run("chrf", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := CorpusChrF(hyps, refs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(hyps)*b.N)/b.Elapsed().Seconds(), "sent/s")
	})
}
