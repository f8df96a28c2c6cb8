package tokenizer

import (
	"bufio"
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Flags for checks against other encoders, which need node and files outside the repository.
var (
	referenceFile = flag.String("reference", "",
		"JSON-lines file of texts and reference ids: from testdata/tokenizer/gen_reference.mjs or check_hf.mjs")
	referenceTokenizer = flag.String("reference-tokenizer", gpt2Dir, "the tokenizer that -reference's ids are for")
	saveTrained        = flag.String("save-trained", "", "TestTrain also saves its tokenizer.json here")
)

// TestReferenceFile compares Encode with another encoder's ids: tiktoken's on texts the other tests never see
// (about 100 MB), or Hugging Face tokenizers.js's for a tokenizer.json that Save wrote. It runs only when asked:
// go test ./tokenizer -run TestReferenceFile -reference FILE [-reference-tokenizer PATH].
func TestReferenceFile(t *testing.T) {
	if *referenceFile == "" {
		t.Skip("no -reference file; see testdata/tokenizer/gen_reference.mjs")
	}
	tok, err := Load(*referenceTokenizer)
	require.NoError(t, err)
	f, err := os.Open(*referenceFile)
	require.NoError(t, err)
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	records, bytes, tokens, bad := 0, 0, 0, 0
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			var c goldenCase
			require.NoError(t, json.Unmarshal(line, &c))
			records, bytes, tokens = records+1, bytes+len(c.Text), tokens+len(c.IDs)
			got := tok.Encode(c.Text)
			if d := firstDiff(tok, got, c.IDs); d != "" {
				bad++
				if bad <= 20 {
					t.Errorf("%s: Encode(%.60q): %s", c.Name, c.Text, d)
				}
			}
			assert.True(t, tok.Decode(got) == c.Text, "%s: Decode(Encode(text)) differs", c.Name)
		}
		if err != nil {
			break
		}
	}
	t.Logf("%d records, %d bytes, %d tokens: %d mismatched", records, bytes, tokens, bad)
	assert.Positive(t, records)
}
