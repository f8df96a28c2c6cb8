package dataset

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Config says where a run's examples come from and how they are tokenized, masked and
// batched: the data section of a recipe, with axolotl's key names. See Example for the
// file formats. DefaultConfig has the defaults below; Train is required.
type Config struct {
	// Train is the training file, .txt or .jsonl. Required.
	Train string `yaml:"train"`
	// Eval is the evaluation file, .txt or .jsonl, in the same format as Train. Default ""
	// (none; see ValSetSize).
	Eval string `yaml:"eval"`
	// ValSetSize holds examples of Train out for evaluation when Eval is empty: a fraction
	// in (0, 1) of the examples (rounded up, as HF datasets' train_test_split) or, when ≥ 1,
	// a whole count. Which examples is decided by hashing each example's index with the
	// seed, so the split is deterministic and needs no memory. Default 0 (none).
	ValSetSize float64 `yaml:"val_set_size"`
	// Format is how a .jsonl line becomes text: text, prompt_completion,
	// source_target or messages. A .txt file is always text. Default text.
	Format Format `yaml:"format"`
	// Template renders a prompt_completion or source_target example, with the
	// placeholders {prompt} and {completion}, or {source} and {target}, each exactly once
	// and in that order, e.g. "English: {source}\nSpanish: {target}". The text before
	// {completion}/{target} is the prompt. Default "{prompt}{completion}" for
	// prompt_completion; required for source_target; must be empty for text.
	Template string `yaml:"template"`
	// ChatTemplate renders format messages: "tokenizer_default" or "" (the tokenizer's
	// tokenizer_config.json chat_template), "chatml" (ChatML, for a tokenizer without a
	// template), or a Jinja2 chat template itself. Default "" (the tokenizer's).
	ChatTemplate string `yaml:"chat_template"`
	// TrainOnInputs keeps the prompt (or rendered source, or the turns that are not the
	// assistant's) tokens in the loss; false masks them, so only the completion and EOS
	// (the assistant turns with their end-of-turn tokens) are learnt. Default false
	// (axolotl).
	TrainOnInputs bool `yaml:"train_on_inputs"`
	// MaxSeqLen is the most tokens in one row (T). Longer examples keep their first
	// MaxSeqLen tokens. It must not exceed the model's n_positions. Default 1024 (GPT-2's
	// n_positions).
	MaxSeqLen int `yaml:"max_seq_len"`
	// Packing concatenates several examples into each MaxSeqLen row, each attending only
	// to itself. Default false (one example per row, padded to the batch's longest).
	Packing bool `yaml:"packing"`
	// ShuffleBuffer is how many examples the bounded shuffle buffer holds; 1 keeps the
	// file order. Default 10000.
	ShuffleBuffer int `yaml:"shuffle_buffer"`
}

// DefaultConfig returns the defaults documented on Config's fields; Train is empty.
func DefaultConfig() Config {
	return Config{Format: FormatText, MaxSeqLen: 1024, ShuffleBuffer: 10000}
}

// Validate returns every problem of d joined (nil when there is none); each message
// starts with the key it is about, e.g. "max_seq_len: must be ≥ 2, got 1". It reads no
// file.
func (d Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	formatOK := slices.Contains(formats, d.Format)
	if !formatOK {
		bad("format", "unknown value %q (allowed: %s)", d.Format, formatList())
	}
	checkFile := func(key, path string) {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".jsonl":
		case ".txt":
			if d.Format != FormatText && formatOK {
				bad(key, "%s is a .txt file, which holds plain text: format must be text, not %s", shownPath(path), d.Format)
			}
		default:
			bad(key, "%s: want a .txt or .jsonl file", shownPath(path))
		}
	}
	if d.Train == "" {
		bad("train", "is required (a .txt or .jsonl file)")
	} else {
		checkFile("train", d.Train)
	}
	if d.Eval != "" {
		checkFile("eval", d.Eval)
	}
	switch v := d.ValSetSize; {
	case !(v >= 0) || math.IsInf(v, 0):
		bad("val_set_size", "must be a fraction in (0, 1) or a count ≥ 1, got %g", v)
	case v >= 1 && v != math.Trunc(v):
		bad("val_set_size", "a count must be a whole number, got %g", v)
	case v > 0 && d.Eval != "":
		bad("val_set_size", "set either eval or val_set_size, not both")
	}
	if formatOK {
		if _, err := parseTemplate(d.Format, d.Template); err != nil {
			bad("template", "%v", err)
		}
		if d.ChatTemplate != "" && d.Format != FormatMessages {
			bad("chat_template", "applies only to format messages")
		}
	}
	if d.MaxSeqLen < 2 {
		bad("max_seq_len", "must be ≥ 2, got %d", d.MaxSeqLen)
	}
	if d.ShuffleBuffer < 1 {
		bad("shuffle_buffer", "must be ≥ 1 (1 = file order), got %d", d.ShuffleBuffer)
	}
	return errors.Join(errs...)
}

// shownPath returns path as a problem shows it: as it is, or quoted when it holds a
// character that is not printable, such as a newline, so that each problem is one line.
func shownPath(path string) string {
	if strings.ContainsFunc(path, func(r rune) bool { return !strconv.IsPrint(r) }) {
		return strconv.Quote(path)
	}
	return path
}

// Format is how the lines of a .jsonl file become examples.
type Format string

// The data formats.
const (
	// FormatText: {"text": ...}; the whole text is trained. Also every .txt file.
	FormatText Format = "text"
	// FormatPromptCompletion: {"prompt": ..., "completion": ...} rendered by the template.
	FormatPromptCompletion Format = "prompt_completion"
	// FormatSourceTarget: {"source": ..., "target": ...} rendered by the template.
	FormatSourceTarget Format = "source_target"
	// FormatMessages: {"messages": [{"role": ..., "content": ...}, ...]} rendered by the
	// chat template; the assistant turns are trained.
	FormatMessages Format = "messages"
)

var formats = []Format{FormatText, FormatPromptCompletion, FormatSourceTarget, FormatMessages}

// formatList lists the formats for error messages.
func formatList() string {
	s := make([]string, len(formats))
	for i, f := range formats {
		s[i] = string(f)
	}
	return strings.Join(s, ", ")
}

// UnmarshalText sets f from text, rejecting an unknown format with the allowed list.
func (f *Format) UnmarshalText(text []byte) error {
	v := Format(text)
	if !slices.Contains(formats, v) {
		return fmt.Errorf("unknown value %q (allowed: %s)", text, formatList())
	}
	*f = v
	return nil
}
