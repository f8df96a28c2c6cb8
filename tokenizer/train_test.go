package tokenizer

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// corpusFile writes the first n bytes of the golden corpus (all of it for n < 0) to a file in dir.
func corpusFile(t *testing.T, dir string, n int) string {
	t.Helper()
	text := goldenRecord(t, "corpus").Text
	if n >= 0 {
		text = text[:n]
	}
	return writeFile(t, dir, "corpus.txt", text)
}

// TestTrain trains on the ~1 MiB corpus, saves, loads back, and checks the tokenizer.json that HF tokenizers reads.
func TestTrain(t *testing.T) {
	dir := t.TempDir()
	var progress strings.Builder
	tok, err := Train([]string{corpusFile(t, dir, -1)}, 1000, &TrainOptions{Progress: &progress})
	require.NoError(t, err)
	assert.Equal(t, 1000, tok.VocabSize())
	assert.Equal(t, 999, tok.EOS(), "EOS is the last id, as in GPT-2")
	assert.Contains(t, progress.String(), "743 merges, 1000 tokens")

	path := filepath.Join(dir, "tokenizer.json")
	require.NoError(t, tok.Save(path))
	if *saveTrained != "" { // for check_hf.mjs
		require.NoError(t, tok.Save(*saveTrained))
	}
	loaded, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, 1000, loaded.VocabSize())
	assert.Equal(t, 999, loaded.EOS())
	text := goldenRecord(t, "corpus").Text
	ids := loaded.Encode(text)
	assert.Empty(t, firstDiff(loaded, ids, tok.Encode(text)), "the loaded tokenizer encodes as the trained one")
	assert.True(t, loaded.Decode(ids) == text, "Decode(Encode(corpus)) differs")
	assert.Less(t, len(ids), len(text)*6/10, "1000 tokens should compress the text they were trained on")
	for _, c := range loadGolden(t) {
		assert.True(t, loaded.Decode(loaded.EncodeWithSpecial(c.Text)) == c.Text, "round trip of %s", c.Name)
	}
	assert.Equal(t, []int{999}, loaded.EncodeWithSpecial(EndOfText))

	// The structure Hugging Face tokenizers reads.
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var doc struct {
		AddedTokens []struct {
			ID      int
			Content string
			Special bool
		} `json:"added_tokens"`
		PreTokenizer struct {
			Type           string
			AddPrefixSpace bool `json:"add_prefix_space"`
			UseRegex       bool `json:"use_regex"`
		} `json:"pre_tokenizer"`
		Decoder struct{ Type string }
		Model   struct {
			Type   string
			Vocab  map[string]int
			Merges []string
		}
	}
	require.NoError(t, json.Unmarshal(data, &doc))
	assert.Equal(t, "BPE", doc.Model.Type)
	assert.Len(t, doc.Model.Vocab, 1000)
	assert.Len(t, doc.Model.Merges, 743)
	assert.Equal(t, 999, doc.Model.Vocab[EndOfText])
	assert.Equal(t, 0, doc.Model.Vocab["!"], "bytes first, in GPT-2's order")
	assert.Equal(t, 188, doc.Model.Vocab["Ā"], "byte 0 is id 188, as in GPT-2")
	assert.Equal(t, "ByteLevel", doc.PreTokenizer.Type)
	assert.False(t, doc.PreTokenizer.AddPrefixSpace)
	assert.True(t, doc.PreTokenizer.UseRegex)
	assert.Equal(t, "ByteLevel", doc.Decoder.Type)
	require.Len(t, doc.AddedTokens, 1)
	assert.Equal(t, EndOfText, doc.AddedTokens[0].Content)
	assert.Equal(t, 999, doc.AddedTokens[0].ID)
	assert.True(t, doc.AddedTokens[0].Special)
	for i, m := range doc.Model.Merges {
		a, b, ok := strings.Cut(m, " ")
		_, okA := doc.Model.Vocab[a]
		_, okB := doc.Model.Vocab[b]
		_, okAB := doc.Model.Vocab[a+b]
		assert.True(t, ok && okA && okB && okAB, "merge %d %q", i, m)
	}
}

func TestTrainDeterministic(t *testing.T) {
	path := corpusFile(t, t.TempDir(), 200_000)
	a, err := Train([]string{path}, 600, nil)
	require.NoError(t, err)
	b, err := Train([]string{path}, 600, nil)
	require.NoError(t, err)
	assert.True(t, string(a.marshalJSON()) == string(b.marshalJSON()), "two trainings differ")
}

// TestTrainChunks checks that reading in small chunks counts the pieces of the whole text.
func TestTrainChunks(t *testing.T) {
	text := goldenRecord(t, "corpus").Text[:300_000] + "\n\n  \nx<|endoftext|>\nabc\n<|endoftext|>"
	path := writeFile(t, t.TempDir(), "text.txt", text)
	want := make(map[string]int)
	for _, seg := range strings.Split(text, EndOfText) {
		for _, p := range pieces(seg) {
			want[p]++
		}
	}
	for _, chunk := range []int{64, 1000, 4096, 1 << 20} {
		got := make(map[string]int)
		n, err := countPieces(path, []string{EndOfText}, got, chunk)
		require.NoError(t, err)
		assert.Equal(t, len(text), n)
		assert.True(t, maps.Equal(want, got), "countPieces with chunk %d: %d distinct pieces, want %d", chunk,
			len(got), len(want))
	}
}

func TestTrainOptions(t *testing.T) {
	dir := t.TempDir()
	text := strings.Repeat("low lower lowest <|endoftext|> newer wider <sep> ", 50) + "rare"
	path := writeFile(t, dir, "text.txt", text)

	tok, err := Train([]string{path}, 300, &TrainOptions{SpecialTokens: []string{"<sep>", EndOfText, "<sep>"}})
	require.NoError(t, err)
	last := tok.VocabSize() - 1
	assert.Equal(t, last-1, tok.EOS())
	sep, ok := tok.ID("<sep>")
	assert.True(t, ok && sep == last, "ID(<sep>) = %d, %t, want %d", sep, ok, last)
	for id := 256; id < last-1; id++ {
		s, _ := tok.Token(id)
		assert.NotContains(t, s, "<", "token %d %q: special tokens are cut out of the training text", id, s)
	}
	assert.Equal(t, []int{tok.EOS(), sep}, tok.EncodeWithSpecial(EndOfText+"<sep>"))

	// Pairs seen fewer than MinFrequency times are not merged, and training stops early.
	few, err := Train([]string{path}, 1000, &TrainOptions{MinFrequency: 50})
	require.NoError(t, err)
	assert.Less(t, few.VocabSize(), 300)
	assert.Len(t, few.Encode(" rare"), 5, "a word seen once stays in bytes")
}

func TestTrainErrors(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "text.txt", "some text")
	_, err := Train([]string{path}, 256, nil)
	assert.ErrorContains(t, err, "at least 257")
	_, err = Train([]string{path}, 1000, &TrainOptions{SpecialTokens: []string{""}})
	assert.ErrorContains(t, err, "empty special token")
	_, err = Train([]string{path}, 1000, &TrainOptions{SpecialTokens: []string{"e"}})
	assert.ErrorContains(t, err, `special token "e" is also a learned token`)
	missing := filepath.Join(dir, "missing.txt")
	_, err = Train([]string{path, missing}, 1000, nil)
	assert.ErrorContains(t, err, missing)
	assert.ErrorIs(t, err, os.ErrNotExist)

	// No text at all still gives a working byte-level tokenizer.
	empty := writeFile(t, dir, "empty.txt", "")
	tok, err := Train([]string{empty}, 1000, nil)
	require.NoError(t, err)
	assert.Equal(t, 257, tok.VocabSize())
	assert.Equal(t, "héllo", tok.Decode(tok.Encode("héllo")))
}
