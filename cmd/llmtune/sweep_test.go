package main

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/llmtune/llmtune/cmd/llmtune/internal/sweep"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sweepFixture writes the tiny model's pairs split into train, valid and test files, a
// recipe on them, and a sweep file of two variants × two learning rates at 2 steps; it
// returns the sweep file and the three data files.
func sweepFixture(t *testing.T, variants string) (sweepPath, train, valid, test string) {
	t.Helper()
	r := recipe(t, "eval:\n  metrics: [loss, perplexity, chrf]\n  max_examples: 8\ngeneration:\n  max_new_tokens: 6\n")
	dir := filepath.Dir(r)
	b, err := os.ReadFile(filepath.Join(tinyDir, "reverse.jsonl"))
	require.NoError(t, err)
	lines := strings.SplitAfter(strings.TrimSpace(string(b))+"\n", "\n")
	train, valid, test = filepath.Join(dir, "train.jsonl"), filepath.Join(dir, "valid.jsonl"), filepath.Join(dir, "test.jsonl")
	require.NoError(t, os.WriteFile(train, []byte(strings.Join(lines[:150], "")), 0o644))
	require.NoError(t, os.WriteFile(valid, []byte(strings.Join(lines[150:175], "")), 0o644))
	require.NoError(t, os.WriteFile(test, []byte(strings.Join(lines[175:200], "")), 0o644))
	if variants == "" {
		variants = `  - name: lora-r2
    overrides: [adapter.r=2, adapter.alpha=4]
    learning_rates: [1.0e-3, 5.0e-2]
  - name: full
    overrides: ["~adapter"]
    learning_rates: [1.0e-4, 1.0e-2]
`
	}
	y := `# a test sweep
output_dir: ` + filepath.Join(dir, "sweep") + `
recipes:
  - name: reverse
    recipe: ` + r + `
    overrides: ["~data.val_set_size", data.train=` + train + `, data.eval=` + test + `, train.max_steps=2]
    validation: [data.eval=` + valid + `, "eval.metrics=[loss, perplexity]"]
variants:
` + variants
	sweepPath = filepath.Join(dir, "sweep.yaml")
	require.NoError(t, os.WriteFile(sweepPath, []byte(y), 0o644))
	return sweepPath, train, valid, test
}

// TestSweep runs a sweep of two variants × two learning rates on the tiny model, each run
// a child process (the test binary acting as llmtune), and checks the files it writes and
// that each variant's pick is its lowest validation loss; run again, it trains nothing.
func TestSweep(t *testing.T) {
	t.Setenv("LLMTUNE_TEST_AS_MAIN", "1") // the children: os.Executable() is this test binary
	sweepPath, _, valid, test := sweepFixture(t, "")
	out := filepath.Join(filepath.Dir(sweepPath), "sweep")

	code, stdout, stderr := llmtune(t, "sweep", sweepPath, "--dry-run")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, 4, strings.Count(stdout, "(to run)\n  llmtune run "), stdout)
	assert.Contains(t, stdout, "train.learning_rate=0.05 data.eval="+valid)
	assert.Contains(t, stdout, "'~adapter' train.learning_rate=0.0001")
	assert.NoDirExists(t, out, "a dry run writes nothing")

	code, stdout, stderr = llmtune(t, "sweep", sweepPath)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "4 runs, 2 results")

	for _, v := range []struct {
		name string
		lrs  []string
		full bool
	}{{"lora-r2", []string{"0.001", "0.05"}, false}, {"full", []string{"0.0001", "0.01"}, true}} {
		var runs []*sweep.Record
		for _, lr := range v.lrs {
			rec, err := sweep.ReadRecord(filepath.Join(out, "reverse", v.name, "lr-"+lr, sweep.RunFile))
			require.NoError(t, err)
			assert.Equal(t, "validation", rec.Phase)
			assert.Equal(t, valid, rec.EvalData)
			assert.Equal(t, 2, rec.Steps)
			require.NotNil(t, rec.EvalLoss)
			assert.NotNil(t, rec.StartEvalLoss)
			assert.Nil(t, rec.EvalChrF, "phase 1 evaluates the loss only, as the validation overrides say")
			assert.Positive(t, rec.TokensPerS)
			assert.Positive(t, rec.WallS)
			assert.Positive(t, rec.AdapterBytes)
			assert.Positive(t, rec.ModelParams)
			if runtime.GOOS == "linux" {
				require.NotNil(t, rec.PeakRSSMB)
				assert.Greater(t, *rec.PeakRSSMB, 5.0)
			}
			if v.full {
				assert.Equal(t, rec.ModelParams, rec.TrainableParams)
				assert.InDelta(t, 100, rec.TrainablePercent, 1e-9)
				assert.FileExists(t, filepath.Join(rec.RunDir, "model", "model.safetensors"))
			} else {
				assert.Less(t, rec.TrainableParams, rec.ModelParams/10)
				assert.FileExists(t, filepath.Join(rec.RunDir, "adapter", "adapter_model.safetensors"))
			}
			runs = append(runs, rec)
		}
		best := runs[0]
		if *runs[1].EvalLoss < *best.EvalLoss {
			best = runs[1]
		}
		res, err := sweep.ReadRecord(filepath.Join(out, "reverse", v.name, sweep.TestFile))
		require.NoError(t, err)
		assert.Equal(t, "test", res.Phase)
		assert.Equal(t, best.LearningRate, res.LearningRate, "the pick is the lowest validation loss")
		assert.Equal(t, best.RunDir, res.RunDir)
		assert.Equal(t, *best.EvalLoss, *res.ValidationLoss)
		assert.Len(t, res.ValidationLosses, 2)
		assert.True(t, res.PickedAtEdge, "a grid of two is all edges")
		assert.Equal(t, test, res.EvalData)
		require.NotNil(t, res.EvalLoss)
		assert.NotEqual(t, *best.EvalLoss, *res.EvalLoss, "evaluated on another split")
		assert.NotNil(t, res.EvalChrF, "phase 2 has the recipe's metrics")
		assert.Equal(t, best.TrainableParams, res.TrainableParams)
	}

	md, err := os.ReadFile(filepath.Join(out, sweep.SummaryMD))
	require.NoError(t, err)
	assert.Contains(t, string(md), "| recipe | variant | trainable params |")
	assert.Regexp(t, `\| reverse \| lora-r2 \| [0-9,]+ \| [0-9.]+% \| [0-9.e-]+ \(edge\) \| [0-9.]+ \| [0-9.]+ \| [+-][0-9.]+% \|`, string(md))
	assert.Regexp(t, `\| reverse \| full \| [0-9,]+ \| 100\.00% \|.* \| – \|`, string(md))
	sum, err := os.ReadFile(filepath.Join(out, sweep.SummaryJSON))
	require.NoError(t, err)
	assert.Equal(t, 4, strings.Count(string(sum), `"phase": "validation"`))
	assert.Equal(t, 2, strings.Count(string(sum), `"phase": "test"`))
	pngData, err := os.ReadFile(filepath.Join(out, sweep.SummaryPNG))
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(pngData))
	require.NoError(t, err)
	assert.Equal(t, image.Rect(0, 0, 800, 600), img.Bounds())

	// Again: every run is done, so nothing trains; --only keeps to one variant.
	st, err := os.Stat(filepath.Join(out, "reverse", "full", "lr-0.01", sweep.RunFile))
	require.NoError(t, err)
	code, stdout, stderr = llmtune(t, "sweep", sweepPath, "--only", "full")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, 2, strings.Count(stderr, ": done ("), stderr)
	assert.NotContains(t, stderr, "running")
	assert.Contains(t, stdout, "4 runs, 2 results", "the summary covers every finished run")
	st2, err := os.Stat(filepath.Join(out, "reverse", "full", "lr-0.01", sweep.RunFile))
	require.NoError(t, err)
	assert.Equal(t, st.ModTime(), st2.ModTime())
	code, stdout, _ = llmtune(t, "sweep", "--dry-run", sweepPath, "--only", "lora-r2")
	require.Equal(t, 0, code)
	assert.Equal(t, 2, strings.Count(stdout, "(done)"), stdout)
	assert.NotContains(t, stdout, "/full/")

	// A run without its run.json (stopped before the end) continues from its checkpoint,
	// here the last one, to the same result.
	runPath := filepath.Join(out, "reverse", "lora-r2", "lr-0.05", sweep.RunFile)
	before, err := sweep.ReadRecord(runPath)
	require.NoError(t, err)
	require.NoError(t, os.Remove(runPath))
	code, stdout, _ = llmtune(t, "sweep", "--dry-run", sweepPath)
	require.Equal(t, 0, code)
	assert.Contains(t, stdout, "lr-0.05 (to resume)")
	code, _, stderr = llmtune(t, "sweep", sweepPath, "--only", "reverse")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, 1, strings.Count(stderr, "running"), stderr)
	after, err := sweep.ReadRecord(runPath)
	require.NoError(t, err)
	assert.True(t, after.Resumed)
	assert.Equal(t, *before.EvalLoss, *after.EvalLoss)
	assert.Equal(t, before.Steps, after.Steps)

	// A grid that grows: test.json lists every rate's validation loss and says whether
	// the pick is at the new grid's edge, whether or not the pick changed.
	y, err := os.ReadFile(sweepPath)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(sweepPath, []byte(strings.Replace(string(y), "[1.0e-4, 1.0e-2]", "[1.0e-4, 1.0e-3, 1.0e-2]", 1)), 0o644))
	code, _, stderr = llmtune(t, "sweep", sweepPath, "--only", "full")
	require.Equal(t, 0, code, stderr)
	res, err := sweep.ReadRecord(filepath.Join(out, "reverse", "full", sweep.TestFile))
	require.NoError(t, err)
	require.Len(t, res.ValidationLosses, 3)
	assert.Equal(t, res.LearningRate != 1e-3, res.PickedAtEdge, "picked %g", res.LearningRate)
}

func TestSweepErrors(t *testing.T) {
	sweepPath, _, valid, test := sweepFixture(t, "")
	dir := filepath.Dir(sweepPath)
	good, err := os.ReadFile(sweepPath)
	require.NoError(t, err)
	write := func(name, y string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(y), 0o644))
		return p
	}
	for _, c := range []struct {
		name, yaml string
		code       int
		want       []string
	}{
		{"unknown key", strings.Replace(string(good), "learning_rates: [1.0e-4", "learning_rate: [1.0e-4", 1), 1,
			[]string{"unknown key.yaml:14: field learning_rate not found"}},
		{"duplicate key", strings.Replace(string(good), "  - name: full\n", "  - name: full\n    name: full2\n", 1), 1,
			[]string{`duplicate key.yaml:13: mapping key "name" already defined at line 12`}},
		{"syntax", "output_dir: x\nrecipes: [\n", 1, []string{"syntax.yaml:2: "}},
		{"bad lr", strings.Replace(string(good), "[1.0e-3, 5.0e-2]", "[1.0e-3, fast]", 1), 1,
			[]string{"bad lr.yaml:11: ", "fast"}},
		{"bad override", strings.Replace(string(good), "adapter.r=2", "adapter.rank=2", 1), 1,
			[]string{"bad override.yaml:9: variant lora-r2 on recipe reverse:", "adapter.rank"}},
		{"same split", strings.Replace(string(good), "validation: [data.eval="+valid, "validation: [data.eval="+test, 1), 1,
			[]string{"would pick the learning rate on the recipe's own evaluation split"}},
		{"other budget", strings.Replace(string(good), `["~adapter"]`, `["~adapter", train.max_steps=3]`, 1), 1,
			[]string{"same data, seed, steps and evaluation", "variant full"}},
		{"names", strings.Replace(strings.Replace(string(good), "name: full", "name: lora-r2", 1), "learning_rates: [1.0e-4, 1.0e-2]", "learning_rates: [1.0e-4, 1.0e-4, 0]", 1), 1,
			[]string{`names.yaml:12: variant name "lora-r2" is already used at line 9`, "0.0001 is listed twice", "0 must be > 0"}},
		{"recipe grid", strings.Replace(string(good), "    learning_rates: [1.0e-4, 1.0e-2]\n",
			"    learning_rates: [1.0e-4, 1.0e-2]\n    recipe_learning_rates: {reverse: [], other: [1.0e-3]}\n", 1), 1,
			[]string{"variant full: recipe_learning_rates: \"other\" names no recipe", "recipe_learning_rates: reverse must list at least one"}},
	} {
		p := write(c.name+".yaml", c.yaml)
		code, _, stderr := llmtune(t, "sweep", p, "--dry-run")
		assert.Equal(t, c.code, code, "%s: %s", c.name, stderr)
		for _, w := range c.want {
			assert.Contains(t, stderr, w, c.name)
		}
		assert.Equal(t, 1, strings.Count(stderr, "\n"), "%s: one line: %q", c.name, stderr)
	}
	// A recipe's own grid replaces the variant's on that recipe.
	p := write("recipe grid.yaml", strings.Replace(string(good), "    learning_rates: [1.0e-4, 1.0e-2]\n",
		"    learning_rates: [1.0e-4, 1.0e-2]\n    recipe_learning_rates: {reverse: [3.0e-4]}\n", 1))
	code, stdout, stderr := llmtune(t, "sweep", p, "--dry-run", "--only", "full")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, 1, strings.Count(stdout, "(to run)"), stdout)
	assert.Contains(t, stdout, "'~adapter' train.learning_rate=0.0003 ")

	code, _, stderr = llmtune(t, "sweep", sweepPath, "--only", "nope")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `--only "nope" names no recipe or variant`)
	assert.Contains(t, stderr, "full, lora-r2, reverse")
	code, _, stderr = llmtune(t, "sweep")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "missing SWEEP.yaml")
	code, _, stderr = llmtune(t, "sweep", sweepPath, "extra")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `unexpected argument "extra"`)
}
