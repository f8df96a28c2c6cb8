package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/tokenizer"
	"github.com/llmtune/llmtune/tokenizer/chat"
	"github.com/llmtune/llmtune/transformer"
	"github.com/llmtune/llmtune/transformer/generate"
)

// testTemplate is a chat template in the style of Zephyr's, for the tiny model.
const testTemplate = "{% for m in messages %}<|{{ m.role }}|>\n{{ m.content }}{{ eos_token }}\n{% endfor %}" +
	"{% if add_generation_prompt %}<|assistant|>\n{% endif %}"

// chatModel copies the tiny model into a directory whose tokenizer_config.json has
// testTemplate, and returns it.
func chatModel(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json"} {
		b, err := os.ReadFile(filepath.Join(tinyDir, f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), b, 0o644))
	}
	cfg := `{"eos_token": "<|endoftext|>", "chat_template": ` + quoteJSON(testTemplate) + `}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(cfg), 0o644))
	return dir
}

func quoteJSON(s string) string {
	var b bytes.Buffer
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// reply is the tiny model's greedy reply to msgs rendered by src, computed with the packages.
func reply(t *testing.T, dir, src string, msgs []chat.Message, o generate.Options) string {
	t.Helper()
	m, err := transformer.Load(dir)
	require.NoError(t, err)
	tok, err := tokenizer.Load(dir)
	require.NoError(t, err)
	tmpl, err := chat.Parse(src)
	require.NoError(t, err)
	sp := tok.SpecialTokens()
	text, err := tmpl.Render(msgs, chat.Options{AddGenerationPrompt: true, BOS: sp.BOS, EOS: sp.EOS})
	require.NoError(t, err)
	s, err := generate.CompleteIDs(context.Background(), m, tok, tok.EncodeWithSpecial(text), o, generate.NewRand(0), nil)
	require.NoError(t, err)
	return s
}

func TestGenerateChat(t *testing.T) {
	dir := chatModel(t)
	user := []chat.Message{{Role: "user", Content: "red cat"}}
	code, out, stderr := llmtune(t, "generate", "--model", dir, "--prompt", "red cat", "--max-new-tokens", "12")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, reply(t, dir, testTemplate, user, greedy(12))+"\n", out, "the model's chat template")

	code, out, stderr = llmtune(t, "generate", "--model", dir, "--prompt", "red cat", "--max-new-tokens", "12", "--system", "Be brief.")
	require.Equal(t, 0, code, stderr)
	withSystem := append([]chat.Message{{Role: "system", Content: "Be brief."}}, user...)
	assert.Equal(t, reply(t, dir, testTemplate, withSystem, greedy(12))+"\n", out)

	code, out, stderr = llmtune(t, "generate", "--model", dir, "--prompt", "red cat", "--max-new-tokens", "12", "--raw")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, complete(t, "red cat", greedy(12), 0)+"\n", out, "--raw completes the text")

	code, out, stderr = llmtune(t, "generate", "--model", tinyDir, "--prompt", "red cat", "--max-new-tokens", "12", "--chat-template", "chatml")
	require.Equal(t, 0, code, stderr)
	o := greedy(12)
	o.Stop = []string{"<|im_end|>"}
	assert.Equal(t, reply(t, tinyDir, chat.ChatML, user, o)+"\n", out, "ChatML for a model without a template")

	code, _, stderr = llmtune(t, "generate", "--model", tinyDir, "--prompt", "x", "--system", "Be brief.")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "--system and --chat-template need chat mode")
	code, _, stderr = llmtune(t, "generate", "--model", dir, "--prompt", "x", "--chat-template", "{% for %}")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "chat template: ")
}

// TestSessionChat keeps the conversation across inputs; /system and /reset start anew.
func TestSessionChat(t *testing.T) {
	dir := chatModel(t)
	var out bytes.Buffer
	s, _, _ := newSession(t, 6, []string{"red cat", "sea big", "/show", "/system Be brief.", "/system", "green bird", "/reset"}, &out)
	m, tok, err := loadModel(dir, "")
	require.NoError(t, err)
	s.g.model, s.g.tok = m, tok
	s.g.chat, err = newConversation(tok, "", "")
	require.NoError(t, err)
	s.g.keep = true
	require.NoError(t, s.run(context.Background()))

	first := reply(t, dir, testTemplate, []chat.Message{{Role: "user", Content: "red cat"}}, greedy(6))
	second := reply(t, dir, testTemplate, []chat.Message{{Role: "user", Content: "red cat"}, {Role: "assistant", Content: first},
		{Role: "user", Content: "sea big"}}, greedy(6))
	third := reply(t, dir, testTemplate, []chat.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "green bird"}}, greedy(6))
	o := out.String()
	assert.Contains(t, o, first+"\n"+second+"\n")
	assert.Contains(t, o, "  chat               the model's chat template, 4 turns so far")
	assert.Contains(t, o, `system: "Be brief."; new conversation`)
	assert.Contains(t, o, third+"\n")
	assert.Contains(t, o, "settings reset, new conversation")
	assert.Empty(t, s.g.chat.turns)
	assert.Equal(t, "Be brief.", s.g.chat.system, "/reset keeps the system message")
}
