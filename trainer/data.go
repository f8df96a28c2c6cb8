package trainer

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Tokenizer is what the trainer needs of a tokenizer; *tokenizer.BPE has it. Encode
// must not recognise special tokens in the text; EOS is the id appended to every example
// and used as padding; Decode turns generated ids back into text (BLEU, chrF, samples).
type Tokenizer interface {
	Encode(text string) []int
	Decode(ids []int) string
	EOS() int
}

// MaxLineBytes is the longest line (and, in a .txt file, the longest paragraph) a data
// file may hold; a longer one is an error, not silently cut, and it bounds the memory one
// example can take while it is read.
const MaxLineBytes = 16 << 20

// Example is one record of a data file, rendered to text but not yet tokenized.
//
// How a record becomes an Example:
//   - .txt: examples are separated by one or more blank lines (lines of only white
//     space); an example is its lines joined with "\n" (as in axolotl's completion
//     datasets). Completion is the whole paragraph.
//   - .jsonl, format text: {"text": …}; Completion is the text.
//   - .jsonl, format prompt_completion: {"prompt": …, "completion": …}, rendered by the
//     template (default "{prompt}{completion}").
//   - .jsonl, format source_target: {"source": …, "target": …}, rendered by the template.
//
// With a template, Prompt is the template rendered up to where {completion} or {target}
// begins, and Completion is the rest. Other keys of a JSON line are ignored; blank lines
// are skipped.
type Example struct {
	Line       int    // 1-based line of the file where the record starts
	Prompt     string // rendered text before the trained part; "" for format text
	Completion string // the rest of the rendered text: the part always trained
	Reference  string // the raw completion or target field (for BLEU, chrF); "" for text
}

// Dataset is one data file and how its records become token sequences. It holds no file
// open; every pass (Examples, Loader) reads the file from the start, streaming.
//
// An example's tokens are Encode(Prompt) followed by Encode(Completion) and EOS: the two
// parts are encoded separately, so the prompt is tokenized as it will be at generation
// time and the boundary between masked and trained tokens is exact. Examples longer than
// MaxSeqLen keep their first MaxSeqLen tokens, so the prompt survives and only the end of
// the completion (with its EOS, since the text did not end there) is lost; they are
// counted in Stats.Truncated. An example left with no token to learn (an empty text, or a
// prompt that fills MaxSeqLen) is skipped and counted in Stats.Dropped.
type Dataset struct {
	Path          string // the .txt or .jsonl file
	Format        Format // how a JSON line becomes an Example; always text for .txt
	TrainOnInputs bool   // keep prompt tokens in the loss
	MaxSeqLen     int    // most tokens per example (and per packed row)

	tok   Tokenizer
	tmpl  template
	txt   bool   // a .txt file: examples are paragraphs
	split *split // nil: every record belongs to this dataset
}

// NewDataset returns the dataset of the file at path, read as cfg says (Format, Template,
// TrainOnInputs, MaxSeqLen; cfg.Train and cfg.Eval are not used). It checks the settings
// and that the file exists, and reads nothing else.
func NewDataset(path string, cfg DataConfig, tok Tokenizer) (*Dataset, error) {
	if tok == nil {
		return nil, errors.New("data: no tokenizer")
	}
	d := &Dataset{Path: path, Format: cfg.Format, TrainOnInputs: cfg.TrainOnInputs, MaxSeqLen: cfg.MaxSeqLen, tok: tok}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".txt":
		d.txt = true
		if d.Format != FormatText {
			return nil, fmt.Errorf("data %s: a .txt file holds plain text: data.format must be text, not %q", path, d.Format)
		}
	case ".jsonl":
	default:
		return nil, fmt.Errorf("data %s: want a .txt or .jsonl file", path)
	}
	var err error
	if d.tmpl, err = parseTemplate(d.Format, cfg.Template); err != nil {
		return nil, fmt.Errorf("data %s: template: %w", path, err)
	}
	if d.MaxSeqLen < 2 {
		return nil, fmt.Errorf("data %s: max_seq_len must be ≥ 2, got %d", path, d.MaxSeqLen)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	return d, nil
}

// OpenData returns the training and evaluation datasets of a recipe. eval is nil when the
// recipe has neither data.eval nor data.val_set_size.
//
// With data.val_set_size, the held-out records are chosen by hashing each record's index
// in the file (0, 1, … over non-blank lines or paragraphs) with the recipe's seed: the
// N records with the smallest hashes go to eval, where N is the count, or ceil(fraction ·
// records) as HF datasets' train_test_split rounds. Finding them takes two quick passes
// over the file (no parsing, no tokenizing) and memory for N hashes; afterwards the split
// is decided record by record with no memory, so both datasets stream. The split depends
// only on the seed and the number of records, never on their content or on shuffling.
func OpenData(r *Recipe, tok Tokenizer) (train, eval *Dataset, err error) {
	if train, err = NewDataset(r.Data.Train, r.Data, tok); err != nil {
		return nil, nil, err
	}
	switch {
	case r.Data.Eval != "":
		if eval, err = NewDataset(r.Data.Eval, r.Data, tok); err != nil {
			return nil, nil, err
		}
	case r.Data.ValSetSize > 0:
		s, err := newSplit(train, r.Seed, r.Data.ValSetSize)
		if err != nil {
			return nil, nil, err
		}
		e := *train
		e.split = &split{held: s.held, keepHeld: true}
		train.split = s
		eval = &e
	}
	return train, eval, nil
}

// Examples yields the dataset's examples in file order (the held-out ones only, for an
// evaluation split), or a single error naming file, line and field, after which it stops.
func (d *Dataset) Examples() iter.Seq2[Example, error] {
	return func(yield func(Example, error) bool) {
		rr, err := openRecords(d.Path, d.txt)
		if err != nil {
			yield(Example{}, err)
			return
		}
		defer rr.Close()
		for {
			rec, line, idx, err := rr.next()
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(Example{}, err)
				return
			}
			if !d.split.keep(idx) {
				continue
			}
			ex, err := d.parse(rec, line)
			if !yield(ex, err) || err != nil {
				return
			}
		}
	}
}

// tokens is one tokenized example: ids (at most MaxSeqLen) and how many leading ids are
// prompt, whose prediction carries no loss. int32 halves the shuffle buffer's memory.
type tokens struct {
	ids       []int32
	prompt    int  // leading ids masked from the loss (0 with train_on_inputs)
	truncated bool // cut to MaxSeqLen
}

// tokenize encodes ex as Encode(Prompt) ++ Encode(Completion) ++ [EOS], keeps the first
// MaxSeqLen ids, and reports whether any target counts in the loss.
func (d *Dataset) tokenize(ex Example) (tokens, bool) {
	var ids []int
	if ex.Prompt != "" {
		ids = d.tok.Encode(ex.Prompt)
	}
	prompt := len(ids)
	if ex.Completion != "" {
		ids = append(ids, d.tok.Encode(ex.Completion)...)
	}
	ids = append(ids, d.tok.EOS())
	tk := tokens{prompt: prompt}
	if d.TrainOnInputs {
		tk.prompt = 0
	}
	if len(ids) > d.MaxSeqLen {
		ids = ids[:d.MaxSeqLen]
		tk.truncated = true
	}
	tk.ids = make([]int32, len(ids))
	for i, id := range ids {
		tk.ids[i] = int32(id)
	}
	return tk, tk.lossTokens() > 0
}

// lossTokens is the number of targets that count: position t predicts ids[t+1], which
// counts when it is not a prompt token.
func (tk tokens) lossTokens() int {
	return max(0, len(tk.ids)-max(tk.prompt, 1))
}

// parse turns one record into an Example; errors name file, line and field.
func (d *Dataset) parse(rec []byte, line int) (Example, error) {
	ex := Example{Line: line}
	if d.txt {
		ex.Completion = string(rec)
		return ex, nil
	}
	fail := func(format string, args ...any) (Example, error) {
		return Example{}, fmt.Errorf("%s:%d: %s", d.Path, line, fmt.Sprintf(format, args...))
	}
	rec = bytes.TrimSpace(rec)
	if !json.Valid(rec) {
		var v any
		err := json.Unmarshal(rec, &v)
		return fail("invalid JSON: %v", strings.TrimPrefix(fmt.Sprint(err), "json: "))
	}
	if rec[0] != '{' {
		return fail("want a JSON object, got %s", jsonKind(rec))
	}
	obj := jsonObject(rec)
	field := func(name string) (string, error) {
		raw, ok := obj.get(name)
		if !ok {
			return "", fmt.Errorf("%s:%d: missing field %q (data.format %s wants %s; the line has %s)",
				d.Path, line, name, d.Format, d.tmpl.fields(), obj.keys())
		}
		if raw[0] != '"' {
			return "", fmt.Errorf("%s:%d: field %q is %s, want a string", d.Path, line, name, jsonKind(raw))
		}
		return jsonString(raw), nil
	}
	if d.Format == FormatText {
		text, err := field("text")
		ex.Completion = text
		return ex, err
	}
	first, err := field(d.tmpl.first)
	if err != nil {
		return Example{}, err
	}
	second, err := field(d.tmpl.second)
	if err != nil {
		return Example{}, err
	}
	ex.Prompt, ex.Completion = d.tmpl.render(first, second)
	ex.Reference = second
	return ex, nil
}

// jsonKind names the JSON type of the value starting raw.
func jsonKind(raw []byte) string {
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// jsonFields are the top-level keys of a JSON object and their raw values.
type jsonFields []struct {
	key string
	raw []byte
}

// jsonObject splits rec, a JSON object that json.Valid accepted, into its top-level
// fields. It is a few times faster than json.Unmarshal into a map, which matters when a
// resumed run replays a large file.
func jsonObject(rec []byte) jsonFields {
	var fs jsonFields
	i := 1
	for {
		i = skipSpace(rec, i)
		if rec[i] == '}' {
			return fs
		}
		end := jsonStringEnd(rec, i)
		key := jsonString(rec[i:end])
		i = skipSpace(rec, end) + 1 // past ':'
		i = skipSpace(rec, i)
		end = jsonValueEnd(rec, i)
		fs = append(fs, struct {
			key string
			raw []byte
		}{key, rec[i:end]})
		i = skipSpace(rec, end)
		if rec[i] == ',' {
			i++
		}
	}
}

// get returns the raw value of key; the last one wins, as with encoding/json.
func (fs jsonFields) get(key string) ([]byte, bool) {
	for i := len(fs) - 1; i >= 0; i-- {
		if fs[i].key == key {
			return fs[i].raw, true
		}
	}
	return nil, false
}

// keys lists the keys, quoted and sorted, for error messages.
func (fs jsonFields) keys() string {
	if len(fs) == 0 {
		return "none"
	}
	keys := make([]string, len(fs))
	for i, f := range fs {
		keys[i] = strconv.Quote(f.key)
	}
	slices.Sort(keys)
	return strings.Join(slices.Compact(keys), ", ")
}

// skipSpace returns the index of the first non-space byte of b at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// jsonStringEnd returns the index just past the valid JSON string starting at b[i].
func jsonStringEnd(b []byte, i int) int {
	for j := i + 1; ; {
		k := bytes.IndexByte(b[j:], '"') + j
		n := 0 // backslashes right before the quote: an odd count escapes it
		for n < k-j && b[k-1-n] == '\\' {
			n++
		}
		if n%2 == 0 {
			return k + 1
		}
		j = k + 1
	}
}

// jsonValueEnd returns the index just past the valid JSON value starting at b[i].
func jsonValueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return jsonStringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; ; j++ {
			switch b[j] {
			case '"':
				j = jsonStringEnd(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
	}
	j := i
	for j < len(b) && !bytes.ContainsRune([]byte(",}] \t\r\n"), rune(b[j])) {
		j++
	}
	return j
}

// jsonString decodes a valid JSON string literal, quotes included.
func jsonString(raw []byte) string {
	body := raw[1 : len(raw)-1]
	if bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body) {
		return string(body)
	}
	var s string
	_ = json.Unmarshal(raw, &s) // valid: cannot fail; replaces bad UTF-8 as encoding/json does
	return s
}

// template is a parsed data.template: before{first}between{second}after.
type template struct {
	first, second          string // field names: prompt, completion or source, target
	before, between, after string
}

// parseTemplate checks a template for format f and splits it at its placeholders.
func parseTemplate(f Format, s string) (template, error) {
	var t template
	switch f {
	case FormatText:
		if s != "" {
			return t, errors.New("applies only to formats prompt_completion and source_target")
		}
		return t, nil
	case FormatPromptCompletion:
		t.first, t.second = "prompt", "completion"
		if s == "" {
			s = "{prompt}{completion}"
		}
	case FormatSourceTarget:
		t.first, t.second = "source", "target"
		if s == "" {
			return t, errors.New(`is required for format source_target, e.g. "English: {source}\nSpanish: {target}"`)
		}
	default:
		return t, fmt.Errorf("unknown format %q", f)
	}
	for _, name := range []string{"prompt", "completion", "source", "target"} {
		if name != t.first && name != t.second && strings.Contains(s, "{"+name+"}") {
			return t, fmt.Errorf("{%s} is not a placeholder of format %s (use {%s} and {%s})", name, f, t.first, t.second)
		}
	}
	for _, name := range []string{t.first, t.second} {
		if n := strings.Count(s, "{"+name+"}"); n != 1 {
			return t, fmt.Errorf("%q must contain {%s} exactly once, found %d", s, name, n)
		}
	}
	i, j := strings.Index(s, "{"+t.first+"}"), strings.Index(s, "{"+t.second+"}")
	if i > j {
		return t, fmt.Errorf("%q must put {%s} before {%s}", s, t.first, t.second)
	}
	t.before = s[:i]
	t.between = s[i+len(t.first)+2 : j]
	t.after = s[j+len(t.second)+2:]
	return t, nil
}

// render returns the prompt (up to where the second field begins) and the rest.
func (t template) render(first, second string) (prompt, completion string) {
	return t.before + first + t.between, second + t.after
}

// fields describes the JSON fields the template's format wants.
func (t template) fields() string {
	if t.first == "" {
		return `"text"`
	}
	return fmt.Sprintf("%q and %q", t.first, t.second)
}

// records reads a data file record by record: non-blank lines of a .jsonl file, or
// blank-line-separated paragraphs of a .txt file, through a bufio.Reader whose lines are
// limited to MaxLineBytes, so memory stays flat whatever the file's size.
type records struct {
	path  string
	f     *os.File
	r     *bufio.Reader
	txt   bool
	line  int    // lines read so far
	index int    // records returned so far
	buf   []byte // the current line when it spans several buffer fills
	para  []byte // the current paragraph (.txt)
}

// openRecords opens path for reading records.
func openRecords(path string, txt bool) (*records, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	return &records{path: path, f: f, r: bufio.NewReaderSize(f, 64<<10), txt: txt}, nil
}

// Close closes the file.
func (rr *records) Close() error { return rr.f.Close() }

// next returns the next record (valid until the following call), the line it starts on
// and its index, or io.EOF after the last. A file with no record at all is an error.
func (rr *records) next() (rec []byte, line, index int, err error) {
	if rr.txt {
		rec, line, err = rr.nextParagraph()
	} else {
		for {
			rec, err = rr.readLine()
			if err != nil || len(bytes.TrimSpace(rec)) > 0 {
				break
			}
		}
		line = rr.line
	}
	if err == io.EOF && rr.index == 0 {
		err = fmt.Errorf("%s: empty file: no examples", rr.path)
	}
	if err != nil {
		return nil, 0, 0, err
	}
	rr.index++
	return rec, line, rr.index - 1, nil
}

// nextParagraph returns the next run of non-blank lines joined with "\n".
func (rr *records) nextParagraph() ([]byte, int, error) {
	rr.para = rr.para[:0]
	start := 0
	for {
		l, err := rr.readLine()
		if err == io.EOF && start > 0 {
			return rr.para, start, nil
		}
		if err != nil {
			return nil, 0, err
		}
		if len(bytes.TrimSpace(l)) == 0 {
			if start > 0 {
				return rr.para, start, nil
			}
			continue
		}
		if start == 0 {
			start = rr.line
		} else {
			rr.para = append(rr.para, '\n')
		}
		if len(rr.para)+len(l) > MaxLineBytes {
			return nil, 0, fmt.Errorf("%s:%d: paragraph longer than %d MiB: separate examples with blank lines",
				rr.path, start, MaxLineBytes>>20)
		}
		rr.para = append(rr.para, l...)
	}
}

// readLine returns the next line without its "\n" or "\r\n" (and, on line 1, without a
// UTF-8 byte-order mark), or io.EOF at the end of the file.
func (rr *records) readLine() ([]byte, error) {
	rr.buf = rr.buf[:0]
	var l []byte
	for {
		chunk, err := rr.r.ReadSlice('\n')
		if len(rr.buf)+len(chunk) > MaxLineBytes {
			return nil, fmt.Errorf("%s:%d: line longer than %d MiB", rr.path, rr.line+1, MaxLineBytes>>20)
		}
		if err == bufio.ErrBufferFull {
			rr.buf = append(rr.buf, chunk...)
			continue
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("read %s: %w", rr.path, err)
		}
		if len(rr.buf) > 0 {
			l = append(rr.buf, chunk...)
			rr.buf = l
		} else {
			l = chunk
		}
		if err == io.EOF && len(l) == 0 {
			return nil, io.EOF
		}
		break
	}
	rr.line++
	l = bytes.TrimSuffix(l, []byte("\n"))
	l = bytes.TrimSuffix(l, []byte("\r"))
	if rr.line == 1 {
		l = bytes.TrimPrefix(l, []byte("\xef\xbb\xbf"))
	}
	return l, nil
}

// split says which records of a file belong to a dataset when an evaluation set is held
// out of it: record i is held out when (hash(seed, i), i) ≤ the threshold pair.
type split struct {
	held     *holdout
	keepHeld bool // this dataset is the held-out part
}

// holdout is the threshold: the largest (hash, index) pair among the held-out records.
type holdout struct {
	seed  uint64
	hash  uint64
	index int
}

// keep reports whether record index belongs to the dataset; a nil split keeps all.
func (s *split) keep(index int) bool {
	if s == nil {
		return true
	}
	h := recordHash(s.held.seed, index)
	held := h < s.held.hash || (h == s.held.hash && index <= s.held.index)
	return held == s.keepHeld
}

// newSplit finds the holdout threshold of d's file for val_set_size size (a fraction
// below 1, else a count) and returns the training side's split.
func newSplit(d *Dataset, seed uint64, size float64) (*split, error) {
	count := func(visit func(i int)) (int, error) {
		rr, err := openRecords(d.Path, d.txt)
		if err != nil {
			return 0, err
		}
		defer rr.Close()
		for {
			_, _, i, err := rr.next()
			if err == io.EOF {
				return rr.index, nil
			}
			if err != nil {
				return 0, err
			}
			visit(i)
		}
	}
	n := int(size)
	if size < 1 {
		total, err := count(func(int) {})
		if err != nil {
			return nil, err
		}
		n = int(math.Ceil(size * float64(total)))
	}
	var h pairHeap
	total, err := count(func(i int) {
		p := hashPair{recordHash(seed, i), i}
		if len(h) < n {
			heap.Push(&h, p)
		} else if p.less(h[0]) {
			h[0] = p
			heap.Fix(&h, 0)
		}
	})
	if err != nil {
		return nil, err
	}
	if n >= total {
		return nil, fmt.Errorf("data %s: val_set_size %g holds out %d of the %d examples, leaving none to train on", d.Path, size, n, total)
	}
	return &split{held: &holdout{seed: seed, hash: h[0].hash, index: h[0].index}}, nil
}

// recordHash mixes the seed and a record index (SplitMix64).
func recordHash(seed uint64, index int) uint64 {
	return splitMix64(splitMix64(seed) ^ uint64(index))
}

// splitMix64 is the SplitMix64 finaliser (Steele, Lea, Flood 2014).
func splitMix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// hashPair orders records by hash, then index.
type hashPair struct {
	hash  uint64
	index int
}

// less orders by hash, then index.
func (p hashPair) less(q hashPair) bool {
	return p.hash < q.hash || (p.hash == q.hash && p.index < q.index)
}

// pairHeap is a max-heap of hashPairs: the root is the largest kept pair.
type pairHeap []hashPair

func (h pairHeap) Len() int           { return len(h) }
func (h pairHeap) Less(i, j int) bool { return h[j].less(h[i]) }
func (h pairHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *pairHeap) Push(x any)        { *h = append(*h, x.(hashPair)) }
func (h *pairHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
