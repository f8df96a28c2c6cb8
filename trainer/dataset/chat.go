package dataset

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/llmtune/llmtune/tokenizer"
	"github.com/llmtune/llmtune/tokenizer/chat"
)

// ChatTokenizer is what format messages needs of a tokenizer besides Tokenizer;
// *tokenizer.BPE has it. A rendered conversation is encoded with EncodeWithSpecial, as
// transformers' apply_chat_template(tokenize=True) encodes it (add_special_tokens=False):
// the template writes the BOS and the turn markers itself.
type ChatTokenizer interface {
	EncodeWithSpecial(text string) []int
	ChatTemplate() string
	SpecialTokens() tokenizer.SpecialTokens
}

// The values of data.chat_template that name a template rather than spell one.
const (
	ChatTemplateTokenizer = "tokenizer_default" // tokenizer_config.json's chat_template (also "")
	ChatTemplateChatML    = "chatml"            // chat.ChatML
)

// chatRoles are the roles a messages record may use.
var chatRoles = []string{"system", "user", "assistant"}

// chatClock is the clock of strftime_now while data are rendered: 26 July 2024, the date that Llama 3.1's
// template writes when it has no clock, so that a data file renders (and a run resumes) the same on every day.
func chatClock() time.Time { return time.Date(2024, 7, 26, 0, 0, 0, 0, time.UTC) }

// chatFormat renders the conversations of format messages.
type chatFormat struct {
	tmpl *chat.Template
	opts chat.Options
	enc  func(string) []int
}

// newChatFormat returns the renderer of cfg.ChatTemplate for tok.
func newChatFormat(cfg Config, tok Tokenizer) (*chatFormat, error) {
	ct, ok := tok.(ChatTokenizer)
	if !ok {
		return nil, errors.New("data.format messages needs a tokenizer that encodes special tokens (a tokenizer.json)")
	}
	src := ChatTemplateSource(cfg.ChatTemplate, ct.ChatTemplate())
	if src == "" {
		return nil, errors.New("the tokenizer has no chat_template (tokenizer_config.json): set data.chat_template to chatml or to a Jinja template")
	}
	tmpl, err := chat.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("data.chat_template: %w", err)
	}
	opts := ChatOptions(ct)
	opts.Now = chatClock
	return &chatFormat{tmpl: tmpl, enc: ct.EncodeWithSpecial, opts: opts}, nil
}

// ChatTemplateSource returns the Jinja source that a data.chat_template setting names for
// a tokenizer whose own template is own: own for "" and tokenizer_default ("" when the
// tokenizer has none), chat.ChatML for chatml, else the setting itself.
func ChatTemplateSource(setting, own string) string {
	switch setting {
	case "", ChatTemplateTokenizer:
		return own
	case ChatTemplateChatML:
		return chat.ChatML
	}
	return setting
}

// ChatOptions returns the render options that transformers' apply_chat_template gets
// from a tokenizer: its special tokens as bos_token, eos_token, unk_token, pad_token.
func ChatOptions(tok ChatTokenizer) chat.Options {
	sp := tok.SpecialTokens()
	return chat.Options{BOS: sp.BOS, EOS: sp.EOS, UNK: sp.UNK, PAD: sp.PAD}
}

// render renders msgs, with the header of an assistant turn after them if gen.
func (c *chatFormat) render(msgs []chat.Message, gen bool) (string, error) {
	o := c.opts
	o.AddGenerationPrompt = gen
	return c.tmpl.Render(msgs, o)
}

// Segment is a stretch of a rendered conversation: the text of an assistant turn as the
// template writes it (Train), or what lies between two of them.
type Segment struct {
	Text  string
	Train bool
}

// parseMessages turns the messages field of a record into an Example (see Example); the
// errors are what fail prefixes with file and line.
func (c *chatFormat) parseMessages(raw json.RawMessage) (Example, error) {
	var items []json.RawMessage
	if raw[0] != '[' || json.Unmarshal(raw, &items) != nil {
		return Example{}, fmt.Errorf(`field "messages" is %s, want an array of {"role", "content"}`, jsonKind(raw))
	}
	if len(items) == 0 {
		return Example{}, errors.New(`field "messages" is empty`)
	}
	msgs := make([]chat.Message, len(items))
	last := -1
	for i, it := range items {
		var obj map[string]json.RawMessage
		if it[0] != '{' || json.Unmarshal(it, &obj) != nil {
			return Example{}, fmt.Errorf(`messages[%d] is %s, want {"role": …, "content": …}`, i, jsonKind(it))
		}
		var m struct{ Role, Content *string }
		for _, k := range []struct {
			name string
			dst  **string
		}{{"role", &m.Role}, {"content", &m.Content}} {
			v, ok := obj[k.name]
			if !ok {
				return Example{}, fmt.Errorf("messages[%d]: missing field %q (the message has %s)", i, k.name, keys(obj))
			}
			if v[0] != '"' || json.Unmarshal(v, k.dst) != nil {
				return Example{}, fmt.Errorf("messages[%d]: field %q is %s, want a string", i, k.name, jsonKind(v))
			}
		}
		if !slices.Contains(chatRoles, *m.Role) {
			return Example{}, fmt.Errorf("messages[%d]: unknown role %q (allowed: %s)", i, *m.Role, strings.Join(chatRoles, ", "))
		}
		msgs[i] = chat.Message{Role: *m.Role, Content: *m.Content}
		if *m.Role == "assistant" {
			last = i
		}
	}
	if last < 0 {
		return Example{}, errors.New(`field "messages" has no assistant turn to learn`)
	}
	full, err := c.render(msgs, false)
	if err != nil {
		return Example{}, err
	}
	ex := Example{Reference: msgs[last].Content}
	pos := 0
	for i, m := range msgs {
		if m.Role != "assistant" {
			continue
		}
		before, err := c.render(msgs[:i], true)
		if err != nil {
			return Example{}, err
		}
		upto, err := c.render(msgs[:i+1], false)
		if err != nil {
			return Example{}, err
		}
		start, end, err := turnSpan(full, before, upto, m.Content, pos)
		if err != nil {
			return Example{}, fmt.Errorf("messages[%d]: %w", i, err)
		}
		if start > pos {
			ex.Segments = append(ex.Segments, Segment{Text: full[pos:start]})
		}
		ex.Segments = append(ex.Segments, Segment{Text: full[start:end], Train: true})
		pos = end
		if i == last {
			ex.Prompt, ex.Completion = full[:start], full[start:end]
		}
	}
	if pos < len(full) {
		ex.Segments = append(ex.Segments, Segment{Text: full[pos:]})
	}
	return ex, nil
}

// turnSpan finds an assistant turn in full, the whole conversation rendered, at or after
// pos: before is the conversation up to the turn rendered with the generation prompt,
// upto the conversation up to and with the turn. The turn is what upto adds to before.
// When full goes on from upto, that is the span; otherwise the template renders the turn
// differently once other turns follow (Qwen3 drops an earlier turn's thinking), and the
// span is the turn's content with what the template writes after it (its end-of-turn
// tokens), found in full.
func turnSpan(full, before, upto, content string, pos int) (start, end int, err error) {
	if !strings.HasPrefix(upto, before) {
		return 0, 0, errors.New("the chat template's generation prompt is not how it starts an assistant turn, so the turn's tokens cannot be told apart")
	}
	if len(before) >= pos && strings.HasPrefix(full, upto) {
		return len(before), len(upto), nil
	}
	turn := upto[len(before):]
	k := strings.LastIndex(turn, content)
	if content == "" || k < 0 {
		return 0, 0, errors.New("the chat template renders this turn differently once other turns follow, so its tokens cannot be told apart")
	}
	tail := turn[k:]
	q := strings.Index(full[pos:], tail)
	if q < 0 {
		return 0, 0, errors.New("the chat template renders this turn differently once other turns follow, so its tokens cannot be told apart")
	}
	return pos + q, pos + q + len(tail), nil
}

// tokenize encodes the segments of a conversation one by one, each trained segment a
// span of targets (all of them with train_on_inputs).
func (c *chatFormat) tokenize(segs []Segment, trainAll bool) (ids []int, spans []span) {
	for _, s := range segs {
		start := len(ids)
		ids = append(ids, c.enc(s.Text)...)
		if s.Train && !trainAll && len(ids) > start {
			spans = append(spans, span{int32(start), int32(len(ids))})
		}
	}
	return ids, spans
}

// span is a range [start, end) of an example's ids that are trained as targets.
type span struct{ start, end int32 }
