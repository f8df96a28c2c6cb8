package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
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

// parseTokenizerJSON reads tokenizer.json. It walks the top-level object and model itself, so that each part is
// decoded once, straight into its Go value (the vocabulary into a map sized for it); keys match exactly, the last
// of a repeated key wins, and the parts this package does not use are skipped.
func parseTokenizerJSON(data []byte) (*hfTokenizer, error) {
	var f hfTokenizer
	m := &f.Model
	fields := map[string]any{"type": &m.Type, "dropout": &m.Dropout, // the small ones of model
		"continuing_subword_prefix": &m.ContinuingSubwordPrefix, "end_of_word_suffix": &m.EndOfWordSuffix,
		"byte_fallback": &m.ByteFallback, "ignore_merges": &m.IgnoreMerges}
	r := newJSONReader(data)
	err := r.object("", func(key string) error {
		switch key {
		case "added_tokens":
			return r.value(key, &f.AddedTokens)
		case "normalizer":
			return r.value(key, &f.Normalizer)
		case "pre_tokenizer":
			return r.value(key, &f.PreTokenizer)
		case "decoder":
			return r.value(key, &f.Decoder)
		case "model":
			return r.object("model", func(key string) error {
				switch key {
				case "vocab":
					var err error
					m.Vocab, err = r.vocab("model.vocab")
					return err
				case "merges":
					var merges []any // strings and pairs, even mixed
					err := r.value("model.merges", &merges)
					if err == nil {
						m.Merges, err = toMerges(merges)
					}
					return err
				}
				return r.value("model."+key, fields[key]) // nil, which skips the value, for other keys
			})
		}
		return r.value(key, nil)
	})
	if err == nil {
		err = r.end()
	}
	if err != nil {
		return nil, err
	}
	return &f, nil
}

// toMerges converts model.merges, decoded into []any, to pairs of tokens. Each merge is "a b" (tokenizers before
// 0.20) or ["a", "b"]; null is an error, as in Hugging Face tokenizers.
func toMerges(merges []any) ([][2]string, error) {
	if merges == nil {
		return nil, errors.New("model.merges: got null, want an array")
	}
	out := make([][2]string, len(merges))
	for i, m := range merges {
		ok := false
		switch m := m.(type) {
		case string:
			var a, b string
			a, b, ok = strings.Cut(m, " ")
			if !ok || a == "" || b == "" || strings.Contains(b, " ") {
				return nil, fmt.Errorf("model.merges: merge %d %q: want two tokens separated by a space", i, m)
			}
			out[i] = [2]string{a, b}
		case []any:
			if len(m) == 2 {
				out[i][0], ok = m[0].(string)
				if ok {
					out[i][1], ok = m[1].(string)
				}
			}
		}
		if !ok {
			return nil, fmt.Errorf(`model.merges: merge %d: want "a b" or a pair ["a", "b"]`, i)
		}
	}
	return out, nil
}

// parseVocab reads vocab.json: a JSON object that maps token strings to ids.
func parseVocab(data []byte) (map[string]int, error) {
	r := newJSONReader(data)
	vocab, err := r.vocab("")
	if err == nil {
		err = r.end()
	}
	if err != nil {
		return nil, err
	}
	return vocab, nil
}

// jsonReader reads a JSON document part by part with encoding/json, and words its errors in the file's terms
// rather than Go's, naming the part (a path such as "model.vocab") and the offset of bad syntax.
type jsonReader struct {
	data []byte
	dec  *json.Decoder
}

func newJSONReader(data []byte) *jsonReader {
	return &jsonReader{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
}

// object reads an object, calling field for each key with the reader at the key's value, which field must read
// (with value, vocab or object). path names the object in errors.
func (r *jsonReader) object(path string, field func(key string) error) error {
	tok, err := r.dec.Token()
	if err != nil {
		return r.error(path, err)
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("%swant '{', got %s", prefix(path), describe(tok))
	}
	for r.dec.More() {
		tok, err := r.dec.Token()
		if err != nil {
			return r.error(path, err)
		}
		if err := field(tok.(string)); err != nil { // the decoder returns only strings as keys
			return err
		}
	}
	if _, err := r.dec.Token(); err != nil { // the closing '}', as More said
		return r.error(path, err)
	}
	return nil
}

// value decodes the next value into v, or skips it when v is nil. path names the value in errors.
func (r *jsonReader) value(path string, v any) error {
	if v == nil {
		v = new(json.RawMessage)
	}
	if err := r.dec.Decode(v); err != nil {
		return r.error(path, err)
	}
	return nil
}

// vocab reads an object of token ids into a map sized for it; null is an error, as in Hugging Face tokenizers.
func (r *jsonReader) vocab(path string) (map[string]int, error) {
	vocab := make(map[string]int, bytes.Count(r.data, []byte(`":`))) // about one a token: merges have none
	if err := r.value(path, &vocab); err != nil {
		return nil, err
	}
	if vocab == nil {
		return nil, fmt.Errorf("%sgot null, want an object of token ids", prefix(path))
	}
	return vocab, nil
}

// end checks that only space is left.
func (r *jsonReader) end() error {
	if _, err := r.dec.Token(); err != io.EOF {
		return fmt.Errorf("offset %d: unexpected data after the top-level value", r.dec.InputOffset())
	}
	return nil
}

// error rewords err from reading the value at path.
func (r *jsonReader) error(path string, err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		// The decoder's offsets are not the file's: a check of the whole file finds the place.
		if errors.As(json.Unmarshal(r.data, new(json.RawMessage)), &syntax) {
			return fmt.Errorf("%soffset %d: %w", prefix(path), syntax.Offset, syntax)
		}
	case errors.As(err, &typ):
		if typ.Field != "" {
			path = strings.TrimPrefix(path+"."+typ.Field, ".")
		}
		return fmt.Errorf("%sgot a JSON %s, want %s", prefix(path), typ.Value, jsonKind(typ.Type))
	}
	return fmt.Errorf("%s%w", prefix(path), err)
}

// prefix returns "path: ", or "" for the top level.
func prefix(path string) string {
	if path == "" {
		return ""
	}
	return path + ": "
}

// describe spells a JSON token as the file does.
func describe(tok json.Token) string {
	if d, ok := tok.(json.Delim); ok {
		return fmt.Sprintf("'%c'", rune(d))
	}
	s, _ := json.Marshal(tok) // a string, number, bool or nil always encodes
	return string(s)
}

// jsonKind says what JSON value encoding/json decodes into a Go value of type t.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return t.String()
}

func loadTokenizerJSON(path string) (*BPE, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := parseTokenizerJSON(data)
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
	vocab, err := parseVocab(data)
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
			return nil, fmt.Errorf("token %q has id %d, want an integer from 0 to %d", tok, id, maxID-1)
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
