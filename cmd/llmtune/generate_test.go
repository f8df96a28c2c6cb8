package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/tokenizer"
	"github.com/llmtune/llmtune/transformer"
	"github.com/llmtune/llmtune/transformer/generate"
)

// peftAdapter is a PEFT adapter (r 3 on c_attn and mlp.c_proj) whose shapes fit the tiny model.
const peftAdapter = "../../testdata/reference/peft-r3"

// llmtuneIn is llmtune with stdin.
func llmtuneIn(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// complete is the completion of prompt by the tiny model, computed with the packages.
func complete(t *testing.T, prompt string, g generate.Options, seed uint64) string {
	t.Helper()
	return completeAs(t, transformer.WeightF32, prompt, g, seed)
}

// completeAs is complete with the tiny model's weight matrices held in dt.
func completeAs(t *testing.T, dt transformer.WeightDType, prompt string, g generate.Options, seed uint64) string {
	t.Helper()
	m, err := transformer.LoadAs(tinyDir, dt)
	require.NoError(t, err)
	tok, err := tokenizer.Load(tinyDir)
	require.NoError(t, err)
	s, err := generate.Complete(context.Background(), m, tok, prompt, g, generate.NewRand(seed), nil)
	require.NoError(t, err)
	return s
}

func greedy(n int) generate.Options {
	return generate.Options{MaxNewTokens: n, TopP: 1, RepetitionPenalty: 1}
}

func TestGeneratePrompt(t *testing.T) {
	code, out, stderr := llmtune(t, "generate", "--model", tinyDir, "--prompt", "red cat", "--max-new-tokens", "12")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, complete(t, "red cat", greedy(12), 0)+"\n", out)
	assert.Empty(t, stderr)
	_, again, _ := llmtune(t, "generate", "--model", tinyDir, "--prompt", "red cat", "--max-new-tokens", "12")
	assert.Equal(t, out, again, "greedy decoding is deterministic")

	sample := func(seed string) string {
		code, out, stderr := llmtune(t, "generate", "--model", tinyDir, "--prompt", "red cat", "--max-new-tokens", "12",
			"--temperature", "1.5", "--top-k", "50", "--top-p", "0.95", "--repetition-penalty", "1.2", "--seed", seed)
		require.Equal(t, 0, code, stderr)
		return out
	}
	a, b, c := sample("7"), sample("7"), sample("8")
	assert.Equal(t, a, b, "same seed, same sample")
	assert.NotEqual(t, a, c, "another seed, another sample")
	g := generate.Options{MaxNewTokens: 12, Temperature: 1.5, TopK: 50, TopP: 0.95, RepetitionPenalty: 1.2}
	assert.Equal(t, complete(t, "red cat", g, 7)+"\n", a)

	// Stop strings end the completion and are not printed.
	full := complete(t, "red cat", greedy(12), 0)
	i := strings.IndexFunc(full[1:], func(r rune) bool { return r >= 'a' && r <= 'z' })
	require.GreaterOrEqual(t, i, 0, "no ASCII letter to stop at in %q", full)
	stop := full[1+i : 2+i]
	code, out, stderr = llmtune(t, "generate", "--model", tinyDir, "--prompt", "red cat", "--max-new-tokens", "12", "--stop", stop)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, full[:strings.Index(full, stop)]+"\n", out)

	// The template puts the input where {source} is and drops {target} on.
	code, out, stderr = llmtune(t, "generate", "--model", tinyDir, "--prompt", "red cat", "--template", `Q: {source}\nA: {target}`, "--max-new-tokens", "6")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, complete(t, "Q: red cat\nA: ", greedy(6), 0)+"\n", out)
}

// TestGenerateDType: --dtype holds the weights in bfloat16 or Q8_0 blocks, and the completion is the packages'
// on the model loaded so; sampled at temperature 1.5, each type's completion differs from float32's (so an
// ignored flag would show); an unknown type is a usage error naming the choices.
func TestGenerateDType(t *testing.T) {
	g := generate.Options{MaxNewTokens: 40, Temperature: 1.5, TopP: 1, RepetitionPenalty: 1}
	f32 := completeAs(t, transformer.WeightF32, "red cat", g, 1)
	for _, dt := range []transformer.WeightDType{transformer.WeightBF16, transformer.WeightQ8} {
		code, out, stderr := llmtune(t, "generate", "--model", tinyDir, "--prompt", "red cat", "--max-new-tokens", "40",
			"--temperature", "1.5", "--seed", "1", "--dtype", dt.String())
		require.Equal(t, 0, code, stderr)
		want := completeAs(t, dt, "red cat", g, 1)
		assert.Equal(t, want+"\n", out, "--dtype %s", dt)
		assert.NotEqual(t, f32, want, "--dtype %s samples what float32 samples", dt)
	}
	code, _, stderr := llmtune(t, "generate", "--model", tinyDir, "--prompt", "red cat", "--dtype", "q4_0")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `"q4_0": want f32, bf16, q8_0 or bf16_amx`)
}

// writes records each Write separately.
type writes []string

func (w *writes) Write(p []byte) (int, error) { *w = append(*w, string(p)); return len(p), nil }

func TestGenerateStreams(t *testing.T) {
	var out writes
	var errb bytes.Buffer
	code := Main(context.Background(), []string{"generate", "--model", tinyDir, "--prompt", "red cat", "--max-new-tokens", "16"},
		strings.NewReader(""), &out, &errb)
	require.Equal(t, 0, code, errb.String())
	assert.Greater(t, len(out), 3, "the completion is written piece by piece as it is produced: %q", out)
	assert.Equal(t, complete(t, "red cat", greedy(16), 0)+"\n", strings.Join(out, ""))
}

func TestGenerateRecipeDefaults(t *testing.T) {
	r := recipe(t, "generation:\n  max_new_tokens: 7\n  temperature: 0.9\n  top_k: 20\n  stop: [\"zzz\"]\n")
	code, out, stderr := llmtune(t, "generate", "--recipe", r, "--prompt", "sea big") // base_model and seed 3 from the recipe
	require.Equal(t, 0, code, stderr)
	g := generate.Options{MaxNewTokens: 7, Temperature: 0.9, TopK: 20, TopP: 1, RepetitionPenalty: 1, Stop: []string{"zzz"}}
	assert.Equal(t, complete(t, "sea big = ", g, 3)+"\n", out, "the input in the recipe's data.template")
	for _, flag := range [][]string{{"--raw"}, {"--template", "{prompt}"}} {
		code, out, stderr = llmtune(t, append([]string{"generate", "--recipe", r, "--prompt", "sea big"}, flag...)...)
		require.Equal(t, 0, code, stderr)
		assert.Equal(t, complete(t, "sea big", g, 3)+"\n", out, "%v: the input as it is", flag)
	}

	// Flags win over the recipe.
	code, out, stderr = llmtune(t, "generate", "--recipe", r, "--model", tinyDir, "--prompt", "sea big", "--temperature", "0", "--max-new-tokens", "5", "--stop", "")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, complete(t, "sea big = ", greedy(5), 0)+"\n", out)
}

func TestGeneratePiped(t *testing.T) {
	args := []string{"generate", "--model", tinyDir, "--max-new-tokens", "8", "--stop", `\n`}
	code, out, stderr := llmtuneIn(t, "red cat\nsea big\r\n\ngreen bird", args...)
	require.Equal(t, 0, code, stderr)
	var want []string
	for _, p := range []string{"red cat", "sea big", "", "green bird"} {
		want = append(want, complete(t, p, generate.Options{MaxNewTokens: 8, TopP: 1, RepetitionPenalty: 1, Stop: []string{"\n"}}, 0))
	}
	assert.Equal(t, strings.Join(want, "\n")+"\n", out, "one completion per input line")

	code, out, _ = llmtuneIn(t, "", args...)
	assert.Equal(t, 0, code)
	assert.Empty(t, out)
}

func TestGenerateAdapter(t *testing.T) {
	args := []string{"generate", "--model", tinyDir, "--prompt", "red cat", "--max-new-tokens", "12"}
	code, base, stderr := llmtune(t, args...)
	require.Equal(t, 0, code, stderr)
	code, adapted, stderr := llmtune(t, append(args, "--adapter", peftAdapter)...)
	require.Equal(t, 0, code, stderr)
	assert.NotEqual(t, base, adapted, "the adapter changes the completion")

	// An adapter for another base is refused with one line and exit 1.
	code, _, stderr = llmtune(t, "generate", "--model", smallModel(t), "--adapter", peftAdapter, "--prompt", "red cat")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "peft-r3")
	assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
}

// smallModel saves a random GPT-2 with n_embd 32 and the tiny model's tokenizer: no
// adapter of the tiny model fits it.
func smallModel(t *testing.T) string {
	t.Helper()
	cfg := `{"n_layer": 2, "n_head": 4, "n_embd": 32, "vocab_size": 512, "n_positions": 128}`
	dir := t.TempDir()
	sm, err := transformer.New(must(transformer.ParseConfig([]byte(cfg))), nil)
	require.NoError(t, err)
	require.NoError(t, sm.Save(dir))
	require.NoError(t, tokenizer.CopyFiles(tinyDir, dir))
	return dir
}

func TestGenerateErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"--prompt", "x"}, "missing --model"},
		{[]string{"--model", tinyDir, "--temperature", "hot"}, `invalid value "hot" for flag -temperature`},
		{[]string{"--model", tinyDir, "--top-k", "1.5"}, `invalid value "1.5" for flag -top-k: "1.5" is not an integer`},
		{[]string{"--model", tinyDir, "--seed", "-3"}, "not a seed"},
		{[]string{"--model", tinyDir, "--stop", `\q`}, "bad escape"},
		{[]string{"--model", tinyDir, "--template", "no input"}, "no {prompt} or {source}"},
		{[]string{"--model", tinyDir, "red cat"}, `unexpected argument "red cat"`},
	} {
		code, _, stderr := llmtune(t, append([]string{"generate"}, c.args...)...)
		assert.Equal(t, 2, code, "generate %q: %s", c.args, stderr)
		assert.Contains(t, stderr, c.want, "generate %q", c.args)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		assert.True(t, strings.HasPrefix(lines[len(lines)-1], "llmtune: generate: "), "generate %q: last line %q", c.args, lines[len(lines)-1])
	}

	// Values that parse but Options.Validate refuses: its message, with the flag for the key.
	r := recipe(t, "generation:\n  temperature: 0.9\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--model", tinyDir, "--temperature", "-1"}, "--temperature: must be ≥ 0 (0 = greedy), got -1"},
		{[]string{"--model", tinyDir, "--temperature", "NaN"}, "--temperature: must be ≥ 0 (0 = greedy), got NaN"},
		{[]string{"--model", tinyDir, "--top-k", "-1"}, "--top-k: must be ≥ 0 (0 = off), got -1"},
		{[]string{"--model", tinyDir, "--top-p", "0"}, "--top-p: must be in (0, 1], got 0"},
		{[]string{"--model", tinyDir, "--top-p", "1.5"}, "--top-p: must be in (0, 1], got 1.5"},
		{[]string{"--model", tinyDir, "--repetition-penalty", "0"}, "--repetition-penalty: must be > 0 (1 = off), got 0"},
		{[]string{"--model", tinyDir, "--max-new-tokens", "0"}, "--max-new-tokens: must be ≥ 1, got 0"},
		{[]string{"--model", tinyDir, "--top-p", "0", "--top-p", "0.5"}, "--top-p: must be in (0, 1], got 0"}, // each value is judged
		{[]string{"--recipe", r, "--top-p", "2"}, "--top-p: must be in (0, 1], got 2"},
	} {
		code, out, stderr := llmtune(t, append([]string{"generate", "--prompt", "x"}, c.args...)...)
		assert.Equal(t, 2, code, "generate %q: %s", c.args, stderr)
		assert.Empty(t, out, "generate %q", c.args)
		assert.Equal(t, "llmtune: generate: "+c.want+"\n", stderr, "generate %q", c.args)
	}

	missing := filepath.Join(t.TempDir(), "no-such-model")
	code, out, stderr := llmtune(t, "generate", "--model", missing, "--prompt", "x")
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.Contains(t, stderr, "no-such-model")
	assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)

	// A prompt that does not fit the context is a run-time error.
	code, _, stderr = llmtune(t, "generate", "--model", tinyDir, "--prompt", strings.Repeat("red cat ", 200))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "at most 128")
	assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)

	// A bad recipe names itself.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("base_model: x\noutput_dir: y\ndata: {train: t.txt}\ngeneration: {temprature: 1}\n"), 0o644))
	code, _, stderr = llmtune(t, "generate", "--recipe", bad, "--prompt", "x")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "temprature")
}

func TestGenerateEvalHelp(t *testing.T) {
	for _, cmd := range []string{"generate", "eval"} {
		code, out, stderr := llmtune(t, cmd, "--help")
		assert.Equal(t, 0, code, "%s --help", cmd)
		assert.Empty(t, out)
		assert.Contains(t, stderr, "Usage: llmtune "+cmd)
		assert.Contains(t, stderr, "-model DIR")
	}
	_, out, _ := llmtune(t, "help")
	assert.Contains(t, out, "generate")
	assert.Contains(t, out, "eval")
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{`a\nb`: "a\nb", `\t`: "\t", `\\n`: `\n`, "é": "é", `\u00e9`: "é", `"q"`: `"q"`, "": ""} {
		got, err := unescape(in)
		if assert.NoError(t, err, "unescape(%q)", in) {
			assert.Equal(t, want, got, "unescape(%q)", in)
		}
	}
}
