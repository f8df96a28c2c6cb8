package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/transformer/kernels"
)

var reverseData = filepath.Join(tinyDir, "reverse.jsonl")

// evalJSON runs eval --json with args and decodes its output.
func evalJSON(t *testing.T, args ...string) map[string]float64 {
	t.Helper()
	code, out, stderr := llmtune(t, append([]string{"eval", "--json"}, args...)...)
	require.Equal(t, 0, code, stderr)
	var res map[string]float64
	require.NoError(t, json.Unmarshal([]byte(out), &res), "output %q", out)
	return res
}

func TestEvalJSON(t *testing.T) {
	res := evalJSON(t, "--model", tinyDir, "--data", reverseData, "--format", "source_target",
		"--template", "{source} = {target}", "--max-examples", "12")
	loss, ppl := res["eval_loss"], res["eval_perplexity"]
	assert.False(t, math.IsNaN(loss) || math.IsInf(loss, 0), "eval_loss %g", loss)
	assert.Greater(t, loss, 0.0)
	assert.InEpsilon(t, math.Exp(loss), ppl, 1e-9, "perplexity = exp(loss)")
	for _, k := range []string{"eval_bleu", "eval_chrf"} {
		v, ok := res[k]
		if assert.True(t, ok, "%s in %v", k, res) {
			assert.True(t, v >= 0 && v <= 100, "%s = %g, want in [0, 100]", k, v)
		}
	}
	assert.Equal(t, 12.0, res["examples"])
	assert.Greater(t, res["eval_tokens"], 12.0)

	// The adapter changes the loss; --metrics limits what is computed.
	ad := evalJSON(t, "--model", tinyDir, "--adapter", peftAdapter, "--data", reverseData, "--format", "source_target",
		"--template", "{source} = {target}", "--max-examples", "12", "--metrics", "loss")
	assert.NotEqual(t, loss, ad["eval_loss"])
	assert.NotContains(t, ad, "eval_perplexity")
	assert.NotContains(t, ad, "eval_bleu")

	// Text data: loss and perplexity only, by default.
	data := filepath.Join(t.TempDir(), "text.txt")
	require.NoError(t, os.WriteFile(data, []byte("red cat sea\n\nbig bird green sea\n"), 0o644))
	txt := evalJSON(t, "--model", tinyDir, "--data", data)
	assert.Contains(t, txt, "eval_loss")
	assert.Contains(t, txt, "eval_perplexity")
	assert.NotContains(t, txt, "eval_bleu")
	assert.Equal(t, 2.0, txt["examples"])
}

// TestEvalDType: --dtype changes the weights the loss is computed with: bfloat16 and Q8_0 each give a loss of
// their own, within 1% of float32's on the tiny model.
func TestEvalDType(t *testing.T) {
	losses := map[string]float64{}
	types := []string{"f32", "bf16", "q8_0"}
	if kernels.HaveAMX() {
		types = append(types, "bf16_amx")
	} else { // one line naming the type, and no result
		code, _, stderr := llmtune(t, "eval", "--model", tinyDir, "--data", reverseData, "--dtype", "bf16_amx")
		assert.Equal(t, 1, code, stderr)
		assert.Contains(t, stderr, "weight type bf16_amx needs a CPU with AMX-BF16")
	}
	for _, dt := range types {
		res := evalJSON(t, "--model", tinyDir, "--data", reverseData, "--format", "source_target",
			"--template", "{source} = {target}", "--max-examples", "12", "--metrics", "loss", "--dtype", dt)
		losses[dt] = res["eval_loss"]
	}
	for _, dt := range types[1:] {
		assert.NotEqual(t, losses["f32"], losses[dt], dt)
		assert.InEpsilon(t, losses["f32"], losses[dt], 0.01, dt)
	}
	assert.NotEqual(t, losses["bf16"], losses["q8_0"])
	if kernels.HaveAMX() {
		assert.NotEqual(t, losses["bf16"], losses["bf16_amx"], "the AMX products ran")
	}
}

func TestEvalRecipe(t *testing.T) {
	// The recipe's model, its val_set_size split (20 records), and its metrics.
	r := recipe(t, "eval:\n  metrics: [loss, chrf]\n")
	code, out, stderr := llmtune(t, "eval", "--recipe", r)
	require.Equal(t, 0, code, stderr)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, "output %q", out)
	assert.Regexp(t, `^eval_loss +\d+\.\d{4}$`, lines[0])
	assert.Regexp(t, `^eval_chrf +\d+\.\d{2}$`, lines[1])
	assert.Regexp(t, `^examples +20 \(\d+ target tokens\)$`, lines[2])
}

func TestEvalErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--model", tinyDir}, "missing --data"},
		{[]string{"--data", reverseData}, "missing --model"},
		{[]string{"--model", tinyDir, "--data", reverseData, "--metrics", "loss,bleu"}, "bleu compares completions with references"},
		{[]string{"--model", tinyDir, "--data", reverseData, "--metrics", "accuracy"}, `"accuracy"`},
		{[]string{"--model", tinyDir, "--data", reverseData, "--format", "csv"}, `"csv"`},
		{[]string{"--model", tinyDir, "--data", reverseData, "--max-examples", "-1"}, "≥ 0"},
		{[]string{"--model", tinyDir, "--data", reverseData, "--nope"}, "-nope"},
	} {
		code, _, stderr := llmtune(t, append([]string{"eval"}, c.args...)...)
		assert.Equal(t, 2, code, "eval %q: %s", c.args, stderr)
		assert.Contains(t, stderr, c.want, "eval %q", c.args)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		assert.True(t, strings.HasPrefix(lines[len(lines)-1], "llmtune: eval: "), "eval %q: last line %q", c.args, lines[len(lines)-1])
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		// An adapter for another base.
		{[]string{"--model", smallModel(t), "--adapter", peftAdapter, "--data", reverseData}, "peft-r3"},
		{[]string{"--model", filepath.Join(t.TempDir(), "no-such-model"), "--data", reverseData}, "no-such-model"},
		{[]string{"--model", tinyDir, "--data", filepath.Join(t.TempDir(), "none.jsonl")}, "none.jsonl"},
		// The data does not have the format's fields.
		{[]string{"--model", tinyDir, "--data", reverseData}, `missing field "text"`},
	} {
		code, _, stderr := llmtune(t, append([]string{"eval"}, c.args...)...)
		assert.Equal(t, 1, code, "eval %q: %s", c.args, stderr)
		assert.Contains(t, stderr, c.want, "eval %q", c.args)
		assert.Equal(t, 1, strings.Count(stderr, "\n"), "eval %q: one line: %q", c.args, stderr)
	}
}

// TestEvalChatTemplate: --chat-template renders messages data for eval and tokenize as
// data.chat_template does: a model without a template, given the template of one that
// has it, gets that model's loss; ChatML gives another; none is an error.
func TestEvalChatTemplate(t *testing.T) {
	data := filepath.Join(t.TempDir(), "chat.jsonl")
	require.NoError(t, os.WriteFile(data, []byte(
		`{"messages": [{"role": "user", "content": "red cat"}, {"role": "assistant", "content": "tac der"}]}`+"\n"+
			`{"messages": [{"role": "user", "content": "big sea"}, {"role": "assistant", "content": "aes gib"}]}`+"\n"), 0o644))
	withTemplate := chatModel(t)
	// the same model and tokenizer (the same EOS) without a chat template
	without := t.TempDir()
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json"} {
		b, err := os.ReadFile(filepath.Join(withTemplate, f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(without, f), b, 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(without, "tokenizer_config.json"), []byte(`{"eos_token": "<|endoftext|>"}`), 0o644))

	own := evalJSON(t, "--model", withTemplate, "--data", data, "--format", "messages", "--metrics", "loss")
	given := evalJSON(t, "--model", without, "--data", data, "--format", "messages", "--metrics", "loss",
		"--chat-template", testTemplate)
	assert.Equal(t, own["eval_loss"], given["eval_loss"], "the same template, weights and tokenizer")
	assert.Equal(t, own["eval_tokens"], given["eval_tokens"])
	chatml := evalJSON(t, "--model", without, "--data", data, "--format", "messages", "--metrics", "loss",
		"--chat-template", "chatml")
	assert.NotEqual(t, own["eval_loss"], chatml["eval_loss"])

	code, _, stderr := llmtune(t, "eval", "--model", without, "--data", data, "--format", "messages")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, stderr, "chat")

	tokenize := func(tmpl string) string {
		code, out, stderr := llmtune(t, "tokenize", "--model", without, "--data", data, "--format", "messages",
			"--chat-template", tmpl, "-n", "1")
		require.Equal(t, 0, code, stderr)
		return out
	}
	assert.Contains(t, tokenize("chatml"), `"im"`)
	assert.Contains(t, tokenize(testTemplate), `"<|endoftext|>"`)
	assert.NotContains(t, tokenize(testTemplate), `"im"`)
}
