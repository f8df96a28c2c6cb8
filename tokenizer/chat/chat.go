package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ardanlabs/jinja"

	"github.com/llmtune/llmtune/tokenizer/chat/internal/jinja2"
	"github.com/llmtune/llmtune/tokenizer/chat/internal/pyvalue"
)

// Message is one turn of a conversation: a message dict of transformers' apply_chat_template.
type Message struct {
	Role    string // "system", "user", "assistant", "tool", …
	Content string
	// ReasoningContent is the message's "reasoning_content" (Qwen3: an assistant turn's thinking, rendered
	// between <think> tags). Empty leaves the key out of the message, so the template falls back to what
	// it does without it.
	ReasoningContent string
	// Extra holds further keys of the message as one JSON object, in order, e.g.
	// {"tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"x": 1}}}]}.
	// It may not repeat role, content or reasoning_content.
	Extra json.RawMessage
}

// Options are the other arguments of apply_chat_template.
type Options struct {
	// AddGenerationPrompt appends the header of an assistant turn (add_generation_prompt).
	AddGenerationPrompt bool
	// BOS, EOS, UNK and PAD are bos_token, eos_token, unk_token and pad_token, as tokenizer_config.json
	// gives them; an empty one is left undefined, as transformers leaves a token the tokenizer lacks.
	BOS, EOS, UNK, PAD string
	// Tools is the JSON array of tool schemas (tools); nil passes None.
	Tools json.RawMessage
	// Documents is the JSON array of documents (documents); nil passes None.
	Documents json.RawMessage
	// Vars are further template variables (apply_chat_template's extra keyword arguments, such as
	// enable_thinking or date_string); they override the special tokens. A value is a json.RawMessage,
	// decoded in order, or any value encoding/json encodes (maps with their keys sorted).
	Vars map[string]any
	// Now is the clock of strftime_now; nil is time.Now (transformers uses the local time).
	Now func() time.Time
}

// ErrUnsupported is wrapped by the error of Parse for a template that uses a construct this package does
// not render exactly as Jinja2; the message names the construct and its line.
var ErrUnsupported = pyvalue.ErrUnsupported

// TemplateError is the error of a template that called raise_exception(Message).
type TemplateError struct {
	Message string
}

func (e *TemplateError) Error() string { return "chat template: " + e.Message }

// Template is a parsed chat template, safe for concurrent use.
type Template struct {
	tmpl *jinja.Template
}

// Parse parses a chat template (tokenizer_config.json's chat_template). A syntax error is an error; a
// construct this package does not render exactly as transformers does is an error wrapping
// ErrUnsupported that names it.
func Parse(src string) (*Template, error) {
	text, err := jinja2.Translate(src)
	if err != nil {
		return nil, err
	}
	tmpl, err := jinja.Compile(text)
	if err != nil {
		return nil, fmt.Errorf("chat: internal error: the translated template does not compile: %w", err)
	}
	return &Template{tmpl: tmpl}, nil
}

// Render renders a conversation as apply_chat_template(messages, tokenize=False, …) does.
//
// To find the text of each assistant turn, render the prefix messages[:i] with AddGenerationPrompt and
// the prefix messages[:i+1] without it: for the templates of real models the first is a prefix of the
// second, and what the second adds is turn i (with the end-of-turn tokens the template writes). Check
// that the prefix property holds rather than assume it: some templates render the last turn differently
// (Qwen3 keeps the thinking only after the last user message).
func (t *Template) Render(msgs []Message, opts Options) (string, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	data := pyvalue.Scope(now, func(message string) error { return &TemplateError{Message: message} })
	list := make([]jinja.Value, len(msgs))
	for i, m := range msgs {
		d := jinja.NewDict()
		d.AsDict().Set("role", jinja.NewString(m.Role))
		d.AsDict().Set("content", jinja.NewString(m.Content))
		if m.ReasoningContent != "" {
			d.AsDict().Set("reasoning_content", jinja.NewString(m.ReasoningContent))
		}
		if len(m.Extra) > 0 {
			x, err := pyvalue.FromJSON(m.Extra)
			if err != nil || !x.IsDict() {
				return "", fmt.Errorf("chat: message %d: Extra is not a JSON object (%v)", i, err)
			}
			for _, k := range x.AsDict().Keys {
				if d.AsDict().Has(k) {
					return "", fmt.Errorf("chat: message %d: Extra repeats %q", i, k)
				}
				d.AsDict().Set(k, x.AsDict().Data[k])
			}
		}
		list[i] = d
	}
	data["messages"] = jinja.NewList(list)
	data["add_generation_prompt"] = jinja.NewBool(opts.AddGenerationPrompt)
	for name, raw := range map[string]json.RawMessage{"tools": opts.Tools, "documents": opts.Documents} {
		data[name] = jinja.None()
		if raw != nil {
			v, err := pyvalue.FromJSON(raw)
			if err != nil {
				return "", fmt.Errorf("chat: %s: %w", name, err)
			}
			data[name] = v
		}
	}
	for name, v := range map[string]string{"bos_token": opts.BOS, "eos_token": opts.EOS, "unk_token": opts.UNK, "pad_token": opts.PAD} {
		if v != "" {
			data[name] = jinja.NewString(v)
		}
	}
	for name, v := range opts.Vars {
		raw, ok := v.(json.RawMessage)
		if !ok {
			var err error
			if raw, err = json.Marshal(v); err != nil {
				return "", fmt.Errorf("chat: variable %s: %w", name, err)
			}
		}
		x, err := pyvalue.FromJSON(raw)
		if err != nil {
			return "", fmt.Errorf("chat: variable %s: %w", name, err)
		}
		if strings.HasPrefix(name, "__") || slices.Contains([]string{"messages", "add_generation_prompt", "tools", "documents"}, name) {
			return "", fmt.Errorf("chat: variable %s: the name is reserved", name)
		}
		data[name] = x
	}
	out, err := t.tmpl.RenderValues(data)
	if err != nil {
		var te *TemplateError
		var pe *pyvalue.Error
		if errors.As(err, &te) || errors.As(err, &pe) || errors.Is(err, ErrUnsupported) {
			return "", err
		}
		return "", fmt.Errorf("chat: rendering: %w", err)
	}
	return out, nil
}
