package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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

// FuzzLoad writes arbitrary files in one of Load's layouts — a directory with tokenizer.json (layout 0), the
// tokenizer.json file itself (1), or a directory with vocab.json and merges.txt (2), each with an optional
// tokenizer_config.json beside it — and loads them through the exported Load only. It checks that Load never
// panics; that an error starts with "load tokenizer PATH: " and names the file at fault; and that a tokenizer it
// accepts has EOS and ids in range, decodes what it encodes back to the text (with and without added tokens), and
// is written by Save to a tokenizer.json that Load reads back to the same tokens, EOS and encodings. Seeded with
// the tiny test model's tokenizer in both layouts; go test runs the seeds, go test -fuzz FuzzLoad searches for
// more.
func FuzzLoad(f *testing.F) {
	tiny, err := os.ReadFile(filepath.Join("..", "testdata", "tiny", "tokenizer.json"))
	require.NoError(f, err)
	var doc struct {
		Model struct {
			Vocab  json.RawMessage `json:"vocab"`
			Merges []string        `json:"merges"`
		} `json:"model"`
	}
	require.NoError(f, json.Unmarshal(tiny, &doc))
	merges := "#version: 0.2\n" + strings.Join(doc.Model.Merges, "\n") + "\n"
	hfConfig, err := os.ReadFile(filepath.Join("..", "testdata", "tokenizer", "hf", "mistral-7b", "tokenizer_config.json"))
	require.NoError(f, err)
	for _, config := range []string{"", `{"eos_token": "<|endoftext|>"}`, `{"eos_token": {"__type": "AddedToken", "content": "Ġthe"}}`} {
		f.Add(uint8(0), tiny, []byte(nil), []byte(config))
		f.Add(uint8(2), []byte(doc.Model.Vocab), []byte(merges), []byte(config))
	}
	f.Add(uint8(1), tiny, []byte(nil), hfConfig)
	f.Add(uint8(2), []byte(`{"a": 0}`), []byte("a a\n"), []byte(`{"eos_token": null}`))
	f.Add(uint8(0), []byte(`{"model": {"type": "WordPiece", "dropout": 0.5}, "normalizer": {}, "pre_tokenizer": null}`), []byte(nil), []byte(nil))
	f.Add(uint8(0), []byte(`{"added_tokens": [{"id": 3, "content": "x"}], "model": {"vocab": {"a": 99999999}, "merges": [["a", "b"]]}}`), []byte(nil), []byte("{"))

	f.Fuzz(func(t *testing.T, layout uint8, main, mergesTxt, config []byte) {
		if hasLargeID(main) {
			// Load accepts ids up to 2²⁴, but its tables are as long as the largest id: one such id costs a
			// second and 700 MB (reported), which would stall the fuzzer.
			t.Skip("an id from 2²⁰ up")
		}
		dir := t.TempDir()
		path := dir
		var files []string
		write := func(name string, b []byte) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
			files = append(files, name)
		}
		switch layout % 3 {
		case 0:
			write("tokenizer.json", main)
		case 1:
			write("tokenizer.json", main)
			path = filepath.Join(dir, "tokenizer.json")
		case 2:
			write("vocab.json", main)
			write("merges.txt", mergesTxt)
		}
		if len(config) > 0 {
			write("tokenizer_config.json", config)
		}
		tok, err := Load(path)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "load tokenizer "+path+": ") {
				t.Fatalf("error %q does not start with the path", msg)
			}
			named := slices.ContainsFunc(files, func(name string) bool { return strings.Contains(msg, name+": ") })
			if !named && !knownUnnamedLoadError(layout%3, msg) {
				t.Fatalf("error %q names none of %v", msg, files)
			}
			return
		}
		if eos := tok.EOS(); eos < -1 || eos >= tok.VocabSize() {
			t.Fatalf("EOS %d with %d ids", eos, tok.VocabSize())
		}
		texts := []string{"Hello, world! It's 2026.\n\n  <|endoftext|>ĠĠ", string(main[:min(len(main), 300)])}
		for _, s := range texts {
			checkEncode(t, tok, s)
		}

		saved := filepath.Join(t.TempDir(), "tokenizer.json")
		require.NoError(t, tok.Save(saved))
		back, err := Load(saved)
		if err != nil {
			t.Fatalf("Load of what Save wrote: %v", err)
		}
		if back.VocabSize() != tok.VocabSize() {
			t.Fatalf("vocabulary of %d ids written back as %d", tok.VocabSize(), back.VocabSize())
		}
		if back.EOS() != tok.EOS() && len(config) == 0 {
			t.Fatalf("EOS %d written back as %d", tok.EOS(), back.EOS())
		}
		for id := range min(tok.VocabSize(), 1<<16) {
			t1, ok1 := tok.Token(id)
			t2, ok2 := back.Token(id)
			if t1 != t2 || ok1 != ok2 {
				t.Fatalf("token %d %q (%v) written back as %q (%v)", id, t1, ok1, t2, ok2)
			}
		}
		for _, s := range texts {
			if a, b := tok.Encode(s), back.Encode(s); !slices.Equal(a, b) {
				t.Fatalf("Encode(%q) = %v, written back %v", s, a, b)
			}
			if a, b := tok.EncodeWithSpecial(s), back.EncodeWithSpecial(s); !slices.Equal(a, b) {
				t.Fatalf("EncodeWithSpecial(%q) = %v, written back %v", s, a, b)
			}
		}
	})
}

// hasLargeID reports whether b holds a decimal number from 2²⁰ up to Load's limit on ids, 2²⁴.
func hasLargeID(b []byte) bool {
	for _, m := range largeNumber.FindAll(b, -1) {
		if n, err := strconv.Atoi(string(m)); err == nil && n >= 1<<20 && n < 1<<24 {
			return true
		}
	}
	return false
}

var largeNumber = regexp.MustCompile(`[0-9]{7,8}`)

// checkEncode checks that tok's ids for s are in range and that both encodings decode back to s.
func checkEncode(t *testing.T, tok *BPE, s string) {
	t.Helper()
	ids := tok.Encode(s)
	for _, id := range ids {
		if _, ok := tok.Token(id); !ok {
			t.Fatalf("Encode(%q) has id %d, which has no token", s, id)
		}
	}
	if got := tok.Decode(ids); got != s {
		t.Fatalf("Decode(Encode(%q)) = %q (ids %v)", s, got, ids)
	}
	if got := tok.Decode(tok.EncodeWithSpecial(s)); got != s {
		t.Fatalf("Decode(EncodeWithSpecial(%q)) = %q", s, got)
	}
}

// knownUnnamedLoadError reports the errors of Load that are known not to name the file at fault: in the
// vocab.json + merges.txt layout, the checks of the vocabulary and merges together (newBPE) say what is wrong but
// not in which file. Reported, not fixed here (tokenizer/*.go is being rewritten); remove this when they do.
func knownUnnamedLoadError(layout uint8, msg string) bool {
	if layout != 2 {
		return false
	}
	for _, s := range []string{"vocabulary has no token for byte", ": token not in the vocabulary", "have the same id",
		"is not in the byte-level alphabet", "want an integer from 0 to", "added token "} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
