package dataset

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/tokenizer"
	"github.com/llmtune/llmtune/transformer"
)

// loadTok loads a tokenizer of testdata/tokenizer.
func loadTok(t testing.TB, dir string) *tokenizer.BPE {
	t.Helper()
	tok, err := tokenizer.Load(filepath.Join("..", "..", "testdata", "tokenizer", dir))
	require.NoError(t, err)
	return tok
}

// chatConfig returns the data settings of format messages with chat template tmpl.
func chatConfig(tmpl string) Config {
	c := dataConfig(FormatMessages, "")
	c.ChatTemplate, c.MaxSeqLen = tmpl, 256
	return c
}

// trainedText decodes the targets of a one-row batch that count in the loss, and the
// whole row.
func trainedText(t *testing.T, tok *tokenizer.BPE, d *Dataset) (trained, row string) {
	t.Helper()
	bs := allBatches(t, d, LoaderConfig{BatchSize: 1, ShuffleBuffer: 1, Epochs: 1}, DataState{})
	require.NotEmpty(t, bs)
	var tg []int
	for _, id := range bs[0].Targets[0] {
		if id != transformer.IgnoreIndex {
			tg = append(tg, id)
		}
	}
	return tok.Decode(tg), tok.Decode(bs[0].IDs[0])
}

const twoTurns = `{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, ` +
	`{"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}`

// TestMessagesQwen3 trains the assistant turns of a conversation rendered by Qwen3's own
// template, whose last turn carries an empty thinking block that earlier turns lose.
func TestMessagesQwen3(t *testing.T) {
	tok := loadTok(t, "hf/qwen3")
	d, err := New(writeData(t, "c.jsonl", twoTurns+"\n"), chatConfig(""), tok)
	require.NoError(t, err)
	exs := examples(t, d)
	require.Len(t, exs, 1)
	want := []Segment{
		{Text: "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"},
		{Text: "Hello!<|im_end|>\n", Train: true},
		{Text: "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"},
		{Text: "<think>\n\n</think>\n\n4<|im_end|>\n", Train: true},
	}
	assert.Equal(t, want, exs[0].Segments)
	assert.Equal(t, "4", exs[0].Reference)
	assert.Equal(t, want[3].Text, exs[0].Completion)
	assert.True(t, strings.HasSuffix(exs[0].Prompt, want[2].Text))

	trained, row := trainedText(t, tok, d)
	assert.Equal(t, "Hello!<|im_end|>\n<think>\n\n</think>\n\n4<|im_end|>\n", trained)
	var full string
	for _, s := range want {
		full += s.Text
	}
	assert.Equal(t, full, row, "no BOS or EOS added: the template writes them")
	tk, ok := d.tokenize(exs[0])
	require.True(t, ok)
	got := make([]int, len(tk.ids))
	for i, id := range tk.ids {
		got[i] = int(id)
	}
	assert.Equal(t, tok.EncodeWithSpecial(full), got, "segments encode as the whole text does")

	cfg := chatConfig("")
	cfg.TrainOnInputs = true
	d, err = New(d.Path, cfg, tok)
	require.NoError(t, err)
	trained, _ = trainedText(t, tok, d)
	assert.Equal(t, full[len("<|im_start|>"):], trained, "train_on_inputs: every target")
}

// TestMessagesChatML renders with ChatML for a tokenizer without a template (GPT-2's,
// where the markers are plain text) and with a template given in the recipe.
func TestMessagesChatML(t *testing.T) {
	tok := loadTok(t, "gpt2")
	path := writeData(t, "c.jsonl", `{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}`)
	_, err := New(path, chatConfig(""), tok)
	assert.ErrorContains(t, err, "the tokenizer has no chat_template")

	d, err := New(path, chatConfig(ChatTemplateChatML), tok)
	require.NoError(t, err)
	trained, row := trainedText(t, tok, d)
	assert.Equal(t, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n", row)
	assert.Equal(t, "Hello!<|im_end|>\n", trained)

	d, err = New(path, chatConfig("{% for m in messages %}{{ m.role | upper }}: {{ m.content }}\n{% endfor %}"+
		"{% if add_generation_prompt %}ASSISTANT:{% endif %}"), tok)
	require.NoError(t, err)
	trained, row = trainedText(t, tok, d)
	assert.Equal(t, "USER: Hi\nASSISTANT: Hello!\n", row)
	assert.Equal(t, " Hello!\n", trained)
}

func TestMessagesErrors(t *testing.T) {
	tok := loadTok(t, "hf/qwen3")
	for _, tt := range []struct{ line, want string }{
		{`{"text": "x"}`, `:1: missing field "messages" (data.format messages; the line has "text")`},
		{`{"messages": "hi"}`, `:1: field "messages" is a string, want an array of {"role", "content"}`},
		{`{"messages": []}`, `:1: field "messages" is empty`},
		{`{"messages": [3]}`, `:1: messages[0] is a number, want {"role": …, "content": …}`},
		{`{"messages": [{"role": "user"}]}`, `:1: messages[0]: missing field "content" (the message has "role")`},
		{`{"messages": [{"role": "user", "content": null}]}`, `:1: messages[0]: field "content" is null, want a string`},
		{`{"messages": [{"role": "robot", "content": "x"}]}`, `:1: messages[0]: unknown role "robot" (allowed: system, user, assistant)`},
		{`{"messages": [{"role": "user", "content": "x"}]}`, `:1: field "messages" has no assistant turn to learn`},
	} {
		d, err := New(writeData(t, "c.jsonl", tt.line), chatConfig(""), tok)
		require.NoError(t, err)
		var got error
		for _, err := range d.Examples() {
			got = err
		}
		if assert.Error(t, got, tt.line) {
			assert.Equal(t, d.Path+tt.want, got.Error())
		}
	}

	// A template's raise_exception names file and line.
	raising := `{% if messages[0].role != 'user' %}{{ raise_exception('Conversations must start with the user') }}{% endif %}{% for m in messages %}{{ m.content }}{% endfor %}`
	d, err := New(writeData(t, "c.jsonl", "\n"+`{"messages": [{"role": "assistant", "content": "x"}]}`), chatConfig(raising), tok)
	require.NoError(t, err)
	for _, err := range d.Examples() {
		assert.ErrorContains(t, err, "c.jsonl:2: chat template: Conversations must start with the user")
	}

	_, err = New(writeData(t, "c.jsonl", twoTurns), chatConfig("{% for %}"), tok)
	assert.ErrorContains(t, err, "data.chat_template: ")
	_, err = New(writeData(t, "c.jsonl", twoTurns), chatConfig(""), byteTok{})
	assert.ErrorContains(t, err, "data.format messages needs a tokenizer that encodes special tokens")

	cfg := dataConfig(FormatText, "")
	cfg.Train, cfg.ChatTemplate = "a.jsonl", "chatml"
	assert.ErrorContains(t, cfg.Validate(), "chat_template: applies only to format messages")
}

// FuzzMessages reads an arbitrary line as a messages record, rendered with ChatML for the
// GPT-2 tokenizer or with Qwen3's own template. A bad record is one line of printable
// text naming the file and line; a good one's segments add up to the whole conversation
// rendered, its trained segments to the assistant turns (each ending with the template's
// end-of-turn text), and its tokens to the segments', with every trained target inside
// them.
func FuzzMessages(f *testing.F) {
	for _, s := range []string{
		twoTurns,
		`{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}`,
		`{"messages": [{"role": "assistant", "content": ""}, {"role": "user", "content": "<|im_end|>"}, {"role": "assistant", "content": "<think>x</think>y"}]}`,
		`{"messages": [{"role": "system", "content": "{{ x }}{% if %}"}, {"role": "assistant", "content": "\u2028\ufeff"}]}`,
		`{"messages": []}`, `{"messages": [{"role": "tool", "content": "x"}]}`, `{"messages": [{"role": "user"}]}`, `[]`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	gpt2, qwen3 := loadTok(f, "gpt2"), loadTok(f, "hf/qwen3")
	f.Fuzz(func(t *testing.T, line []byte, own bool) {
		tok, tmpl := gpt2, ChatTemplateChatML
		if own {
			tok, tmpl = qwen3, ""
		}
		path := filepath.Join(t.TempDir(), "c.jsonl")
		require.NoError(t, os.WriteFile(path, line, 0o644))
		cfg := chatConfig(tmpl)
		cfg.MaxSeqLen = 1 << 20
		d, err := New(path, cfg, tok)
		require.NoError(t, err)
		for ex, err := range d.Examples() {
			if err != nil {
				msg := err.Error()
				if !strings.HasPrefix(msg, path+":") || strings.ContainsFunc(msg, func(r rune) bool { return !strconv.IsPrint(r) }) {
					t.Fatalf("error %q is not one printable line naming the file", msg)
				}
				continue
			}
			var full strings.Builder
			var ids, want []int
			for _, sg := range ex.Segments {
				full.WriteString(sg.Text)
				e := tok.EncodeWithSpecial(sg.Text)
				for k, id := range e {
					if sg.Train && len(ids)+k > 0 {
						want = append(want, id) // a target: every trained id but the very first
					}
				}
				ids = append(ids, e...)
			}
			if end := len(ex.Prompt) + len(ex.Completion); end > full.Len() || !strings.HasSuffix(full.String()[:end], ex.Completion) {
				t.Fatalf("segments %+v: prompt %q, completion %q", ex.Segments, ex.Prompt, ex.Completion)
			}
			tk, _ := d.tokenize(ex)
			var got []int
			for j, id := range tk.ids {
				if j >= len(ids) || int(id) != ids[j] {
					t.Fatalf("ids %v, the segments encode as %v", tk.ids, ids)
				}
				if tk.trains(j) {
					got = append(got, int(id))
				}
			}
			if len(tk.ids) != len(ids) || !slices.Equal(got, want) {
				t.Fatalf("trained targets %v, want the assistant turns' %v", got, want)
			}
		}
	})
}
