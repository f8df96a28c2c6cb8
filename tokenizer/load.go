package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ErrUnsupported is wrapped by Load's error for a well-formed tokenizer this package cannot reproduce exactly
// (another model type, normalizer or pre-tokenizer, dropout, ...), so that callers can tell it from a broken file.
var ErrUnsupported = errors.New("unsupported tokenizer")

// Load reads a byte-level BPE tokenizer from path: a Hugging Face tokenizer.json file, or a directory that holds
// tokenizer.json or else vocab.json and merges.txt (GPT-2's layout). When the directory also holds a
// tokenizer_config.json naming an eos_token, that token is EOS. The error names path; it wraps ErrUnsupported for
// a tokenizer that is not GPT-2-style byte-level BPE, and fs.ErrNotExist when the files are missing.
func Load(path string) (*BPE, error) {
	t, err := load(path)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %s: %w", path, err)
	}
	return t, nil
}

func load(path string) (*BPE, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	var t *BPE
	switch {
	case !fi.IsDir():
		t, err = loadTokenizerJSON(path)
	case exists(filepath.Join(path, "tokenizer.json")):
		dir = path
		t, err = loadTokenizerJSON(filepath.Join(path, "tokenizer.json"))
	default:
		dir = path
		t, err = loadVocabMerges(filepath.Join(path, "vocab.json"), filepath.Join(path, "merges.txt"))
	}
	if err != nil {
		return nil, err
	}
	if err := t.readConfig(filepath.Join(dir, "tokenizer_config.json")); err != nil {
		return nil, err
	}
	return t, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// hfTokenizer is the part of a Hugging Face tokenizer.json that a GPT-2-style BPE uses.
type hfTokenizer struct {
	AddedTokens  []hfAddedToken
	Normalizer   json.RawMessage
	PreTokenizer *hfComponent
	Decoder      *hfComponent
	Model        struct {
		Type                    string
		Vocab                   map[string]int
		Merges                  [][2]string
		Dropout                 *float64
		ContinuingSubwordPrefix string
		EndOfWordSuffix         string
		ByteFallback            bool
		IgnoreMerges            bool
	}
}

type hfAddedToken struct {
	ID      int    `json:"id"`
	Content string `json:"content"`
	Special bool   `json:"special"`
}

type hfComponent struct {
	Type           string
	AddPrefixSpace bool  `json:"add_prefix_space"`
	UseRegex       *bool `json:"use_regex"`
}

// parseTokenizerJSON reads tokenizer.json: the vocabulary and merges with jsonScanner, the small parts with
// encoding/json, and skips the rest.
func parseTokenizerJSON(data string) (*hfTokenizer, error) {
	var f hfTokenizer
	m := &f.Model
	sc := &jsonScanner{s: data}
	decode := func(key string, v any) error { // the value at sc into v
		raw, err := sc.value()
		if err != nil {
			return err
		}
		if v == nil {
			return nil
		}
		if err := json.Unmarshal([]byte(raw), v); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		return nil
	}
	err := sc.object(func(key string) error {
		switch key {
		case "added_tokens":
			return decode(key, &f.AddedTokens)
		case "normalizer":
			return decode(key, &f.Normalizer)
		case "pre_tokenizer":
			return decode(key, &f.PreTokenizer)
		case "decoder":
			return decode(key, &f.Decoder)
		case "model":
			return sc.object(func(key string) (err error) {
				switch key {
				case "vocab":
					if m.Vocab, err = sc.vocab(); err != nil {
						return fmt.Errorf("model.vocab: %w", err)
					}
					return nil
				case "merges":
					if m.Merges, err = sc.merges(); err != nil {
						return fmt.Errorf("model.merges: %w", err)
					}
					return nil
				}
				fields := map[string]any{"type": &m.Type, "dropout": &m.Dropout,
					"continuing_subword_prefix": &m.ContinuingSubwordPrefix, "end_of_word_suffix": &m.EndOfWordSuffix,
					"byte_fallback": &m.ByteFallback, "ignore_merges": &m.IgnoreMerges}
				return decode("model."+key, fields[key])
			})
		}
		return decode(key, nil)
	})
	if err == nil {
		err = sc.end()
	}
	if err != nil {
		return nil, err
	}
	return &f, nil
}

func loadTokenizerJSON(path string) (*BPE, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := parseTokenizerJSON(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	var problems []error
	if m := f.Model.Type; m != "BPE" && !(m == "" && f.Model.Vocab != nil && f.Model.Merges != nil) {
		problems = append(problems, fmt.Errorf("model.type %q, want BPE", m))
	}
	if n := bytes.TrimSpace(f.Normalizer); len(n) > 0 && !bytes.Equal(n, []byte("null")) {
		problems = append(problems, errors.New("normalizer is set, want null"))
	}
	switch p := f.PreTokenizer; {
	case p == nil || p.Type != "ByteLevel":
		problems = append(problems, errors.New("pre_tokenizer is not ByteLevel"))
	case p.AddPrefixSpace:
		problems = append(problems, errors.New("pre_tokenizer.add_prefix_space is true"))
	case p.UseRegex != nil && !*p.UseRegex:
		problems = append(problems, errors.New("pre_tokenizer.use_regex is false"))
	}
	if d := f.Decoder; d != nil && d.Type != "ByteLevel" {
		problems = append(problems, fmt.Errorf("decoder.type %q, want ByteLevel", d.Type))
	}
	if d := f.Model.Dropout; d != nil && *d > 0 {
		problems = append(problems, errors.New("model.dropout is set"))
	}
	if f.Model.ContinuingSubwordPrefix != "" || f.Model.EndOfWordSuffix != "" {
		problems = append(problems, errors.New("model has a subword prefix or suffix"))
	}
	if f.Model.ByteFallback {
		problems = append(problems, errors.New("model.byte_fallback is true"))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: %w: %w", filepath.Base(path), ErrUnsupported, errors.Join(problems...))
	}
	added := make([]addedToken, len(f.AddedTokens))
	for i, a := range f.AddedTokens {
		added[i] = addedToken{ID: a.ID, Content: a.Content, Special: a.Special}
	}
	t, err := newBPE(f.Model.Vocab, f.Model.Merges, added)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	t.ignoreMerges = f.Model.IgnoreMerges
	return t, nil
}

// loadVocabMerges reads GPT-2's vocab.json and merges.txt. "<|endoftext|>", when in the vocabulary, is the one
// added token, as in Hugging Face's GPT2Tokenizer.
func loadVocabMerges(vocabPath, mergesPath string) (*BPE, error) {
	data, err := os.ReadFile(vocabPath)
	if err != nil {
		return nil, err
	}
	vocab, err := parseVocab(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(vocabPath), err)
	}
	data, err = os.ReadFile(mergesPath)
	if err != nil {
		return nil, err
	}
	merges, err := parseMergesTxt(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(mergesPath), err)
	}
	var added []addedToken
	if id, ok := vocab[EndOfText]; ok {
		added = append(added, addedToken{ID: id, Content: EndOfText, Special: true})
	}
	return newBPE(vocab, merges, added)
}

// parseMergesTxt reads merges.txt: an optional "#version" line, then one "a b" merge a line, in rank order.
func parseMergesTxt(data string) ([][2]string, error) {
	merges := make([][2]string, 0, strings.Count(data, "\n"))
	for line := 1; len(data) > 0; line++ {
		s, rest, _ := strings.Cut(data, "\n")
		data = rest
		s = strings.TrimSuffix(s, "\r")
		if s == "" || line == 1 && strings.HasPrefix(s, "#version") {
			continue
		}
		a, b, ok := strings.Cut(s, " ")
		if !ok || a == "" || b == "" || strings.Contains(b, " ") {
			return nil, fmt.Errorf("line %d %q: want two tokens separated by a space", line, s)
		}
		merges = append(merges, [2]string{a, b})
	}
	return merges, nil
}

// maxID bounds token ids, so that a corrupt file cannot make Load allocate gigabytes.
const maxID = 1 << 24

// newBPE builds a tokenizer from a byte-level vocabulary, merges in rank order, and added tokens. Every byte must
// have a one-byte token, and each merge's two tokens and their concatenation must be in the vocabulary.
func newBPE(vocab map[string]int, merges [][2]string, added []addedToken) (*BPE, error) {
	size := 0
	for tok, id := range vocab {
		if id < 0 || id >= maxID {
			return nil, fmt.Errorf("token %q has id %d, want 0 <= id < %d", tok, id, maxID)
		}
		size = max(size, id+1)
	}
	for _, a := range added {
		if a.ID < 0 || a.ID >= maxID || a.Content == "" {
			return nil, fmt.Errorf("added token %q has id %d", a.Content, a.ID)
		}
		size = max(size, a.ID+1)
	}
	t := &BPE{
		raw:       make([]string, size),
		names:     make([]string, size),
		vocab:     vocab,
		merges:    make(map[uint64]uint64, len(merges)),
		mergeList: make([][2]int32, 0, len(merges)),
		added:     added,
		eos:       -1,
	}
	isAdded := make(map[int]bool, len(added))
	for _, a := range added {
		isAdded[a.ID] = true
	}
	// All tokens' bytes go in one buffer, and t.raw slices it: one allocation, not 50,000.
	type span struct{ start, end int }
	spans := make([]span, size)
	buf := make([]byte, 0, len(vocab)*8)
	for tok, id := range vocab {
		if t.names[id] != "" {
			return nil, fmt.Errorf("tokens %q and %q have the same id %d", t.names[id], tok, id)
		}
		t.names[id] = tok
		start := len(buf)
		for _, r := range tok {
			if r >= rune(len(runeByte)) || runeByte[r] < 0 {
				if !isAdded[id] {
					return nil, fmt.Errorf("token %q (id %d) is not in the byte-level alphabet", tok, id)
				}
				buf = buf[:start] // an added token's bytes are its content, set below
				break
			}
			buf = append(buf, byte(runeByte[r]))
		}
		spans[id] = span{start, len(buf)}
	}
	all := string(buf)
	for id, sp := range spans {
		t.raw[id] = all[sp.start:sp.end]
	}
	for _, a := range added {
		if name := t.names[a.ID]; name != "" && name != a.Content && name != byteLevel(a.Content) {
			return nil, fmt.Errorf("added token %q has id %d of token %q", a.Content, a.ID, name)
		}
		t.raw[a.ID], t.names[a.ID] = a.Content, a.Content
		if a.Content == EndOfText {
			t.eos = a.ID
		}
	}
	if id, ok := vocab[EndOfText]; ok && t.eos < 0 {
		t.eos = id
	}
	for b := range 256 {
		id, ok := vocab[string(byteRune[b])]
		if !ok {
			return nil, fmt.Errorf("vocabulary has no token for byte 0x%02x (%q)", b, byteRune[b])
		}
		t.bytes[b] = int32(id)
	}
	var pair []byte
	for rank, m := range merges {
		left, okL := vocab[m[0]]
		right, okR := vocab[m[1]]
		pair = append(append(pair[:0], m[0]...), m[1]...)
		id, okM := vocab[string(pair)]
		if !okL || !okR || !okM {
			return nil, fmt.Errorf("merge %d (%q %q): token not in the vocabulary", rank, m[0], m[1])
		}
		key := pairKey(int32(left), int32(right))
		if _, dup := t.merges[key]; dup {
			continue // the first rank wins
		}
		t.merges[key] = 1 + (uint64(rank)<<32 | uint64(id))
		t.mergeList = append(t.mergeList, [2]int32{int32(left), int32(right)})
	}
	t.special = slices.Clone(added)
	slices.SortStableFunc(t.special, func(a, b addedToken) int { return len(b.Content) - len(a.Content) })
	return t, nil
}

// readConfig sets EOS from the eos_token of a tokenizer_config.json at path, if the file exists.
func (t *BPE) readConfig(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var cfg struct {
		EOS json.RawMessage `json:"eos_token"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	if len(cfg.EOS) == 0 || string(cfg.EOS) == "null" {
		return nil
	}
	var eos string
	if err := json.Unmarshal(cfg.EOS, &eos); err != nil { // or an AddedToken object
		var obj struct{ Content string }
		if err := json.Unmarshal(cfg.EOS, &obj); err != nil {
			return fmt.Errorf("%s: eos_token: want a string or an object with content", filepath.Base(path))
		}
		eos = obj.Content
	}
	id, ok := t.ID(eos)
	if !ok {
		id, ok = t.vocab[byteLevel(eos)]
	}
	if !ok {
		return fmt.Errorf("%s: eos_token %q is not a token", filepath.Base(path), eos)
	}
	t.eos = id
	return nil
}
