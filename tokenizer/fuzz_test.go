package tokenizer

import (
	"testing"
)

// FuzzRoundTrip checks, for any bytes, that encoding never panics, gives ids in range that decode back to the
// text, that the result is the concatenation of the pieces' encodings, and that long-piece merging agrees with
// the scan. Run it with:
//
//	go test ./tokenizer -run '^$' -fuzz FuzzRoundTrip -fuzztime 2m -fuzzminimizetime 5s
//
// (The default -fuzzminimizetime of 60 s shows as long stretches of 0 execs/s while new inputs are minimized.)
func FuzzRoundTrip(f *testing.F) {
	tok := loadGPT2(f)
	for _, c := range loadGolden(f) {
		if len(c.Text) < 2000 {
			f.Add(c.Text)
		}
	}
	for _, s := range []string{"\xff\xfe", "a\xc3", "\xed\xa0\x80", "<|endoftext|><|endoftext", "'''s'S'll"} {
		f.Add(s)
	}
	st := &encodeState{}
	f.Fuzz(func(t *testing.T, s string) {
		ids := tok.Encode(s)
		for _, id := range ids {
			if id < 0 || id >= tok.VocabSize() || id == tok.EOS() {
				t.Fatalf("Encode(%q) has id %d", s, id)
			}
		}
		if got := tok.Decode(ids); got != s {
			t.Fatalf("Decode(Encode(%q)) = %q", s, got)
		}
		if got := tok.Decode(tok.EncodeWithSpecial(s)); got != s {
			t.Fatalf("Decode(EncodeWithSpecial(%q)) = %q", s, got)
		}
		var byPiece []int
		for _, p := range pieces(s) {
			byPiece = tok.appendPiece(byPiece, p, st)
			if len(p) > 1 && len(p) <= 1024 { // the scan is quadratic: keep the fuzzer fast
				short := tok.appendShortPiece(nil, p, st)
				long := tok.appendLongPiece(nil, p, st)
				if d := firstDiff(tok, long, short); d != "" {
					t.Fatalf("appendLongPiece(%q): %s", p, d)
				}
			}
		}
		if d := firstDiff(tok, ids, byPiece); d != "" {
			t.Fatalf("Encode(%q) is not its pieces' encodings: %s", s, d)
		}
	})
}

// FuzzParseJSON feeds arbitrary text to the tokenizer file parsers: they must never panic.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"a": 1, "b": 2}`, `["a b", ["c", "d"]]`, `"\ud83d\ude00\u0041"`,
		`{"model": {"vocab": {}}}`, `"\ud83d`, `[[`, `{"model": {"merges": ["a b", ["c", "d"]]}}`,
		`{"added_tokens": [], "model": {"type": "BPE", "merges": [], "vocab": {"!": 0}}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = parseTokenizerJSON([]byte(s))
		_, _ = parseVocab([]byte(s))
		_, _ = parseMergesTxt(s)
	})
}
