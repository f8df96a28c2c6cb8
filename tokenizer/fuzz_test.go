package tokenizer

import (
	"strings"
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

// FuzzParseJSON feeds arbitrary text to the tokenizer file parsers, and builds and runs what parses: they must
// never panic.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"a": 1, "b": 2}`, `["a b", ["c", "d"]]`, `"\ud83d\ude00\u0041"`,
		`{"model": {"vocab": {}}}`, `"\ud83d`, `[[`, `{"model": {"merges": ["a b", ["c", "d"]]}}`,
		`{"added_tokens": [], "model": {"type": "BPE", "merges": [], "vocab": {"!": 0}}}`} {
		f.Add(s)
	}
	f.Add(`{"added_tokens": [{"id": 5, "content": "x", "normalized": true}], "normalizer": {"type": "Sequence",
		"normalizers": [{"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"Regex": "a*"},
		"content": "b"}]}, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Metaspace",
		"replacement": "▁"}, {"type": "Split", "pattern": {"String": ""}, "behavior": "Isolated", "invert": true}]},
		"post_processor": {"type": "TemplateProcessing", "single": [{"Sequence": {"id": "A"}}]},
		"decoder": {"type": "Strip", "content": " ", "start": 1, "stop": 0},
		"model": {"type": "BPE", "merges": [], "vocab": {"!": 0, "<0x41>": 1}, "byte_fallback": true}}`)
	f.Fuzz(func(t *testing.T, s string) {
		if tf, err := parseTokenizerJSON([]byte(s)); err == nil { // a tokenizer, when it builds, encodes
			if tok, err := fromJSON(tf); err == nil {
				for _, text := range []string{"", "ab Aÿ", "x▁y"} {
					tok.Decode(tok.EncodeForModel(text))
					tok.Decode(tok.Encode(text))
				}
			}
		}
		_, _ = parseVocab([]byte(s))
		_, _ = parseMergesTxt(s)
	})
}

// FuzzHF encodes arbitrary bytes with the Hugging Face tokenizers of testdata/tokenizer/hf and with the variants
// that take the general pre-tokenizer and regexp2: no panic, ids in range, and Decode(Encode(s)) == s where the
// pipeline promises it (byte-level without a normalizer; Mistral's for text without "▁"). Run it with:
//
//	go test ./tokenizer -run '^$' -fuzz FuzzHF -fuzztime 2m -fuzzminimizetime 5s
func FuzzHF(f *testing.F) {
	type tok struct {
		name      string
		bpe       *BPE
		roundTrip func(string) bool
	}
	var toks []tok
	for _, name := range []string{"mistral-7b", "qwen3", "llama3"} {
		if !exists(hfDir + "/" + name + "/tokenizer.json") {
			continue
		}
		bpe, err := Load(hfDir + "/" + name)
		if err != nil {
			f.Fatal(err)
		}
		rt := func(s string) bool { return name == "llama3" }
		if name == "mistral-7b" {
			rt = func(s string) bool { return !strings.Contains(s, metaspace) }
		}
		toks = append(toks, tok{name, bpe, rt})
	}
	for _, v := range variants {
		if v.name != "qwen3-split" && v.name != "qwen3-chain" && v.name != "mistral-metaspace-first" {
			continue
		}
		dir := f.TempDir()
		v.build(f, dir)
		bpe, err := Load(dir + "/tokenizer.json")
		if err != nil {
			f.Fatal(err)
		}
		toks = append(toks, tok{v.name, bpe, func(string) bool { return false }})
	}
	for _, s := range variantTexts {
		f.Add(s)
	}
	for _, s := range []string{"\xff\xfe", "a\xc3", "<|im_start|>\xff<|im_end|>", "▁▁\xe2\x96", "e\u0301\u0316\u0301",
		"it'ſelf 1234 \r\n\n  "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tk := range toks {
			for _, ids := range [][]int{tk.bpe.Encode(s), tk.bpe.EncodeWithSpecial(s), tk.bpe.EncodeForModel(s)} {
				for _, id := range ids {
					if _, ok := tk.bpe.Token(id); !ok {
						t.Fatalf("%s: %q has id %d", tk.name, s, id)
					}
				}
				_ = tk.bpe.Decode(ids)
			}
			if tk.roundTrip(s) {
				if got := tk.bpe.Decode(tk.bpe.Encode(s)); got != s {
					t.Fatalf("%s: Decode(Encode(%q)) = %q", tk.name, s, got)
				}
			}
		}
	})
}
