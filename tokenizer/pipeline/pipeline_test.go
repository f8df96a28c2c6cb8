package pipeline

import (
	"compress/gzip"
	"encoding/json"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/unicode/norm"
)

// TestPieces checks the GPT-2 scanner alone, where its look-ahead and classes decide.
func TestPieces(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{"hello world", []string{"hello", " world"}},
		{"a  b", []string{"a", " ", " b"}},
		{"a  ", []string{"a", "  "}},
		{"  a", []string{" ", " a"}},
		{"\n\nx", []string{"\n", "\n", "x"}},
		{"x\n\n", []string{"x", "\n\n"}},
		{"\t x", []string{"\t", " x"}},
		{" \t\n", []string{" \t\n"}},
		{"a\u3000\u3000b", []string{"a", "\u3000", "\u3000", "b"}},
		{"don't", []string{"don", "'t"}},
		{"'''s", []string{"'''", "s"}},
		{"it'S", []string{"it", "'", "S"}},
		{"we'll've", []string{"we", "'ll", "'ve"}},
		{"x'l", []string{"x", "'", "l"}},
		{"a1b2 34!?", []string{"a", "1", "b", "2", " 34", "!?"}},
		{" !!", []string{" !!"}},
		{"Ⅻ½٣", []string{"Ⅻ½٣"}},
		{"e\u0301", []string{"e", "\u0301"}},
		{"a\ufeff b", []string{"a", "\ufeff", " b"}},
		{"\x1c \x1c", []string{"\x1c", " \x1c"}},
		{"a\xffb\xfe", []string{"a", "\xff", "b", "\xfe"}},
		{"😀👍 x", []string{"😀👍", " x"}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, scanPieces(scanner{ScanGPT2}, tt.text), "GPT-2 %q", tt.text)
	}
}

// TestLlama3Pieces checks the Llama 3 and Qwen2 scanners where the pattern's alternatives and look-ahead decide;
// each want was checked with Hugging Face tokenizers 0.23.2's pre-tokenizer.
func TestLlama3Pieces(t *testing.T) {
	tests := []struct {
		text        string
		llama, qwen []string
	}{
		{"Hello world", []string{"Hello", " world"}, nil},
		{"I'M 'ſ 'S 'Re 'rE", []string{"I", "'M", " '", "ſ", " '", "S", " '", "Re", " '", "rE"}, nil},
		{"it'ſelf", []string{"it", "'ſ", "elf"}, nil},
		{"a\tb \u00a0c", []string{"a", "\tb", " ", "\u00a0c"}, nil},
		{" \n \n x", []string{" \n \n", " x"}, nil},
		{"  \r\n\t y", []string{"  \r\n", "\t", " y"}, nil},
		{"!!abc !abc", []string{"!!", "abc", " !", "abc"}, nil},
		{"x  \n", []string{"x", "  \n"}, nil},
		{"1234567 a1b", []string{"123", "456", "7", " a", "1", "b"},
			[]string{"1", "2", "3", "4", "5", "6", "7", " a", "1", "b"}},
		{"\u0085a", []string{"\u0085a"}, nil},
		{"a \u2028b", []string{"a", " ", "\u2028b"}, nil},
		{"12345 \n\n  x", []string{"123", "45", " \n\n", " ", " x"},
			[]string{"1", "2", "3", "4", "5", " \n\n", " ", " x"}},
		{"a.\r\n\r\nb", []string{"a", ".\r\n\r\n", "b"}, nil},
		{"\n\nword", []string{"\n\n", "word"}, nil},
		{"x\xffy \xfe", []string{"x", "\xffy", " \xfe"}, nil}, // a byte that is not UTF-8 is "other"
		{"\U000105c0\U000105c1 1\U00010d40", []string{"\U000105c0\U000105c1", " ", "1\U00010d40"},
			[]string{"\U000105c0\U000105c1", " ", "1", "\U00010d40"}}, // Unicode 16.0 letters and digits
	}
	for _, tt := range tests {
		if tt.qwen == nil {
			tt.qwen = tt.llama
		}
		assert.Equal(t, tt.llama, scanPieces(scanner{ScanLlama3}, tt.text), "Llama 3 %q", tt.text)
		assert.Equal(t, tt.qwen, scanPieces(scanner{ScanQwen2}, tt.text), "Qwen2 %q", tt.text)
	}
}

// goldenTexts returns the texts of the GPT-2 golden file (see package tokenizer's tests).
func goldenTexts(t *testing.T) []string {
	f, err := os.Open("../../testdata/tokenizer/golden.jsonl.gz")
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	var texts []string
	for dec := json.NewDecoder(zr); dec.More(); {
		var c struct{ Text string }
		require.NoError(t, dec.Decode(&c))
		texts = append(texts, c.Text)
	}
	require.NotEmpty(t, texts)
	return texts
}

func goClass(r rune) uint8 {
	c, _ := classAt(string(r), 0)
	return c
}

func scanPieces(m matcher, s string) []string {
	var out []string
	for _, sp := range m.find(nil, s) {
		out = append(out, s[sp.start:sp.end])
	}
	return out
}

// randomText returns a string of n pieces drawn from the troublesome ones, from random code points of every plane
// but the ones whose classes Go's tables and Oniguruma's disagree on (onigExtra), and from bytes that are not
// UTF-8.
func randomText(rng *rand.Rand, n int) string {
	pieces := []string{"a", "Z", "é", "e\u0301", "ſ", "\u212a", "'", "'s", "'S", "'ll", "'LL", "'re", "'Ve", "'d",
		"'m", "'t", "'T", " ", "  ", "\t", "\n", "\r\n", "\r", "\n\n", "\u00a0", "\u0085", "\u2028", "\u3000",
		"\u200b", "\ufeff", "\u001c", "\u000b", "\u000c", "0", "12", "345", "6789", "٣", "Ⅻ", "½", "!", "?!", "...",
		"#", "\"", "(", "-", "_", "€", "中文", "한국어", "😀", "👨‍👩‍👧", "Ω", "ß", "İ", "ǅ", "▁", "<", "|>", "x",
		"hello", " world", "\xff", "\xc3", "\xe2\x82"}
	var b strings.Builder
	for range n {
		if rng.IntN(4) > 0 {
			b.WriteString(pieces[rng.IntN(len(pieces))])
			continue
		}
		for {
			r := rune(rng.IntN(0x30000))
			if rng.IntN(8) == 0 {
				r = rune(rng.IntN(0x800))
			}
			if r >= 0xD800 && r < 0xE000 {
				continue
			}
			if onig, _ := onigClassAt(string(r), 0); onig == goClass(r) {
				b.WriteRune(r)
				break
			}
		}
	}
	return b.String()
}

// TestScannersAgreeWithRegexp2 runs the three hand-written scanners and regexp2, the engine of every other Split
// pattern, on the same texts: edge cases, the golden corpus, and random strings. They split alike; the only
// difference left out is the Unicode version (onigExtra).
func TestScannersAgreeWithRegexp2(t *testing.T) {
	texts := []string{"", "'", "'s", "''s", "' s", "'ſ", "'S'", "'LL'", "a'", "a\n", "\n", "\r\n", " ", "  ", "   x",
		" \n", "\n ", " \r\n ", "x \t\n y", "1", "1234", "12345678", " 1", " !", " !\n", "!\r\n\r\nx", "\u00a0a",
		"\u3000\u3000a", "\xff", "\xffa", " \xff", "a\u0301", "\u0301a", "😀a"}
	texts = append(texts, goldenTexts(t)...)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		texts = append(texts, randomText(rng, 1+rng.IntN(12)))
	}
	for _, p := range []struct {
		name    string
		pattern string
		sc      scanner
	}{{"GPT-2", gpt2Pattern, scanner{ScanGPT2}}, {"Llama 3", llama3Pattern, scanner{ScanLlama3}},
		{"Qwen2", qwen2Pattern, scanner{ScanQwen2}}} {
		re, err := newRegex(p.pattern)
		require.NoError(t, err)
		bad := 0
		for _, s := range texts {
			want := re.find(nil, s)
			got := p.sc.find(nil, s)
			if !assert.Equal(t, want, got, "%s: %+q", p.name, s) {
				if bad++; bad > 5 {
					break
				}
			}
		}
	}
}

// TestSplitBehaviors checks splitBy against Hugging Face's tests of Split (pre_tokenizers/split.rs).
func TestSplitBehaviors(t *testing.T) {
	spaces, err := newRegex(`\s+`)
	require.NoError(t, err)
	text := "How are you doing?"
	for _, tt := range []struct {
		behavior int
		invert   bool
		want     []string
	}{
		{removed, false, []string{"How", "are", "you", "doing?"}},
		{isolated, false, []string{"How", " ", "are", " ", "you", " ", "doing?"}},
		{mergedWithPrevious, false, []string{"How ", "are ", "you ", "doing?"}},
		{mergedWithNext, false, []string{"How", " are", " you", " doing?"}},
		{contiguous, false, []string{"How", " ", "are", " ", "you", " ", "doing?"}},
		{removed, true, []string{" ", " ", " "}},
		{mergedWithPrevious, true, []string{"How", " are", " you", " doing?"}},
		{mergedWithNext, true, []string{"How ", "are ", "you ", "doing?"}},
	} {
		var got []string
		for _, p := range splitBy(nil, Piece{text, true}, spaces.find(nil, text), tt.behavior, tt.invert) {
			got = append(got, p.Text)
		}
		assert.Equal(t, tt.want, got, "behavior %d invert %t", tt.behavior, tt.invert)
	}
	// Contiguous joins adjacent matches: Digits(individual_digits=false).
	var got []string
	for _, p := range (digitsPre{}).split(nil, Piece{"Hey 123 friend!", true}) {
		got = append(got, p.Text)
	}
	assert.Equal(t, []string{"Hey ", "123", " friend!"}, got)
	got = nil
	for _, p := range (digitsPre{individual: true}).split(nil, Piece{"Hey 123 friend!", true}) {
		got = append(got, p.Text)
	}
	assert.Equal(t, []string{"Hey ", "1", "2", "3", " friend!"}, got)
}

// TestRegexEmptyMatches checks Oniguruma's find_iter rule: no empty match where the last match ended.
func TestRegexEmptyMatches(t *testing.T) {
	re, err := newRegex(`a*`)
	require.NoError(t, err)
	assert.Equal(t, []span{{0, 1}, {2, 2}}, re.find(nil, "ab"))
	re, err = newRegex(`x*`)
	require.NoError(t, err)
	assert.Equal(t, []span{{0, 0}, {1, 1}, {2, 2}}, re.find(nil, "ab"))
	assert.Equal(t, []span{{0, 0}, {1, 1}, {3, 3}}, literal("").find(nil, "aé"))
	assert.Equal(t, []span{{1, 3}, {3, 5}}, literal("ab").find(nil, "xababa"))
	re, err = newRegex(`é+`)
	require.NoError(t, err)
	assert.Equal(t, []span{{2, 6}}, re.find(nil, "\xffaéé"), "byte offsets, a byte that is not UTF-8 one character")
}

// TestNormalizers checks the normalizers, NFC where Hugging Face's Unicode 9.0 tables and whole-run sorting differ
// from x/text's.
func TestNormalizers(t *testing.T) {
	nfc := unicodeNorm{norm.NFC}
	assert.Equal(t, "é", nfc.Normalize("e\u0301"))
	assert.Equal(t, "abc", nfc.Normalize("abc"))
	// 40 combining marks out of order: sorted whole, with no U+034F, as Hugging Face does, and the first acute
	// composes with the a past the lower classes.
	want := "\u00e1" + strings.Repeat("\u0316", 20) + strings.Repeat("\u0301", 19)
	assert.Equal(t, want, nfc.Normalize("a"+strings.Repeat("\u0301\u0316", 20))) // classes 230 and 220
	assert.Equal(t, "\u00e1"+strings.Repeat("\u0316", 20)+strings.Repeat("\u0301", 19),
		nfc.Normalize("a"+strings.Repeat("\u0316", 20)+strings.Repeat("\u0301", 20)),
		"the first acute composes with a, past the lower classes")
	// U+1DFA (Unicode 14, class 218) is inert in Unicode 9.0: it stays before U+0316 (220)... and the acute
	// does not pass it.
	assert.Equal(t, "a\u1dfa\u0316", nfc.Normalize("a\u1dfa\u0316"))
	assert.Equal(t, "a\u0316\u1dfa", nfc.Normalize("a\u0316\u1dfa"))
	assert.Equal(t, "\xff\u00e9\xff"+strings.Repeat("\u0316", 31)+"\u00e9",
		nfc.Normalize("\xffe\u0301\xff"+strings.Repeat("\u0316", 31)+"e\u0301"), "bytes that are not UTF-8 stay")
	assert.Equal(t, "▁a", prependNorm{"▁"}.Normalize("a"))
	assert.Equal(t, "", prependNorm{"▁"}.Normalize(""))
	assert.Equal(t, "a▁b▁▁c", replaceNorm{literal(" "), "▁"}.Normalize("a b  c"))
	assert.Equal(t, "ab", stripNorm{true, true}.Normalize(" \u00a0ab\n"))
	assert.Equal(t, "ab\n", stripNorm{true, false}.Normalize(" ab\n"))
	seq := normSequence{prependNorm{"▁"}, replaceNorm{literal(" "), "▁"}}
	assert.Equal(t, "▁Hello▁world", seq.Normalize("Hello world"))
}

// TestDecoders checks the decoders on Mistral's chain and the others alone.
func TestDecoders(t *testing.T) {
	mistral := decSequence{replaceDec{literal("▁"), " "}, byteFallbackDec{}, fuseDec{}, stripDec{' ', 1, 0}}
	assert.Equal(t, []string{"Hello world\n!"},
		mistral.Decode([]string{"▁Hello", "▁world", "<0x0A>", "!"}))
	assert.Equal(t, []string{"<s> Hello"}, mistral.Decode([]string{"<s>", "▁Hello"}))
	assert.Equal(t, []string{"é\xe9"}, byteFallbackDec{}.Decode([]string{"<0xC3>", "<0xA9>", "<0xE9>"}),
		"a run of byte tokens is one token, its bytes kept where Hugging Face writes U+FFFD")
	assert.Equal(t, []string{"é", "x", "\xe9"}, byteFallbackDec{}.Decode([]string{"<0xC3>", "<0xA9>", "x", "<0xE9>"}))
	assert.Equal(t, []string{"Hey", " friend"}, metaspaceDec{'▁', prependAlways}.Decode([]string{"▁Hey", "▁friend"}))
	assert.Equal(t, []string{" Hey", " friend"}, metaspaceDec{'▁', prependNever}.Decode([]string{"▁Hey", "▁friend"}))
	assert.Equal(t, []string{"a b\xff<|x|> y"}, byteLevelDec{}.Decode([]string{"a", "Ġb", "ÿ", "<|x|>", " y"}),
		"a token with a character outside the alphabet stays as it is")
	assert.Equal(t, []string{"-xx", "yy"}, stripDec{'-', 2, 1}.Decode([]string{"---xx-", "yy"}))
}
