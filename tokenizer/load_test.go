package tokenizer

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeFile writes content to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

// gpt2JSON returns GPT-2 as a tokenizer.json written by Save, decoded into generic JSON for editing.
func gpt2JSON(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	require.NoError(t, json.Unmarshal(loadGPT2(t).marshalJSON(), &doc))
	return doc
}

func marshal(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return string(data)
}

// TestLoadLayouts loads GPT-2 in each layout Load reads and checks that all encode the corpus alike.
func TestLoadLayouts(t *testing.T) {
	dir := t.TempDir()
	ref := loadGPT2(t)
	saved := filepath.Join(dir, "saved")
	require.NoError(t, os.Mkdir(saved, 0o755))
	require.NoError(t, ref.Save(filepath.Join(saved, "tokenizer.json")))

	doc := gpt2JSON(t) // merges as pairs, as tokenizers 0.20 and later write them
	model := doc["model"].(map[string]any)
	for i, m := range model["merges"].([]any) {
		a, b, _ := strings.Cut(m.(string), " ")
		model["merges"].([]any)[i] = []string{a, b}
	}
	pairs := writeFile(t, dir, "pairs.json", marshal(t, doc))

	text := goldenRecord(t, "corpus").Text[:200_000]
	want := ref.Encode(text)
	for _, path := range []string{saved, filepath.Join(saved, "tokenizer.json"), pairs} {
		tok, err := Load(path)
		require.NoError(t, err, "Load(%s)", path)
		assert.Equal(t, gpt2Vocab, tok.VocabSize(), "Load(%s).VocabSize()", path)
		assert.Equal(t, gpt2EOS, tok.EOS(), "Load(%s).EOS()", path)
		assert.Empty(t, firstDiff(tok, tok.Encode(text), want), "Load(%s).Encode(corpus)", path)
		assert.Equal(t, []int{gpt2EOS}, tok.EncodeWithSpecial(EndOfText), "Load(%s).EncodeWithSpecial", path)
	}
	data, err := os.ReadFile(filepath.Join(saved, "tokenizer.json"))
	require.NoError(t, err)
	tok, err := Load(filepath.Join(saved, "tokenizer.json"))
	require.NoError(t, err)
	assert.True(t, string(tok.marshalJSON()) == string(data), "Save of a loaded tokenizer.json changes it")
}

func TestLoadTokenizerConfig(t *testing.T) {
	doc := gpt2JSON(t)
	doc["added_tokens"] = append(doc["added_tokens"].([]any),
		map[string]any{"id": 50257, "content": "<|im_end|>", "special": true})
	tests := []struct {
		config string
		want   int
	}{
		{`{"eos_token": "<|im_end|>"}`, 50257},
		{`{"eos_token": {"__type": "AddedToken", "content": "<|im_end|>"}}`, 50257},
		{`{"eos_token": "Ġthe"}`, 262}, // a vocabulary token, as the file spells it
		{`{"eos_token": null}`, gpt2EOS},
		{`{"model_max_length": 1024}`, gpt2EOS},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		writeFile(t, dir, "tokenizer.json", marshal(t, doc))
		writeFile(t, dir, "tokenizer_config.json", tt.config)
		tok, err := Load(dir)
		require.NoError(t, err, "config %s", tt.config)
		assert.Equal(t, tt.want, tok.EOS(), "config %s", tt.config)
		assert.Equal(t, 50258, tok.VocabSize())
		assert.Equal(t, []int{64, 50257, gpt2EOS}, tok.EncodeWithSpecial("a<|im_end|><|endoftext|>"))
	}
}

// TestSpecialTokens checks the token strings that a chat template is given.
func TestSpecialTokens(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "tokenizer.json", marshal(t, gpt2JSON(t)))
	writeFile(t, dir, "tokenizer_config.json", `{"bos_token": {"content": "<|endoftext|>"}, "eos_token": "<|endoftext|>", "unk_token": null, "pad_token": "Ġthe"}`)
	tok, err := Load(dir)
	require.NoError(t, err)
	assert.Equal(t, SpecialTokens{BOS: "<|endoftext|>", EOS: "<|endoftext|>", PAD: "Ġthe"}, tok.SpecialTokens())
	assert.Equal(t, SpecialTokens{}, loadGPT2(t).SpecialTokens(), "no tokenizer_config.json")
}

// TestLoadErrors checks that bad files give an error that names the path, never a panic, and that a tokenizer of
// another kind is told apart (ErrUnsupported).
func TestLoadErrors(t *testing.T) {
	vocab, err := os.ReadFile(gpt2Dir + "/vocab.json")
	require.NoError(t, err)
	merges, err := os.ReadFile(gpt2Dir + "/merges.txt")
	require.NoError(t, err)
	tokJSON := string(loadGPT2(t).marshalJSON())
	edit := func(f func(doc map[string]any)) string {
		doc := gpt2JSON(t)
		f(doc)
		return marshal(t, doc)
	}
	model := func(doc map[string]any) map[string]any { return doc["model"].(map[string]any) }

	tests := []struct {
		name        string
		files       map[string]string // written to a new directory, which is loaded
		want        string            // in the error
		unsupported bool
	}{
		{"empty dir", map[string]string{}, "no such file", false},
		{"vocab only", map[string]string{"vocab.json": string(vocab)}, "merges.txt", false},
		{"vocab not json", map[string]string{"vocab.json": "{\"a\": 1,", "merges.txt": ""}, "vocab.json", false},
		{"vocab negative id", map[string]string{"vocab.json": `{"a": -1}`, "merges.txt": ""}, "integer", false},
		{"vocab huge id", map[string]string{"vocab.json": `{"a": 99999999999}`, "merges.txt": ""}, "id", false},
		{"vocab lacks a byte", map[string]string{"vocab.json": `{"a": 0}`, "merges.txt": ""}, "no token for byte", false},
		{"vocab duplicate id", map[string]string{"vocab.json": `{"a": 0, "b": 0}`, "merges.txt": ""}, "same id", false},
		{"vocab not byte-level", map[string]string{"vocab.json": `{"a b": 0}`, "merges.txt": ""}, "byte-level", false},
		{"merge unknown token", map[string]string{"vocab.json": string(vocab), "merges.txt": "#version: 0.2\nĠ zzzz\n"},
			"not in the vocabulary", false},
		{"merge one token", map[string]string{"vocab.json": string(vocab), "merges.txt": "Ġt\n"}, "line 1", false},
		{"json truncated", map[string]string{"tokenizer.json": tokJSON[:len(tokJSON)/2]}, "tokenizer.json", false},
		{"json trailing data", map[string]string{"tokenizer.json": tokJSON + "]"}, "after", false},
		{"json not object", map[string]string{"tokenizer.json": "[]"}, "want '{'", false},
		{"json bad added_tokens", map[string]string{"tokenizer.json": edit(func(d map[string]any) {
			d["added_tokens"] = "x"
		})}, "added_tokens", false},
		{"json bad merge", map[string]string{"tokenizer.json": edit(func(d map[string]any) {
			model(d)["merges"] = []any{"Ġ t", []string{"a", "b", "c"}}
		})}, "model.merges", false},
		{"json bad escape", map[string]string{"tokenizer.json": strings.Replace(tokJSON, `"Ġt": `, `"\q": `, 1)},
			"escape", false},
		{"wordpiece", map[string]string{"tokenizer.json": edit(func(d map[string]any) {
			model(d)["type"] = "WordPiece"
		})}, "model.type", true},
		{"lowercase", map[string]string{"tokenizer.json": edit(func(d map[string]any) {
			d["normalizer"] = map[string]any{"type": "Sequence", "normalizers": []any{
				map[string]any{"type": "NFC"}, map[string]any{"type": "Lowercase"}}}
		})}, `normalizer.normalizers[1].type "Lowercase" is not supported`, true},
		{"whitespace", map[string]string{"tokenizer.json": edit(func(d map[string]any) {
			d["pre_tokenizer"] = map[string]any{"type": "Whitespace"}
		})}, `pre_tokenizer.type "Whitespace"`, true},
		{"wordpiece decoder", map[string]string{"tokenizer.json": edit(func(d map[string]any) {
			d["decoder"] = map[string]any{"type": "WordPiece", "prefix": "##"}
		})}, `decoder.type "WordPiece"`, true},
		{"subword prefix", map[string]string{"tokenizer.json": edit(func(d map[string]any) {
			model(d)["continuing_subword_prefix"] = "##"
		})}, "subword prefix", true},
		{"metaspace without replacement", map[string]string{"tokenizer.json": edit(func(d map[string]any) {
			d["pre_tokenizer"] = map[string]any{"type": "Metaspace"}
		})}, "replacement", false},
		{"split bad regex", map[string]string{"tokenizer.json": edit(func(d map[string]any) {
			d["pre_tokenizer"] = map[string]any{"type": "Split", "pattern": map[string]any{"Regex": "(a"},
				"behavior": "Isolated", "invert": false}
		})}, "pattern", false},
		{"split bad behavior", map[string]string{"tokenizer.json": edit(func(d map[string]any) {
			d["pre_tokenizer"] = map[string]any{"type": "Split", "pattern": map[string]any{"String": " "},
				"behavior": "Sideways", "invert": false}
		})}, "Sideways", false},
		{"dropout", map[string]string{"tokenizer.json": edit(func(d map[string]any) {
			model(d)["dropout"] = 0.1
		})}, "dropout", true},
		{"config bad eos", map[string]string{"vocab.json": string(vocab), "merges.txt": string(merges),
			"tokenizer_config.json": `{"eos_token": "<|no such token|>"}`}, "eos_token", false},
		{"config not json", map[string]string{"vocab.json": string(vocab), "merges.txt": string(merges),
			"tokenizer_config.json": `{`}, "tokenizer_config.json", false},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		for name, content := range tt.files {
			writeFile(t, dir, name, content)
		}
		tok, err := Load(dir)
		if !assert.Error(t, err, "%s: Load(%s)", tt.name, dir) {
			continue
		}
		assert.Nil(t, tok, tt.name)
		assert.Contains(t, err.Error(), "load tokenizer "+dir+": ", tt.name)
		assert.Contains(t, err.Error(), tt.want, tt.name)
		assert.Equal(t, tt.unsupported, errors.Is(err, ErrUnsupported), "%s: errors.Is(%v, ErrUnsupported)", tt.name, err)
	}

	_, err = Load(filepath.Join(t.TempDir(), "missing"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

// TestLoadHFConfig checks what tokenizer_config.json changes for a Hugging Face tokenizer: BOS and EOS, the
// BOS and EOS that add_bos_token and add_eos_token put in EncodeForModel or take out, and the chat template.
func TestLoadHFConfig(t *testing.T) {
	tokJSON, err := os.ReadFile(hfDir + "/mistral-7b/tokenizer.json")
	require.NoError(t, err)
	tests := []struct {
		config   string
		bos, eos int
		want     []int // EncodeForModel("Hello")
		template string
	}{
		{``, 1, 2, []int{1, 22557}, ""}, // no config: the template's first token, and "</s>"
		{`{"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": true, "add_eos_token": false}`,
			1, 2, []int{1, 22557}, ""},
		{`{"add_eos_token": true}`, 1, 2, []int{1, 22557, 2}, ""},
		{`{"add_bos_token": false, "add_eos_token": true, "chat_template": "{{ messages }}"}`,
			1, 2, []int{22557, 2}, "{{ messages }}"},
		{`{"eos_token": {"content": "<unk>", "special": true}, "bos_token": null,
			"chat_template": [{"name": "tool_use", "template": "t"}, {"name": "default", "template": "d"}]}`,
			1, 0, []int{1, 22557}, "d"},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		writeFile(t, dir, "tokenizer.json", string(tokJSON))
		if tt.config != "" {
			writeFile(t, dir, "tokenizer_config.json", tt.config)
		}
		tok, err := Load(dir)
		require.NoError(t, err, tt.config)
		assert.Equal(t, tt.bos, tok.BOS(), "BOS with %s", tt.config)
		assert.Equal(t, tt.eos, tok.EOS(), "EOS with %s", tt.config)
		assert.Equal(t, tt.want, tok.EncodeForModel("Hello"), "EncodeForModel with %s", tt.config)
		assert.Equal(t, tt.template, tok.ChatTemplate(), "ChatTemplate with %s", tt.config)
		assert.Equal(t, []int{22557}, tok.Encode("Hello"))
	}
	dir := t.TempDir()
	writeFile(t, dir, "tokenizer.json", string(tokJSON))
	writeFile(t, dir, "tokenizer_config.json", `{"bos_token": "<nope>"}`)
	_, err = Load(dir)
	assert.ErrorContains(t, err, `bos_token "<nope>" is not a token`)
}

// TestEncodeModes shows the three ways to encode on Qwen3 and Mistral: special tokens are text for Encode only;
// Qwen3's "<think>", an added token that is not special, is one token for all three. Encode's ids are Hugging
// Face's for the file with its special added tokens taken out (which renumbers "<think>" there).
func TestEncodeModes(t *testing.T) {
	qwen, err := Load(hfDir + "/qwen3")
	require.NoError(t, err)
	text := "<|im_start|>user\n<think>hi</think><|im_end|>"
	assert.Equal(t, []int{151644, 872, 198, 151667, 6023, 151668, 151645}, qwen.EncodeWithSpecial(text))
	assert.Equal(t, qwen.EncodeWithSpecial(text), qwen.EncodeForModel(text), "Qwen adds no BOS")
	assert.Equal(t, []int{27, 91, 318, 4906, 91, 29, 872, 198, 151667, 6023, 151668, 27, 91, 318, 6213, 91, 29},
		qwen.Encode(text))
	assert.Equal(t, text, qwen.Decode(qwen.Encode(text)))
	assert.Equal(t, 151645, qwen.EOS())
	assert.NotEmpty(t, qwen.ChatTemplate())

	mistral, err := Load(hfDir + "/mistral-7b")
	require.NoError(t, err)
	assert.Equal(t, []int{1, 22557, 2, 1526}, mistral.EncodeWithSpecial("<s>Hello</s>world"))
	assert.Equal(t, []int{1, 1, 22557, 2, 1526}, mistral.EncodeForModel("<s>Hello</s>world"))
	assert.Equal(t, "<s> Hello</s> world", mistral.Decode(mistral.EncodeWithSpecial("<s>Hello</s>world")))
	assert.Equal(t, []int{523, 28713, 28767, 16230, 700, 28713, 28767, 9471}, mistral.Encode("<s>Hello</s>world"),
		"one stretch, one ▁ in front")
	assert.Equal(t, "<s>Hello</s>world", mistral.Decode(mistral.Encode("<s>Hello</s>world")))
}
