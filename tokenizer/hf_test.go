package tokenizer

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"flag"
	"io"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	hfReference = flag.String("hf-reference", "",
		"JSON-lines file (.gz or not) of {text, ids, ids_special, decoded} from Hugging Face tokenizers")
	hfTokenizerPath = flag.String("hf-tokenizer", "", "the tokenizer (file or directory) that -hf-reference's ids are for")
)

// hfRecord is one line of a golden file of Hugging Face tokenizers: ids is encode(text, add_special_tokens=False),
// ids_special encode(text, add_special_tokens=True), decoded decode(ids_special, skip_special_tokens=False).
type hfRecord struct {
	Name       string `json:"name"`
	Text       string `json:"text"`
	IDs        []int  `json:"ids"`
	IDsSpecial []int  `json:"ids_special"`
	Decoded    string `json:"decoded"`
}

// hfStats counts what compareHF saw.
type hfStats struct {
	records, tokens, bad, badSpecial, badDecoded int
}

// readHF calls f with each record of a JSON-lines file, gzipped when its name ends in .gz.
func readHF(tb testing.TB, path string, f func(hfRecord)) {
	tb.Helper()
	file, err := os.Open(path)
	require.NoError(tb, err)
	defer file.Close()
	var r io.Reader = file
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(file)
		require.NoError(tb, err)
		r = zr
	}
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 1 {
			var rec hfRecord
			require.NoError(tb, json.Unmarshal(line, &rec))
			f(rec)
		}
		if err == io.EOF {
			return
		}
		require.NoError(tb, err)
	}
}

// lossy returns s with each maximal invalid UTF-8 sequence replaced by U+FFFD, as Rust's String::from_utf8_lossy
// does, for comparing Decode (which keeps such bytes) with Hugging Face's decode.
func lossy(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r != utf8.RuneError || size > 1 {
			b.WriteString(s[i : i+size])
			i += size
			continue
		}
		// The longest prefix of a valid sequence is one "maximal subpart" (Unicode's U+FFFD substitution).
		n := 1
		if c := s[i]; c >= 0xC2 && c <= 0xF4 {
			lo, hi := byte(0x80), byte(0xBF)
			switch c {
			case 0xE0:
				lo = 0xA0
			case 0xED:
				hi = 0x9F
			case 0xF0:
				lo = 0x90
			case 0xF4:
				hi = 0x8F
			}
			want := 2
			if c >= 0xE0 {
				want = 3
			}
			if c >= 0xF0 {
				want = 4
			}
			for n < want && i+n < len(s) && s[i+n] >= lo && s[i+n] <= hi {
				n++
				lo, hi = 0x80, 0xBF
			}
		}
		b.WriteString("\uFFFD")
		i += n
	}
	return b.String()
}

// compareHF checks one record: EncodeWithSpecial against ids, EncodeForModel against ids_special, and Decode of
// ids_special against decoded (as Hugging Face writes invalid UTF-8); it reports the first few differences.
func compareHF(t *testing.T, tok *BPE, rec hfRecord, st *hfStats) {
	st.records++
	st.tokens += len(rec.IDs)
	got := tok.EncodeWithSpecial(rec.Text)
	if d := firstDiff(tok, got, rec.IDs); d != "" {
		st.bad++
		if st.bad <= 10 {
			t.Errorf("%s: EncodeWithSpecial(%.80q): %s", rec.Name, rec.Text, d)
		}
	}
	got = tok.EncodeForModel(rec.Text)
	if d := firstDiff(tok, got, rec.IDsSpecial); d != "" {
		st.badSpecial++
		if st.badSpecial <= 10 {
			t.Errorf("%s: EncodeForModel(%.80q): %s", rec.Name, rec.Text, d)
		}
	}
	if dec := lossy(tok.Decode(rec.IDsSpecial)); dec != rec.Decoded {
		st.badDecoded++
		if st.badDecoded <= 10 {
			t.Errorf("%s: Decode(ids_special of %.80q) = %.80q, want %.80q", rec.Name, rec.Text, dec, rec.Decoded)
		}
	}
}

// TestHFReference compares the package with Hugging Face tokenizers on a file of its ids, outside the tests:
// go test ./tokenizer -run TestHFReference -hf-reference FILE -hf-tokenizer PATH.
func TestHFReference(t *testing.T) {
	if *hfReference == "" {
		t.Skip("no -hf-reference file")
	}
	tok, err := Load(*hfTokenizerPath)
	require.NoError(t, err)
	var st hfStats
	readHF(t, *hfReference, func(rec hfRecord) { compareHF(t, tok, rec, &st) })
	t.Logf("%d records, %d tokens: %d mismatched ids, %d mismatched ids_special, %d mismatched decoded",
		st.records, st.tokens, st.bad, st.badSpecial, st.badDecoded)
	assert.Positive(t, st.records)
}
