package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/internal/numtest"
	"github.com/llmtune/llmtune/lora"
	"github.com/llmtune/llmtune/tokenizer"
	"github.com/llmtune/llmtune/transformer"
	"github.com/llmtune/llmtune/transformer/safetensors"
)

const tinyDir = "../../testdata/tiny"

// llmtune runs the CLI in-process and returns its exit status, stdout and stderr.
func llmtune(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// recipe writes a small LoRA recipe on the tiny model and returns its path.
func recipe(t *testing.T, extra string) string {
	t.Helper()
	dir := t.TempDir()
	y := fmt.Sprintf(`# a test recipe
base_model: %s
output_dir: %s
seed: 3
adapter:
  r: 4
  alpha: 8
data:
  train: %s
  val_set_size: 20
  format: source_target
  template: "{source} = {target}"
  max_seq_len: 64
  packing: true
train:
  max_steps: 4
  batch_size: 4
  learning_rate: 1.0e-2
  log_steps: 2
%s`, tinyDir, filepath.Join(dir, "out"), filepath.Join(tinyDir, "reverse.jsonl"), extra)
	p := filepath.Join(dir, "recipe.yaml")
	require.NoError(t, os.WriteFile(p, []byte(y), 0o644))
	return p
}

func TestUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "no command given"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"run"}, 2, "missing RECIPE"},
		{[]string{"run", "--bogus", "x.yaml"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"merge", "--model", "x"}, 2, "missing --out"},
		{[]string{"merge", "--model", "x", "--adapter", "y", "--out", "z", "--dtype", "f8"}, 2, `--dtype "f8": want f32, f16 or bf16`},
		{[]string{"tokenize"}, 2, "missing --model, --data"},
		{[]string{"bench", "--workload", "huge"}, 2, `unknown workload "huge"`},
	} {
		code, _, stderr := llmtune(t, c.args...)
		assert.Equal(t, c.code, code, "llmtune %v", c.args)
		assert.Contains(t, stderr, c.want, "llmtune %v", c.args)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		assert.True(t, strings.HasPrefix(lines[len(lines)-1], "llmtune: "), "llmtune %v: last stderr line %q", c.args, lines[len(lines)-1])
	}
	code, out, _ := llmtune(t, "help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "run")
	assert.NotContains(t, out, "../")
}

// TestHelp: every command's --help starts with the arguments that llmtune help lists, and
// those name every flag but bench's internal --child.
func TestHelp(t *testing.T) {
	_, list, _ := llmtune(t, "help")
	flagLine := regexp.MustCompile(`(?m)^  -(\S+)`)
	for _, c := range commands {
		code, out, stderr := llmtune(t, c.name, "--help")
		assert.Equal(t, 0, code, "%s --help", c.name)
		assert.Empty(t, out, "%s --help", c.name)
		assert.True(t, strings.HasPrefix(stderr, "Usage: llmtune "+c.name+" "+c.args+"\n"), "%s --help: %q", c.name, stderr)
		assert.NotContains(t, stderr, "../", "%s --help", c.name)
		assert.Contains(t, list, "  "+c.name+" ", "llmtune help")
		assert.Contains(t, list, c.args, "llmtune help")
		for _, m := range flagLine.FindAllStringSubmatch(stderr, -1) {
			if f := m[1]; f != "child" {
				assert.Regexp(t, `-`+regexp.QuoteMeta(f)+`[ \]]`, c.args, "%s --help: flag -%s is not in the usage line", c.name, f)
			}
		}
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("base_model: x\noutput_dir: y\ntrian:\n  epochs: 1\n"), 0o644))
	code, _, stderr := llmtune(t, "run", bad)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, bad+":3")
	assert.Contains(t, stderr, "trian")
	assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)

	r := recipe(t, "")
	code, _, stderr = llmtune(t, "run", r, "train.learnig_rate=1")
	assert.Equal(t, 2, code, stderr)
	assert.Contains(t, stderr, "learnig_rate")
	code, _, stderr = llmtune(t, "run", r, "train.max_steps=many")
	assert.Equal(t, 2, code, stderr)
	assert.Contains(t, stderr, "max_steps")

	code, _, stderr = llmtune(t, "run", r, "base_model="+filepath.Join(dir, "no-such-model"))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "no-such-model")
	assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)

	code, _, stderr = llmtune(t, "run", filepath.Join(dir, "missing.yaml"))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "missing.yaml")
}

// TestRunUsedOutputDir: a second run into the same output_dir is refused with one line
// saying how to go on; overwrite_output_dir=true replaces the first run.
func TestRunUsedOutputDir(t *testing.T) {
	r := recipe(t, "")
	outDir := filepath.Join(filepath.Dir(r), "out")
	code, _, stderr := llmtune(t, "run", r)
	require.Equal(t, 0, code, stderr)
	code, _, stderr = llmtune(t, "run", r)
	assert.Equal(t, 1, code)
	assert.Equal(t, "llmtune: output_dir "+outDir+" already holds a run (checkpoints/, adapter/, metrics.jsonl, loss.png): "+
		"continue it with train.resume_from_checkpoint=auto, keep it and use another output_dir, or replace it with overwrite_output_dir=true\n", stderr)
	code, _, stderr = llmtune(t, "run", r, "overwrite_output_dir=true")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "overwrite_output_dir: removed the previous run's checkpoints/, adapter/, metrics.jsonl, loss.png from "+outDir+"\n")
}

// TestRunThenMerge trains through the CLI, then merges the adapter and checks that the
// merged checkpoint computes what base + adapter computes.
func TestRunThenMerge(t *testing.T) {
	r := recipe(t, "")
	code, out, stderr := llmtune(t, "run", r)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "base_model: "+tinyDir)
	assert.Contains(t, out, "eval_loss ")
	assert.Contains(t, stderr, "step 4/4")
	outDir := filepath.Join(filepath.Dir(r), "out")
	for _, f := range []string{"metrics.jsonl", "loss.png", "config.yaml", "adapter/adapter_config.json", "checkpoints/checkpoint-4/trainer_state.json"} {
		assert.FileExists(t, filepath.Join(outDir, f))
	}

	merged := filepath.Join(t.TempDir(), "merged")
	code, _, stderr = llmtune(t, "merge", "--model", tinyDir, "--adapter", filepath.Join(outDir, "adapter"), "--out", merged)
	require.Equal(t, 0, code, stderr)
	tok, err := tokenizer.Load(merged)
	require.NoError(t, err)
	ids := tok.Encode("red cat = cat red")
	m, err := transformer.Load(merged)
	require.NoError(t, err)
	base, err := transformer.Load(tinyDir)
	require.NoError(t, err)
	_, err = lora.Load(base, filepath.Join(outDir, "adapter"))
	require.NoError(t, err)
	got, want := flatLogits(m, ids), flatLogits(base, ids)
	numtest.AssertClose(t, "merged logits", got, want, 1e-5)

	// --dtype bf16 writes BF16 tensors; the logits move by the rounding only.
	mergedBF16 := filepath.Join(t.TempDir(), "merged-bf16")
	code, _, stderr = llmtune(t, "merge", "--model", tinyDir, "--adapter", filepath.Join(outDir, "adapter"), "--out", mergedBF16, "--dtype", "bf16")
	require.Equal(t, 0, code, stderr)
	sf, err := safetensors.Open(filepath.Join(mergedBF16, transformer.WeightsFile))
	require.NoError(t, err)
	assert.Equal(t, safetensors.BF16, sf.Tensors()[0].DType)
	require.NoError(t, sf.Close())
	mb, err := transformer.Load(mergedBF16)
	require.NoError(t, err)
	numtest.AssertClose(t, "bf16 merged logits", flatLogits(mb, ids), want, 0.05)

	// Without --adapter, merge only converts: the base model as BF16, with its tokenizer.
	conv := filepath.Join(t.TempDir(), "base-bf16")
	code, out, stderr = llmtune(t, "merge", "--model", tinyDir, "--out", conv, "--dtype", "bf16")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "converted "+tinyDir)
	sf, err = safetensors.Open(filepath.Join(conv, transformer.WeightsFile))
	require.NoError(t, err)
	assert.Equal(t, safetensors.BF16, sf.Tensors()[0].DType)
	require.NoError(t, sf.Close())
	_, err = tokenizer.Load(conv)
	require.NoError(t, err)
	mc, err := transformer.Load(conv)
	require.NoError(t, err)
	plain, err := transformer.Load(tinyDir) // no adapter
	require.NoError(t, err)
	numtest.AssertClose(t, "converted bf16 logits", flatLogits(mc, ids), flatLogits(plain, ids), 0.1) // rounding only: TestSaveAsHalf checks each weight

	// An adapter for another base is refused with one line and exit 1.
	other := filepath.Join(t.TempDir(), "other")
	code, _, stderr = llmtune(t, "merge", "--model", "../../testdata/reference/tiny-bf16", "--adapter", "../../testdata/reference/peft-r3", "--out", other)
	assert.Equal(t, 0, code, stderr) // same shapes: fits
	cfg := `{"n_layer": 2, "n_head": 4, "n_embd": 32, "vocab_size": 512, "n_positions": 128}`
	small := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(small, "config.json"), []byte(cfg), 0o644))
	sm, err := transformer.New(must(transformer.ParseConfig([]byte(cfg))), nil)
	require.NoError(t, err)
	require.NoError(t, sm.Save(small))
	code, _, stderr = llmtune(t, "merge", "--model", small, "--adapter", filepath.Join(outDir, "adapter"), "--out", other)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "want [")
	assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
}

// flatLogits returns m's logits for ids, one row after another.
func flatLogits(m *transformer.Model, ids []int) []float32 {
	var out []float32
	for _, row := range m.Logits(ids) {
		out = append(out, row...)
	}
	return out
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestTokenize(t *testing.T) {
	code, out, stderr := llmtune(t, "tokenize", "--model", tinyDir, "--data", filepath.Join(tinyDir, "reverse.jsonl"), "--recipe", recipe(t, ""), "-n", "1")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "example 1:")
	assert.Contains(t, out, "masked")
	assert.Contains(t, out, `"<|endoftext|>"`, "EOS is a trained target")
	assert.NotContains(t, out, "example 2:")

	// The recipe's base_model and data.train when --model and --data are not given.
	code, again, stderr := llmtune(t, "tokenize", "--recipe", recipe(t, ""), "-n", "1")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, out, again)
	code, _, stderr = llmtune(t, "tokenize", "--data", filepath.Join(tinyDir, "reverse.jsonl"))
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "--model")
}

// TestRunInterrupted: a cancelled context (Ctrl-C) makes run save a checkpoint and exit
// 130 with one line naming it; resuming continues from it.
func TestRunInterrupted(t *testing.T) {
	r := recipe(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	code := Main(ctx, []string{"run", r}, strings.NewReader(""), &out, &errb)
	assert.Equal(t, 130, code, errb.String())
	assert.Contains(t, errb.String(), "checkpoint saved to")
	assert.Contains(t, errb.String(), "checkpoint-0")
	code, stdout, stderr := llmtune(t, "run", r, "train.resume_from_checkpoint=auto")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "trained 4 steps")
}
