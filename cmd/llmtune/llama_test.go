package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/transformer"
)

// tinyLlamaDir returns a model directory holding the tiny Llama of testdata/llama (a
// 512-id vocabulary) with the tiny test model's 512-token tokenizer beside it: a Llama
// checkpoint the CLI can read text with.
func tinyLlamaDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []struct{ src, dst string }{
		{"../../testdata/llama/tiny-llama/config.json", "config.json"},
		{"../../testdata/llama/tiny-llama/model.safetensors", "model.safetensors"},
		{filepath.Join(tinyDir, "tokenizer.json"), "tokenizer.json"},
	} {
		b, err := os.ReadFile(f.src)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f.dst), b, 0o644))
	}
	return dir
}

// TestLlamaCommands runs generate, eval, tokenize and merge on a Llama checkpoint.
func TestLlamaCommands(t *testing.T) {
	dir := tinyLlamaDir(t)
	code, out, stderr := llmtune(t, "generate", "--model", dir, "--prompt", "red cat", "--max-new-tokens", "8")
	require.Equal(t, 0, code, stderr)
	assert.NotEmpty(t, strings.TrimSpace(out))

	res := evalJSON(t, "--model", dir, "--data", reverseData, "--format", "source_target",
		"--template", "{source} = {target}", "--max-examples", "6")
	assert.Greater(t, res["eval_loss"], 0.0)
	assert.Contains(t, res, "eval_chrf")

	code, out, stderr = llmtune(t, "tokenize", "--model", dir, "--data", reverseData, "--format", "source_target",
		"--template", "{source} = {target}")
	require.Equal(t, 0, code, stderr)
	assert.NotEmpty(t, out)

	merged := filepath.Join(t.TempDir(), "bf16")
	code, _, stderr = llmtune(t, "merge", "--model", dir, "--out", merged, "--dtype", "bf16")
	require.Equal(t, 0, code, stderr)
	m, err := transformer.Load(merged)
	require.NoError(t, err)
	assert.Equal(t, transformer.Llama, m.Config.Family())
	assert.FileExists(t, filepath.Join(merged, "tokenizer.json"))
}
