package trainer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/internal/reftest"
	"github.com/llmtune/llmtune/lora"
	"github.com/llmtune/llmtune/trainer/dataset"
	"github.com/llmtune/llmtune/transformer"
	"github.com/llmtune/llmtune/transformer/safetensors"
)

// reverseTask writes a source/target JSONL where the target is the source's words in
// reverse order: a small synthetic translation task.
func reverseTask(t *testing.T, dir, name string, n int, seed uint64) string {
	t.Helper()
	words := []string{"red", "blue", "cat", "dog", "sun", "sea", "big", "old"}
	rng := rand.New(rand.NewPCG(seed, 1))
	var b strings.Builder
	for range n {
		k := 2 + rng.IntN(3)
		src := make([]string, k)
		for i := range src {
			src[i] = words[rng.IntN(len(words))]
		}
		rev := make([]string, k)
		for i := range src {
			rev[k-1-i] = src[i]
		}
		line, _ := json.Marshal(map[string]string{"source": strings.Join(src, " "), "target": strings.Join(rev, " ")})
		b.Write(append(line, '\n'))
	}
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(b.String()), 0o644))
	return p
}

// testRecipe is a LoRA run of the reverse task on the reference tiny model.
func testRecipe(t *testing.T, extra ...string) *Recipe {
	t.Helper()
	dir := t.TempDir()
	train := reverseTask(t, dir, "train.jsonl", 400, 1)
	eval := reverseTask(t, dir, "valid.jsonl", 40, 2)
	y := fmt.Sprintf(`
base_model: unused
output_dir: %s
seed: 7
adapter:
  r: 8
  alpha: 16
  dropout: 0.1
  target_modules: [q, v]
data:
  train: %s
  eval: %s
  format: source_target
  template: "{source} = {target}"
  max_seq_len: 64
  packing: true
train:
  max_steps: 6
  batch_size: 4
  learning_rate: 1.0e-2
  lr_scheduler: cosine
  warmup_steps: 2
  log_steps: 1
  eval_steps: 3
  save_steps: 3
`, filepath.Join(dir, "out"), train, eval)
	r, err := ParseRecipe([]byte(y), "test.yaml", extra...)
	require.NoError(t, err)
	return r
}

func tinyModel(t *testing.T) *transformer.Model {
	t.Helper()
	m, err := transformer.Load(reftest.Path("tiny-f32"))
	require.NoError(t, err)
	return m
}

func lossesOf(logs []StepLog) []float64 {
	var out []float64
	for _, l := range logs {
		out = append(out, l.Loss)
	}
	return out
}

func TestRunWritesEverything(t *testing.T) {
	r := testRecipe(t)
	res, err := Run(context.Background(), r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil))
	require.NoError(t, err)
	assert.Equal(t, 6, res.Steps)
	require.Len(t, res.Logs, 6)
	require.Len(t, res.Evals, 3) // step 0, 3 and the end
	assert.Equal(t, 0, res.Evals[0].Step)
	assert.Equal(t, 6, res.Evals[2].Step)
	assert.InDelta(t, math.Exp(res.Evals[0].EvalLoss), res.Evals[0].EvalPerplexity, 1e-9)
	assert.Less(t, res.Evals[2].EvalLoss, res.Evals[0].EvalLoss)
	assert.Equal(t, 0.0, res.Logs[0].LR, "warmup starts at 0, as HF's schedule")

	out := r.OutputDir
	steps, evals, err := readMetrics(filepath.Join(out, "metrics.jsonl"))
	require.NoError(t, err)
	assert.Len(t, steps, 6)
	assert.Len(t, evals, 3)
	raw, err := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	require.NoError(t, err)
	for _, key := range []string{`"step":1,`, `"loss":`, `"lr":`, `"grad_norm":`, `"tokens_per_s":`, `"elapsed_s":`, `"eval_loss":`, `"eval_perplexity":`} {
		assert.Contains(t, string(raw), key)
	}
	f, err := os.Open(filepath.Join(out, "loss.png"))
	require.NoError(t, err)
	img, err := png.Decode(f)
	f.Close()
	require.NoError(t, err)
	assert.Equal(t, 800, img.Bounds().Dx())
	_, err = ParseRecipe(must(os.ReadFile(filepath.Join(out, "config.yaml"))), "config.yaml")
	assert.NoError(t, err, "config.yaml must be a valid recipe")

	// The final adapter is a PEFT adapter that reproduces the trained model.
	m2 := tinyModel(t)
	_, err = lora.Load(m2, filepath.Join(out, "adapter"))
	require.NoError(t, err)
	cks, err := checkpoints(filepath.Join(out, checkpointsDir))
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(out, "checkpoints", "checkpoint-3"), filepath.Join(out, "checkpoints", "checkpoint-6")}, cks)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestResumeExact interrupts a run after step 3 (as Ctrl-C would), resumes it, and
// checks that the resumed steps have exactly the losses of an uninterrupted run: model,
// AdamW moments, schedule, data position and dropout RNG are all restored.
func TestResumeExact(t *testing.T) {
	full, err := Run(context.Background(), testRecipe(t), WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil))
	require.NoError(t, err)

	r := testRecipe(t, "train.save_steps=0", "train.eval_steps=0")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	part, err := Run(ctx, r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil), OnStep(func(l StepLog) {
		if l.Step == 3 {
			cancel()
		}
	}))
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "checkpoint-3")
	assert.Equal(t, lossesOf(full.Logs[:3]), lossesOf(part.Logs))

	r.Train.ResumeFromCheckpoint = "auto"
	rest, err := Run(context.Background(), r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil))
	require.NoError(t, err)
	assert.Equal(t, lossesOf(full.Logs[3:]), lossesOf(rest.Logs), "losses after resuming")
	assert.Equal(t, full.Evals[len(full.Evals)-1].EvalLoss, rest.Evals[len(rest.Evals)-1].EvalLoss)
	steps, _, err := readMetrics(filepath.Join(r.OutputDir, "metrics.jsonl"))
	require.NoError(t, err)
	assert.Equal(t, lossesOf(full.Logs), lossesOf(steps), "metrics.jsonl of the interrupted and resumed run")
}

// TestNaNStops: a NaN loss stops the run with ErrNonFinite, naming the last good
// checkpoint, which still loads.
func TestNaNStops(t *testing.T) {
	r := testRecipe(t, "train.save_steps=2", "train.max_steps=10", "train.eval_steps=0")
	m := tinyModel(t)
	ad, err := lora.Apply(m, lora.Config{Rank: 4, Alpha: 8, Targets: []string{"q", "v"}}, rand.New(rand.NewPCG(1, 2)))
	require.NoError(t, err)
	_, err = Run(context.Background(), r, WithModel(m, reftest.ByteTokenizer{}, ad), OnStep(func(l StepLog) {
		if l.Step == 3 {
			transformer.Floats(ad.Layers[0].Parts[0].B)[0] = float32(math.NaN())
		}
	}))
	require.ErrorIs(t, err, ErrNonFinite)
	assert.Contains(t, err.Error(), "step 4")
	assert.Contains(t, err.Error(), "checkpoint-2")
	_, err = lora.Load(tinyModel(t), filepath.Join(r.OutputDir, "checkpoints", "checkpoint-2", "adapter"))
	assert.NoError(t, err)
	_, err = os.Stat(filepath.Join(r.OutputDir, "checkpoints", "checkpoint-4"))
	assert.True(t, errors.Is(err, os.ErrNotExist), "a checkpoint after the NaN was written")
}

// TestInterruptedSaveKeepsLastCheckpoint: a save that dies half way leaves no partial
// checkpoint, and the previous one resumes.
func TestInterruptedSaveKeepsLastCheckpoint(t *testing.T) {
	r := testRecipe(t, "train.save_steps=2", "train.eval_steps=0")
	saves := 0
	saveHook = func(file string) error {
		if file == trainableFile {
			saves++
			if saves == 2 {
				return errors.New("killed")
			}
		}
		return nil
	}
	defer func() { saveHook = nil }()
	_, err := Run(context.Background(), r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil))
	require.ErrorContains(t, err, "killed")
	entries, err := os.ReadDir(filepath.Join(r.OutputDir, checkpointsDir))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{"checkpoint-2"}, names, "only complete checkpoints remain")
	saveHook = nil
	r.Train.ResumeFromCheckpoint = "auto"
	res, err := Run(context.Background(), r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil))
	require.NoError(t, err)
	assert.Equal(t, 6, res.Steps)
	assert.Equal(t, 3, res.Logs[0].Step, "resumed after step 2")
}

func TestSaveTotalLimit(t *testing.T) {
	r := testRecipe(t, "train.save_steps=1", "train.save_total_limit=2", "train.eval_steps=0")
	_, err := Run(context.Background(), r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil))
	require.NoError(t, err)
	cks, err := checkpoints(filepath.Join(r.OutputDir, checkpointsDir))
	require.NoError(t, err)
	require.Len(t, cks, 2)
	assert.True(t, strings.HasSuffix(cks[1], "checkpoint-6"))
}

// TestFullFineTuning trains every weight when the recipe has no adapter and writes a
// Hugging Face checkpoint that transformer.Load reads.
func TestFullFineTuning(t *testing.T) {
	r := testRecipe(t, "~adapter", "train.learning_rate=1e-3", "train.max_steps=3", "train.save_steps=0")
	m := tinyModel(t)
	res, err := Run(context.Background(), r, WithModel(m, reftest.ByteTokenizer{}, nil))
	require.NoError(t, err)
	assert.Less(t, res.Evals[1].EvalLoss, res.Evals[0].EvalLoss)
	m2, err := transformer.Load(res.Output)
	require.NoError(t, err)
	assert.Equal(t, transformer.Floats(m.WTE), transformer.Floats(m2.WTE))
	ref := tinyModel(t)
	assert.NotEqual(t, transformer.Floats(ref.WTE), transformer.Floats(m2.WTE), "weights did not move")
}

// TestLoRALearnsReverse: LoRA on q and v of the tiny model lowers the evaluation loss
// of the reverse-words task by at least 30%.
func TestLoRALearnsReverse(t *testing.T) {
	r := testRecipe(t, "train.max_steps=60", "train.eval_steps=0", "train.save_steps=0", "adapter.dropout=0", "train.log_steps=10")
	res, err := Run(context.Background(), r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil))
	require.NoError(t, err)
	first, last := res.Evals[0].EvalLoss, res.Evals[len(res.Evals)-1].EvalLoss
	t.Logf("eval loss %.4f → %.4f (%.0f%% lower)", first, last, 100*(1-last/first))
	assert.Less(t, last, 0.7*first)
}

// TestPackedLossIsTokenWeightedMean: the loss of a packed batch equals the token-weighted
// mean of its examples' losses computed one by one.
func TestPackedLossIsTokenWeightedMean(t *testing.T) {
	r := testRecipe(t)
	m := tinyModel(t)
	ds, err := dataset.New(r.Data.Train, r.Data, reftest.ByteTokenizer{})
	require.NoError(t, err)
	packed, err := ds.Loader(dataset.LoaderConfig{BatchSize: 2, Packing: true, Epochs: 1, MaxExamples: 12}, dataset.DataState{})
	require.NoError(t, err)
	defer packed.Close()
	b, err := packed.Next()
	require.NoError(t, err)
	require.NotNil(t, b.Segments)
	loss, err := m.Loss(b)
	require.NoError(t, err)

	single, err := ds.Loader(dataset.LoaderConfig{BatchSize: 1, Epochs: 1, MaxExamples: packed.Stats().Examples}, dataset.DataState{})
	require.NoError(t, err)
	defer single.Close()
	var sum float64
	var n, examples int
	for {
		e, err := single.Next()
		if err != nil {
			break
		}
		s, c, err := m.EvalLoss(e)
		require.NoError(t, err)
		sum, n, examples = sum+s, n+c, examples+1
	}
	require.Equal(t, packed.Stats().Examples, examples)
	assert.InDelta(t, sum/float64(n), float64(loss.Value().Item().F64()), 1e-5)
}

// vmRSS returns this process's resident set size in bytes (Linux), or 0.
func vmRSS() int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			var kb int64
			fmt.Sscan(f[1], &kb)
			return kb << 10
		}
	}
	return 0
}

// TestRunStreamsBigFile trains a few steps on a 200 MB JSONL (60 MB with -short): the
// file is streamed, so the resident set grows by far less than 50 MB.
func TestRunStreamsBigFile(t *testing.T) {
	size := 200 << 20
	if testing.Short() {
		size = 60 << 20
	}
	path, written, _ := reftest.BigJSONL(t, size)
	r := testRecipe(t, "train.max_steps=3", "train.eval_steps=0", "train.save_steps=0", "data.train="+path,
		"data.format=prompt_completion", "~data.template", "data.max_seq_len=128", "~data.eval")
	m := tinyModel(t)
	runtime.GC()
	before := vmRSS()
	res, err := Run(context.Background(), r, WithModel(m, reftest.ByteTokenizer{}, nil))
	require.NoError(t, err)
	require.Equal(t, 3, res.Steps)
	runtime.GC()
	growth := vmRSS() - before
	t.Logf("file %d MB: RSS grew by %.1f MB", written>>20, float64(growth)/(1<<20))
	assert.Less(t, growth, int64(50<<20))
}

// TestFromScratch pretrains from a seeded random initialisation of base_model's
// config.json (the tokenizer comes from base_model too), as the demo base model is made.
func TestFromScratch(t *testing.T) {
	r := testRecipe(t, "~adapter", "from_scratch=true", "base_model=../testdata/tiny", "train.max_steps=2", "train.save_steps=0")
	r.Data.Format, r.Data.Template = dataset.FormatSourceTarget, "{source} = {target}"
	res, err := Run(context.Background(), r)
	require.NoError(t, err)
	m, err := transformer.Load(res.Output)
	require.NoError(t, err)
	ref := tinyModel(t)
	assert.NotEqual(t, transformer.Floats(ref.WTE)[:8], transformer.Floats(m.WTE)[:8], "the weights were loaded, not initialised")
	assert.FileExists(t, filepath.Join(res.Output, "tokenizer.json"))
	// The same seed gives the same initialisation and training.
	r2 := testRecipe(t, "~adapter", "from_scratch=true", "base_model=../testdata/tiny", "train.max_steps=2", "train.save_steps=0")
	res2, err := Run(context.Background(), r2)
	require.NoError(t, err)
	assert.Equal(t, lossesOf(res.Logs), lossesOf(res2.Logs))
}

// echoGenerator answers every prompt with the reverse-task answer computed from it, so
// BLEU and chrF must be 100.
type echoGenerator struct{}

func (echoGenerator) Complete(_ context.Context, prompt string) (string, error) {
	src := strings.Fields(strings.TrimSuffix(prompt, " = "))
	for i, j := 0, len(src)-1; i < j; i, j = i+1, j-1 {
		src[i], src[j] = src[j], src[i]
	}
	return strings.Join(src, " "), nil
}

// TestRunGenerationMetrics: BLEU and chrF at every evaluation, from the model's own
// greedy completions, and 100 from a generator that is always right.
func TestRunGenerationMetrics(t *testing.T) {
	r := testRecipe(t, "eval.metrics=[loss,bleu,chrf]", "eval.max_examples=8", "eval.samples=2", "train.max_steps=2", "train.save_steps=0", "generation.max_new_tokens=12")
	var progress strings.Builder
	res, err := Run(context.Background(), r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil), WithProgress(&progress))
	require.NoError(t, err)
	for _, e := range res.Evals {
		require.NotNil(t, e.EvalBLEU)
		require.NotNil(t, e.EvalChrF)
		assert.True(t, *e.EvalChrF >= 0 && *e.EvalChrF <= 100)
	}
	assert.Contains(t, progress.String(), "eval_chrf")
	assert.Contains(t, progress.String(), "reference:")
	raw, err := os.ReadFile(filepath.Join(r.OutputDir, "metrics.jsonl"))
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"eval_bleu":`)

	// All 40 examples (2 to 4 words each), so that the corpus has 4-grams: sacreBLEU's
	// BLEU is 0 for a corpus without any.
	r = testRecipe(t, "eval.metrics=[bleu,chrf]", "train.max_steps=1", "train.save_steps=0")
	res, err = Run(context.Background(), r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil), WithGenerator(echoGenerator{}))
	require.NoError(t, err)
	assert.InDelta(t, 100, *res.Evals[0].EvalBLEU, 1e-9)
	assert.InDelta(t, 100, *res.Evals[0].EvalChrF, 1e-9)
}

// TestSamplesText: for text data, samples continue the first words of eval examples.
func TestSamplesText(t *testing.T) {
	dir := t.TempDir()
	txt := filepath.Join(dir, "valid.txt")
	require.NoError(t, os.WriteFile(txt, []byte("one two three four five six seven eight nine ten eleven\n\nanother paragraph of words that is long enough to cut\n"), 0o644))
	var progress strings.Builder
	r := testRecipe(t, "data.train="+txt, "data.eval="+txt, "data.format=text", "~data.template", "eval.samples=1", "train.max_steps=1", "train.save_steps=0")
	_, err := Run(context.Background(), r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil), WithProgress(&progress))
	require.NoError(t, err)
	assert.Contains(t, progress.String(), `prompt:    "one two three four five six seven eight"`)
	assert.Contains(t, progress.String(), `reference: "nine ten eleven"`)
}

// TestRunLayersToTransform: adapter.layers_to_transform reaches the adapter, which then
// adapts only those blocks.
func TestRunLayersToTransform(t *testing.T) {
	r := testRecipe(t, "adapter.layers_to_transform=[1]", "train.max_steps=1", "train.save_steps=0")
	res, err := Run(context.Background(), r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil))
	require.NoError(t, err)
	ad, err := lora.Load(tinyModel(t), res.Output)
	require.NoError(t, err)
	require.NotEmpty(t, ad.Layers)
	for _, l := range ad.Layers {
		assert.Equal(t, 1, l.Proj.Layer, "adapted %s", l.Proj)
	}
}

// tinyLlama loads the tiny Llama of testdata/llama (grouped-query attention, llama3 RoPE).
func tinyLlama(t *testing.T) *transformer.Model {
	t.Helper()
	m, err := transformer.Load(filepath.Join(reftest.LlamaDir(), "tiny-llama"))
	require.NoError(t, err)
	return m
}

// TestRunLlamaFullResume fine-tunes every weight of the tiny Llama, interrupted after
// step 3 and resumed: the resumed losses are exactly those of an uninterrupted run, and
// the saved model is a Llama checkpoint with HF's key names that loads back.
func TestRunLlamaFullResume(t *testing.T) {
	full, err := Run(context.Background(), testRecipe(t, "~adapter", "train.learning_rate=1e-3"),
		WithModel(tinyLlama(t), reftest.ByteTokenizer{}, nil))
	require.NoError(t, err)
	r := testRecipe(t, "~adapter", "train.learning_rate=1e-3", "train.save_steps=0", "train.eval_steps=0")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err = Run(ctx, r, WithModel(tinyLlama(t), reftest.ByteTokenizer{}, nil), OnStep(func(l StepLog) {
		if l.Step == 3 {
			cancel()
		}
	}))
	require.ErrorIs(t, err, context.Canceled)
	r.Train.ResumeFromCheckpoint = "auto"
	rest, err := Run(context.Background(), r, WithModel(tinyLlama(t), reftest.ByteTokenizer{}, nil))
	require.NoError(t, err)
	assert.Equal(t, lossesOf(full.Logs[3:]), lossesOf(rest.Logs), "losses after resuming")
	assert.Less(t, full.Evals[len(full.Evals)-1].EvalLoss, full.Evals[0].EvalLoss, "training lowered the eval loss")

	m, err := transformer.Load(rest.Output)
	require.NoError(t, err)
	assert.Equal(t, transformer.Llama, m.Config.Family())
	f, err := safetensors.Open(filepath.Join(rest.Output, "model.safetensors"))
	require.NoError(t, err)
	defer f.Close()
	_, ok := f.Tensor("model.layers.1.self_attn.k_proj.weight")
	assert.True(t, ok, "HF key name with the model. prefix")
}
