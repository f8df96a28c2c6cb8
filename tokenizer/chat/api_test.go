package chat

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func render(t *testing.T, src string, msgs []Message, opts Options) (string, error) {
	t.Helper()
	tmpl, err := Parse(src)
	require.NoError(t, err, "Parse %q", src)
	return tmpl.Render(msgs, opts)
}

// TestParseRefuses: a construct this package does not render exactly is refused by Parse with an error
// that wraps ErrUnsupported and names it.
func TestParseRefuses(t *testing.T) {
	for src, names := range map[string]string{
		"{{ messages|batch(2) }}":                             `filter "batch"`,
		"{{ messages|map('upper') }}x":                        "", // refused when rendered (a filter name in map)
		"{% include 'other.jinja' %}":                         `"include" statement`,
		"{% for m in messages recursive %}{% endfor %}":       "recursive",
		"{{ messages.__class__ }}":                            `attribute "__class__"`,
		"{% filter upper %}x{% endfilter %}":                  `"filter" statement`,
		"{{ 'a{}'.format(1) }}":                               "method .format()",
		"{{ lipsum(2) }}":                                     "calling lipsum()",
		"{% set a, b = 1, 2 %}":                               "form of set",
		"{{ 0x10 }}":                                          "number",
		"{{ x is divisible_by(3) }}":                          `test "divisible_by"`,
		"{{ loop.depth }}":                                    "", // loop outside a for loop is undefined
		"{% for m in messages %}{{ loop.depth }}{% endfor %}": "loop.depth",
		"{% macro f(x=[1, 2]) %}{% endmacro %}":               "macro parameter default",
		"{{ __x }}":                                           `name "__x"`,
		"{% macro f(a) %}{% endmacro %}{{ f(1, 2) }}":         "more arguments than parameters",
		"{% macro f(a) %}{% endmacro %}{{ f(b=1) }}":          "keyword argument b",
		"{% macro f() %}{{ varargs }}{% endmacro %}":          "uses varargs",
		"{{ 'x' * 2 }}{{ {1: 2} }}":                           "dict literal",
	} {
		_, err := Parse(src)
		if names == "" {
			continue
		}
		if assert.Error(t, err, src) {
			assert.True(t, errors.Is(err, ErrUnsupported), "%s: %v", src, err)
			assert.Contains(t, err.Error(), names, src)
		}
	}
	for src, msg := range map[string]string{
		"{{ x ":                         "expected end of tag",
		"{% if x %}":                    "expected elif or else or endif",
		"{{ 'abc }}":                    "unexpected char",
		"{# never closed":               "missing end of comment tag",
		"{% raw %}never closed":         "missing end of raw directive",
		"{{ (1 }}":                      "unexpected",
		"{{ '\\x4' }}":                  "truncated",
		"{% endfor %}":                  `unexpected "endfor"`,
		"{% for x in y %}{% endif %}":   `unexpected "endif"`,
		"{% macro m( %}{% endmacro %}":  "",
		"{{ messages[0] messages[1] }}": "unexpected",
	} {
		_, err := Parse(src)
		if assert.Error(t, err, src) {
			assert.Contains(t, err.Error(), msg, src)
		}
	}
}

// TestRenderRefuses: what can only be judged on the values is refused when rendering, with ErrUnsupported.
func TestRenderRefuses(t *testing.T) {
	for _, src := range []string{
		"{{ messages|map('upper')|list }}",
		"{{ messages[0].content.upper() }}", // Python's upper of ŉ is two characters
		"{{ 'x%s' % 1 }}",
		"{{ strftime_now('%c') }}",
		"{{ raise_exception }}",
	} {
		_, err := render(t, src, []Message{{Role: "user", Content: "ŉ"}}, Options{})
		assert.True(t, errors.Is(err, ErrUnsupported), "%s: %v", src, err)
	}
}

// TestRaiseException: raise_exception's message comes back in a *TemplateError.
func TestRaiseException(t *testing.T) {
	src := readTemplate(t, "mistral-7b-instruct-v0.1")
	_, err := render(t, src, []Message{{Role: "user", Content: "a"}, {Role: "user", Content: "b"}}, Options{BOS: "<s>", EOS: "</s>"})
	var te *TemplateError
	require.True(t, errors.As(err, &te), "%v", err)
	assert.Equal(t, "Conversation roles must alternate user/assistant/user/assistant/...", te.Message)
	assert.Equal(t, "chat template: Conversation roles must alternate user/assistant/user/assistant/...", err.Error())

	_, err = render(t, "{{ nope.x }}", nil, Options{})
	var pe *pyError
	require.True(t, errors.As(err, &pe), "%v", err)
	assert.Equal(t, "UndefinedError", pe.Kind)
	assert.False(t, errors.As(err, &te))
}

// TestOptions: unset special tokens are undefined, Vars override them and keep JSON key order, and the
// names apply_chat_template passes itself are refused as Vars.
func TestOptions(t *testing.T) {
	got, err := render(t, "{{ bos_token is defined }}|{{ eos_token }}|{{ tools }}|{{ documents is none }}|{{ add_generation_prompt }}",
		nil, Options{EOS: "</s>", AddGenerationPrompt: true})
	require.NoError(t, err)
	assert.Equal(t, "False|</s>|None|True|True", got)

	got, err = render(t, "{{ eos_token }}|{{ enable_thinking }}|{{ obj }}|{{ n }}|{{ m }}", nil, Options{EOS: "</s>", Vars: map[string]any{
		"eos_token": "<end>", "enable_thinking": false, "obj": json.RawMessage(`{"z": 1, "a": [1.0, null]}`),
		"n": 3, "m": map[string]int{"b": 2, "a": 1},
	}})
	require.NoError(t, err)
	assert.Equal(t, "<end>|False|{'z': 1, 'a': [1.0, None]}|3|{'a': 1, 'b': 2}", got)

	for _, name := range []string{"messages", "tools", "add_generation_prompt", "documents", "__str"} {
		_, err := render(t, "x", nil, Options{Vars: map[string]any{name: 1}})
		assert.ErrorContains(t, err, "reserved", name)
	}
	_, err = render(t, "x", []Message{{Role: "user", Extra: json.RawMessage(`{"role": "x"}`)}}, Options{})
	assert.ErrorContains(t, err, `repeats "role"`)
	_, err = render(t, "x", []Message{{Role: "user", Extra: json.RawMessage(`[1]`)}}, Options{})
	assert.ErrorContains(t, err, "not a JSON object")
	_, err = render(t, "x", nil, Options{Tools: json.RawMessage(`[1`)})
	assert.ErrorContains(t, err, "tools")
}

// TestMessageFields: reasoning_content is present only when set; Extra's keys follow in order.
func TestMessageFields(t *testing.T) {
	got, err := render(t, "{% for m in messages %}{{ m }};{{ m.reasoning_content is defined }};{% endfor %}", []Message{
		{Role: "assistant", Content: "4", ReasoningContent: "2+2", Extra: json.RawMessage(`{"tool_calls": [{"b": 1, "a": {}}], "name": "x"}`)},
		{Role: "user", Content: ""},
	}, Options{})
	require.NoError(t, err)
	assert.Equal(t, "{'role': 'assistant', 'content': '4', 'reasoning_content': '2+2', 'tool_calls': [{'b': 1, 'a': {}}], 'name': 'x'};True;"+
		"{'role': 'user', 'content': ''};False;", got)
}

// TestAssistantSpans shows how a caller finds each assistant turn in the render F of a whole conversation:
// the turn starts where the render of messages[:i] with the generation prompt ends and ends where the render
// of messages[:i+1] ends, when both are prefixes of F. Qwen3's are not for an earlier turn: it writes an
// empty <think> block only into assistant turns after the last user message.
func TestAssistantSpans(t *testing.T) {
	conv := []Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hi"}, {Role: "assistant", Content: "Hello."},
		{Role: "user", Content: "2+2?"}, {Role: "assistant", Content: "4"}}
	for name, want := range map[string][]string{
		"qwen2-audio-7b":                {"Hello.<|im_end|>\n", "4<|im_end|>\n"},
		"zephyr-7b-beta":                {"Hello.</s>\n", "4</s>\n"},
		"qwen3":                         {"", "<think>\n\n</think>\n\n4<|im_end|>\n"},
		"ministral-3-14b-instruct-2512": {"Hello.</s>", "4</s>"},
		"llama-3.2-1b-instruct":         {"Hello.<|eot_id|>", "4<|eot_id|>"},
	} {
		tmpl, err := Parse(readTemplate(t, name))
		require.NoError(t, err)
		opts := Options{BOS: "<s>", EOS: "</s>", Now: func() time.Time { return clock }}
		switch name {
		case "qwen3", "qwen2-audio-7b":
			opts.BOS, opts.EOS = "", "<|im_end|>"
		case "llama-3.2-1b-instruct":
			opts.BOS, opts.EOS = "<|begin_of_text|>", "<|eot_id|>"
		}
		full, err := tmpl.Render(conv, opts)
		require.NoError(t, err, name)
		var spans []string
		for i, m := range conv {
			if m.Role != "assistant" {
				continue
			}
			opts.AddGenerationPrompt = true
			before, err := tmpl.Render(conv[:i], opts)
			require.NoError(t, err, name)
			opts.AddGenerationPrompt = false
			through, err := tmpl.Render(conv[:i+1], opts)
			require.NoError(t, err, name)
			if !strings.HasPrefix(full, before) || !strings.HasPrefix(full, through) {
				spans = append(spans, "") // not a prefix: the turn is rendered differently in the whole conversation
				continue
			}
			require.True(t, strings.HasPrefix(through, before), name)
			spans = append(spans, full[len(before):len(through)])
		}
		assert.Equal(t, want, spans, name)
	}
}

func benchConversation() []Message {
	return []Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hi"}, {Role: "assistant", Content: "Hello."},
		{Role: "user", Content: "2+2?"}, {Role: "assistant", Content: "<think>\nAdd.\n</think>\n\n4"}, {Role: "user", Content: "Thanks"}}
}

// BenchmarkParse parses Qwen3's template.
func BenchmarkParse(b *testing.B) {
	src, err := os.ReadFile("testdata/qwen3.jinja")
	require.NoError(b, err)
	for b.Loop() {
		if _, err := Parse(string(src)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRender renders a six-message conversation with Qwen3's template.
func BenchmarkRender(b *testing.B) {
	src, err := os.ReadFile("testdata/qwen3.jinja")
	require.NoError(b, err)
	tmpl, err := Parse(string(src))
	require.NoError(b, err)
	msgs := benchConversation()
	for b.Loop() {
		if _, err := tmpl.Render(msgs, Options{EOS: "<|im_end|>", AddGenerationPrompt: true}); err != nil {
			b.Fatal(err)
		}
	}
}
