package tokenizer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/llmtune/llmtune/tokenizer/pipeline"
)

// ErrUnsupported is wrapped by Load's error for a well-formed tokenizer this package cannot reproduce exactly
// (another model type, normalizer, pre-tokenizer or decoder, dropout, ...), so that callers can tell it from a
// broken file.
var ErrUnsupported = pipeline.ErrUnsupported

// Load reads a BPE tokenizer from path: a Hugging Face tokenizer.json file, or a directory that holds
// tokenizer.json or else vocab.json and merges.txt (GPT-2's layout). When the directory (the file's, for a file)
// also holds a tokenizer_config.json, its eos_token is EOS, its bos_token BOS, its add_bos_token and add_eos_token
// adjust EncodeForModel and its chat_template is kept. The error names path; it wraps ErrUnsupported for a
// tokenizer with a part this package does not reproduce (see the package documentation), and fs.ErrNotExist when
// the files are missing.
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

func loadTokenizerJSON(path string) (*BPE, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := parseTokenizerJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	t, err := fromJSON(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	if !t.gpt2Shaped() {
		t.source = data
	}
	return t, nil
}

// fromJSON builds the tokenizer of a parsed tokenizer.json. Pieces it does not read make an error that wraps
// ErrUnsupported and names them all.
func fromJSON(f *hfTokenizer) (*BPE, error) {
	var problems []error
	check := func(err error) error { // nil for an unsupported piece, noted in problems
		if errors.Is(err, ErrUnsupported) {
			problems = append(problems, err)
			return nil
		}
		return err
	}
	if m := f.Model.Type; m != "BPE" && !(m == "" && f.Model.Vocab != nil && f.Model.Merges != nil) {
		problems = append(problems, fmt.Errorf("model.type %q, want BPE", m))
	}
	if d := f.Model.Dropout; d != nil && *d > 0 {
		problems = append(problems, errors.New("model.dropout is set"))
	}
	if f.Model.ContinuingSubwordPrefix != "" || f.Model.EndOfWordSuffix != "" {
		problems = append(problems, errors.New("model has a subword prefix or suffix"))
	}
	norm, err := pipeline.BuildNormalizer(f.Normalizer, "normalizer")
	if err = check(err); err != nil {
		return nil, err
	}
	pre, err := pipeline.BuildPreTokenizer(f.PreTokenizer, "pre_tokenizer")
	if err = check(err); err != nil {
		return nil, err
	}
	dec, err := pipeline.BuildDecoder(f.Decoder, "decoder")
	if err = check(err); err != nil {
		return nil, err
	}
	post, err := buildPostProcessor(f.PostProcessor, "post_processor")
	if err = check(err); err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrUnsupported, errors.Join(problems...))
	}

	t, err := newTokenizer(f.Model.Vocab, f.Model.Merges, 0)
	if err != nil {
		return nil, err
	}
	t.ignoreMerges = f.Model.IgnoreMerges
	t.norm, t.pre, t.post, t.dec = norm, pre, post, dec
	if pre.ByteLevel {
		t.setByteLevel()
	}
	t.byteFallback, t.fuseUnk = f.Model.ByteFallback, f.Model.FuseUnk
	if !t.byteLevel {
		t.setMetaspaceCuts()
	}
	if t.byteFallback {
		t.setFallback()
	}
	if u := f.Model.UnkToken; u != nil {
		if id, ok := t.vocab[*u]; ok {
			t.unk = int32(id)
		}
	}
	switch {
	case dec == nil && t.byteLevel: // this package's reading of GPT-2 files without a decoder
		t.rawDecode = true
	case dec == nil:
		t.joinDecode = true
	default:
		t.rawDecode = pipeline.IsByteLevel(dec)
	}
	added, err := t.assignAddedIDs(f.AddedTokens)
	if err != nil {
		return nil, err
	}
	if err := t.setAdded(added); err != nil {
		return nil, err
	}
	return t, nil
}

// assignAddedIDs gives the added tokens of tokenizer.json their ids as Hugging Face's AddedVocabulary.add_tokens
// does: a token's id is that of the same content added before or in the vocabulary, else the next free one from
// the vocabulary's size on; the file's ids are not read. A content listed again replaces the earlier flags.
func (t *BPE) assignAddedIDs(tokens []hfAddedToken) ([]addedToken, error) {
	var out []addedToken
	index := make(map[string]int) // content → position in out
	next := len(t.vocab)
	for _, a := range tokens {
		if a.Content == "" {
			continue
		}
		normalized := !a.Special
		if a.Normalized != nil {
			normalized = *a.Normalized
		}
		tok := addedToken{Content: a.Content, Special: a.Special, SingleWord: a.SingleWord, LStrip: a.LStrip,
			RStrip: a.RStrip, Normalized: normalized}
		if i, ok := index[a.Content]; ok {
			tok.ID = out[i].ID
			out[i] = tok
			continue
		}
		if id, ok := t.vocab[a.Content]; ok {
			tok.ID = id
		} else {
			tok.ID, next = next, next+1
		}
		if tok.ID >= maxID {
			return nil, fmt.Errorf("added token %q has id %d", a.Content, tok.ID)
		}
		index[a.Content] = len(out)
		out = append(out, tok)
	}
	return out, nil
}

// gpt2Shaped reports whether marshalJSON writes all of t: byte-level BPE with GPT-2's ByteLevel pre-tokenizer and
// nothing else.
func (t *BPE) gpt2Shaped() bool {
	return t.byteLevel && t.allBytes && t.norm == nil && t.pre.Scan == pipeline.ScanGPT2 && t.rawDecode &&
		!t.byteFallback && t.unk < 0 && len(t.post.before)+len(t.post.after) == 0
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

// newBPE builds GPT-2's byte-level BPE from a vocabulary, merges in rank order, and added tokens (vocab.json and
// merges.txt, or Train). Every token but the added ones must be spelled in the byte alphabet, and every byte must
// have a one-byte token.
func newBPE(vocab map[string]int, merges [][2]string, added []addedToken) (*BPE, error) {
	size := 0
	for _, a := range added {
		if a.ID < 0 || a.ID >= maxID || a.Content == "" {
			return nil, fmt.Errorf("added token %q has id %d", a.Content, a.ID)
		}
		size = max(size, a.ID+1)
	}
	t, err := newTokenizer(vocab, merges, size)
	if err != nil {
		return nil, err
	}
	isAdded := make(map[int]bool, len(added))
	for _, a := range added {
		isAdded[a.ID] = true
		if name := t.names[a.ID]; name != "" && name != a.Content && name != pipeline.ByteLevel(a.Content) {
			return nil, fmt.Errorf("added token %q has id %d of token %q", a.Content, a.ID, name)
		}
	}
	for tok, id := range vocab {
		if _, ok := pipeline.RawBytes(tok); !ok && !isAdded[id] {
			return nil, fmt.Errorf("token %q (id %d) is not in the byte-level alphabet", tok, id)
		}
	}
	t.setByteLevel()
	for b := range 256 {
		if t.bytes[b] < 0 {
			return nil, fmt.Errorf("vocabulary has no token for byte 0x%02x (%q)", b, pipeline.ByteRune(byte(b)))
		}
	}
	t.pre, t.rawDecode = pipeline.PreTokenizer{ByteLevel: true, Scan: pipeline.ScanGPT2}, true
	if err := t.setAdded(added); err != nil {
		return nil, err
	}
	return t, nil
}

// newTokenizer makes a tokenizer with the model of a vocabulary and merges and no pipeline; size is the least
// VocabSize.
func newTokenizer(vocab map[string]int, merges [][2]string, size int) (*BPE, error) {
	for tok, id := range vocab {
		if id < 0 || id >= maxID {
			return nil, fmt.Errorf("token %q has id %d, want an integer from 0 to %d", tok, id, maxID-1)
		}
		size = max(size, id+1)
	}
	t := &BPE{eos: -1, bos: -1}
	t.names, t.vocab, t.unk = make([]string, size), vocab, -1
	for tok, id := range vocab {
		if t.names[id] != "" {
			return nil, fmt.Errorf("tokens %q and %q have the same id %d", t.names[id], tok, id)
		}
		t.names[id] = tok
	}
	if err := t.setMerges(merges); err != nil {
		return nil, err
	}
	return t, nil
}

// setAdded sets the added tokens, with their ids, and what depends on them: the tries that find them, the
// strings Decode writes, EOS and BOS.
func (t *BPE) setAdded(added []addedToken) error {
	size := len(t.names)
	for _, a := range added {
		size = max(size, a.ID+1)
	}
	t.names = slices.Grow(t.names, size-len(t.names))[:size]
	t.decName = t.names
	t.added = addedVocab{tokens: added}
	for i := range t.added.tokens {
		a := &t.added.tokens[i]
		t.names[a.ID] = a.Content
		a.pattern = a.Content
		if a.Normalized && t.norm != nil {
			a.pattern = t.norm.Normalize(a.Content)
		}
		switch {
		case a.pattern == "": // normalized away: never found
		case a.Normalized:
			t.added.norm.add(a.pattern, int32(i))
		default:
			t.added.raw.add(a.pattern, int32(i))
			t.added.plain = t.added.plain || !a.Special
		}
	}
	for _, a := range t.added.tokens {
		if a.pattern != a.Content { // Hugging Face decodes a normalized token as its normalized form
			if &t.decName[0] == &t.names[0] {
				t.decName = slices.Clone(t.names)
			}
			t.decName[a.ID] = a.pattern
		}
	}
	if t.rawDecode { // what ByteLevel's decoder makes of each token, added ones too, as in Hugging Face
		t.raw = make([]string, size)
		for id, name := range t.decName {
			t.raw[id] = name
			if raw, ok := pipeline.RawBytes(name); ok {
				t.raw[id] = raw
			}
		}
	}
	t.eos = -1
	for _, name := range []string{EndOfText, "<|end_of_text|>", "</s>"} {
		if id, ok := t.ID(name); ok {
			t.eos = id
			break
		}
	}
	t.bos = -1
	if len(t.post.before) > 0 {
		t.bos = t.post.before[0]
	}
	return nil
}
