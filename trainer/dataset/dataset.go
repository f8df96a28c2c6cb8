package dataset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/llmtune/llmtune/transformer/generate"
)

// Tokenizer is what a Dataset needs of a tokenizer; *tokenizer.BPE has it. Encode must
// not recognise special tokens in the text; EOS is the id appended to every example and
// used as padding. A tokenizer whose model expects tokens before every text (Llama's and
// Mistral's BOS) says so with ModelEncoder.
type Tokenizer interface {
	Encode(text string) []int
	EOS() int
}

// ModelEncoder is implemented by tokenizers that know what their model's post-processor
// adds around a text (Hugging Face's add_special_tokens=True): EncodeForModel("") is the
// prefix every example starts with — [BOS] for Llama 3 and Mistral-style tokenizers,
// nothing for GPT-2 and Qwen2.
type ModelEncoder interface {
	EncodeForModel(text string) []int
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
//   - .jsonl, format messages: {"messages": [{"role": …, "content": …}, …]}, roles
//     system, user and assistant, at least one assistant turn, rendered by the chat
//     template (data.chat_template) as transformers' apply_chat_template renders it.
//
// With a template, Prompt is the template rendered up to where {completion} or {target}
// begins, and Completion is the rest. Other keys of a JSON line are ignored; blank lines
// are skipped.
//
// A conversation is cut into Segments: each assistant turn i is what the template adds
// between rendering the turns before it with the generation prompt (add_generation_prompt,
// "<|im_start|>assistant\n") and rendering the turns up to it, so it ends with the
// template's end-of-turn tokens ("<|im_end|>\n"). A template that renders a turn
// differently once others follow (Qwen3 drops an earlier turn's empty thinking block)
// has the turn found in the whole rendering by its content and what follows it there; one
// where it cannot be found is an error. Prompt and Completion are the text before the
// last assistant turn and that turn, Reference its content.
type Example struct {
	Line       int       // 1-based line of the file where the record starts
	Prompt     string    // rendered text before the trained part; "" for format text
	Completion string    // the rest of the rendered text: the part always trained
	Reference  string    // the raw completion or target field (for BLEU, chrF); "" for text
	Segments   []Segment // format messages: the whole rendered conversation
}

// Dataset is one data file and how its records become token sequences. It holds no file
// open; every pass (Examples, Loader) reads the file from the start, streaming.
//
// An example's tokens are the model's prefix (BOS, see ModelEncoder; part of the prompt),
// Encode(Prompt), Encode(Completion) and EOS: the two
// parts are encoded separately, so the prompt is tokenized as it will be at generation
// time and the boundary between masked and trained tokens is exact. Examples longer than
// MaxSeqLen keep their first MaxSeqLen tokens, so the prompt survives and only the end of
// the completion (with its EOS, since the text did not end there) is lost; they are
// counted in Stats.Truncated. An example left with no token to learn (an empty text, or a
// prompt that fills MaxSeqLen) is skipped and counted in Stats.Dropped.
//
// A conversation (format messages) is its segments, each encoded with the tokenizer's
// EncodeWithSpecial (ChatTokenizer) and concatenated, with neither the model's prefix
// nor EOS added: the template writes the BOS and the end-of-turn tokens. Its assistant
// segments are trained, the rest masked unless TrainOnInputs.
type Dataset struct {
	Path          string // the .txt or .jsonl file
	Format        Format // how a JSON line becomes an Example; always text for .txt
	TrainOnInputs bool   // keep prompt tokens in the loss
	MaxSeqLen     int    // most tokens per example (and per packed row)

	tok    Tokenizer
	prefix []int // what the model expects before every text (BOS), as the prompt's first tokens
	tmpl   generate.Template
	chat   *chatFormat // format messages
	txt    bool        // a .txt file: examples are paragraphs
	split  *split      // nil: every record belongs to this dataset
}

// New returns the dataset of the file at path, read as cfg says (Format, Template,
// TrainOnInputs, MaxSeqLen; cfg.Train and cfg.Eval are not used). It checks the settings
// and that the file exists, and reads nothing else.
func New(path string, cfg Config, tok Tokenizer) (*Dataset, error) {
	if tok == nil {
		return nil, errors.New("data: no tokenizer")
	}
	d := &Dataset{Path: path, Format: cfg.Format, TrainOnInputs: cfg.TrainOnInputs, MaxSeqLen: cfg.MaxSeqLen, tok: tok}
	if me, ok := tok.(ModelEncoder); ok {
		d.prefix = me.EncodeForModel("")
	}
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
	if d.Format == FormatMessages {
		if d.chat, err = newChatFormat(cfg, tok); err != nil {
			return nil, fmt.Errorf("data %s: %w", path, err)
		}
	}
	if d.MaxSeqLen < 2 {
		return nil, fmt.Errorf("data %s: max_seq_len must be ≥ 2, got %d", path, d.MaxSeqLen)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	return d, nil
}

// Open returns the training and evaluation datasets of cfg. eval is nil when cfg has
// neither Eval nor ValSetSize.
//
// With data.val_set_size, the held-out records are chosen by hashing each record's index
// in the file (0, 1, … over non-blank lines or paragraphs) with seed: the
// N records with the smallest hashes go to eval, where N is the count, or ceil(fraction ·
// records) as HF datasets' train_test_split rounds. Finding them takes two quick passes
// over the file (no parsing, no tokenizing) and memory for N hashes; afterwards the split
// is decided record by record with no memory, so both datasets stream. The split depends
// only on the seed and the number of records, never on their content or on shuffling.
func Open(cfg Config, seed uint64, tok Tokenizer) (train, eval *Dataset, err error) {
	if train, err = New(cfg.Train, cfg, tok); err != nil {
		return nil, nil, err
	}
	switch {
	case cfg.Eval != "":
		if eval, err = New(cfg.Eval, cfg, tok); err != nil {
			return nil, nil, err
		}
	case cfg.ValSetSize > 0:
		s, err := newSplit(train, seed, cfg.ValSetSize)
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

// tokens is one tokenized example: ids (at most MaxSeqLen) and which of them are trained
// as targets: all but the prompt, or for a conversation those in spans. int32 halves the
// shuffle buffer's memory.
type tokens struct {
	ids       []int32
	prompt    int    // leading ids masked from the loss (0 with train_on_inputs)
	spans     []span // when not nil, only these ids are trained (format messages)
	truncated bool   // cut to MaxSeqLen
}

// trains reports whether ids[j] counts as a target (the prediction of position j-1).
func (tk *tokens) trains(j int) bool {
	if j < 1 || j >= len(tk.ids) {
		return false
	}
	if tk.spans == nil {
		return j >= tk.prompt
	}
	for _, s := range tk.spans {
		if int32(j) >= s.start && int32(j) < s.end {
			return true
		}
	}
	return false
}

// tokenize encodes ex as Encode(Prompt) ++ Encode(Completion) ++ [EOS], keeps the first
// MaxSeqLen ids, and reports whether any target counts in the loss.
func (d *Dataset) tokenize(ex Example) (tokens, bool) {
	if d.chat != nil {
		ids, spans := d.chat.tokenize(ex.Segments, d.TrainOnInputs)
		if spans == nil && !d.TrainOnInputs {
			spans = []span{} // no assistant token left: nothing trains
		}
		return d.pack(ids, tokens{spans: spans})
	}
	ids := slices.Clone(d.prefix)
	if ex.Prompt != "" {
		ids = append(ids, d.tok.Encode(ex.Prompt)...)
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
	return d.pack(ids, tk)
}

// pack stores ids in tk, cut to MaxSeqLen, and reports whether any target counts.
func (d *Dataset) pack(ids []int, tk tokens) (tokens, bool) {
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
// counts when it trains.
func (tk tokens) lossTokens() int {
	if tk.spans == nil {
		return max(0, len(tk.ids)-max(tk.prompt, 1))
	}
	n := 0
	for _, s := range tk.spans {
		n += max(0, min(int(s.end), len(tk.ids))-max(int(s.start), 1))
	}
	return n
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
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(rec, &obj); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) { // valid JSON, but not an object
			return fail("want a JSON object, got %s", jsonKind(bytes.TrimSpace(rec)))
		}
		return fail("invalid JSON: %v", strings.TrimPrefix(err.Error(), "json: "))
	}
	if obj == nil {
		return fail("want a JSON object, got null")
	}
	field := func(name string) (string, error) {
		raw, ok := obj[name]
		if !ok {
			return "", fmt.Errorf("%s:%d: missing field %q (data.format %s wants %s; the line has %s)",
				d.Path, line, name, d.Format, fields(d.Format, d.tmpl), keys(obj))
		}
		var s string
		if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
			return "", fmt.Errorf("%s:%d: field %q is %s, want a string", d.Path, line, name, jsonKind(raw))
		}
		return s, nil
	}
	if d.Format == FormatText {
		text, err := field("text")
		ex.Completion = text
		return ex, err
	}
	if d.Format == FormatMessages {
		raw, ok := obj["messages"]
		if !ok {
			return fail(`missing field "messages" (data.format messages; the line has %s)`, keys(obj))
		}
		ex, err := d.chat.parseMessages(raw)
		if err != nil {
			return fail("%v", err)
		}
		ex.Line = line
		return ex, nil
	}
	first, err := field(d.tmpl.Input)
	if err != nil {
		return Example{}, err
	}
	second, err := field(d.tmpl.Output)
	if err != nil {
		return Example{}, err
	}
	ex.Prompt, ex.Completion = d.tmpl.Render(first, second)
	ex.Reference = second
	return ex, nil
}

// keys lists the keys of obj, quoted and sorted, for error messages.
func keys(obj map[string]json.RawMessage) string {
	if len(obj) == 0 {
		return "none"
	}
	ks := make([]string, 0, len(obj))
	for k := range obj {
		ks = append(ks, strconv.Quote(k))
	}
	slices.Sort(ks)
	return strings.Join(ks, ", ")
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
