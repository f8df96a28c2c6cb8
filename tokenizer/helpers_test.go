package tokenizer

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/tokenizer/pipeline"
)

const (
	tokDir    = "../testdata/tokenizer"
	gpt2Dir   = tokDir + "/gpt2"
	goldenGz  = tokDir + "/golden.jsonl.gz"
	gpt2Vocab = 50257
	gpt2EOS   = 50256
)

// goldenCase is one line of golden.jsonl.gz: text and the reference encoder's ids (see gen_golden.mjs).
type goldenCase struct {
	Name    string `json:"name"`
	Special bool   `json:"special"` // encoded with "<|endoftext|>" recognised
	Text    string `json:"text"`
	IDs     []int  `json:"ids"`
}

var golden []goldenCase // read once

func loadGolden(tb testing.TB) []goldenCase {
	tb.Helper()
	if golden != nil {
		return golden
	}
	f, err := os.Open(goldenGz)
	require.NoError(tb, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(tb, err)
	dec := json.NewDecoder(zr)
	var cases []goldenCase
	for dec.More() {
		var c goldenCase
		require.NoError(tb, dec.Decode(&c))
		cases = append(cases, c)
	}
	require.NotEmpty(tb, cases)
	golden = cases
	return cases
}

func goldenRecord(tb testing.TB, name string) goldenCase {
	tb.Helper()
	for _, c := range loadGolden(tb) {
		if c.Name == name {
			return c
		}
	}
	require.FailNow(tb, "no golden record "+name)
	return goldenCase{}
}

var gpt2 *BPE // loaded once; a BPE is immutable

func loadGPT2(tb testing.TB) *BPE {
	tb.Helper()
	if gpt2 == nil {
		tok, err := Load(gpt2Dir)
		require.NoError(tb, err)
		gpt2 = tok
	}
	return gpt2
}

// firstDiff returns "" when got equals want, else where they first differ, with a few ids around it and the
// text of want's ids there, for a failure message that does not print 300,000 ids.
func firstDiff(tok *BPE, got, want []int) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	if i == len(got) && i == len(want) {
		return ""
	}
	lo := max(0, i-3)
	return fmt.Sprintf("first difference at id %d of %d (want %d): got %v, want %v, near %q",
		i, len(got), len(want), got[lo:min(len(got), i+3)], want[lo:min(len(want), i+3)],
		tok.Decode(want[lo:min(len(want), i+3)]))
}

// pieces returns the pieces that GPT-2's pre-tokenizer cuts s into.
func pieces(s string) []string {
	gpt2 := pipeline.PreTokenizer{ByteLevel: true, Scan: pipeline.ScanGPT2}
	var out []string
	for _, p := range gpt2.Split(s, true, &pipeline.Scratch{}) {
		out = append(out, p.Text)
	}
	return out
}
