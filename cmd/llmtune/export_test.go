package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/gguf"
	"github.com/llmtune/llmtune/lora"
	"github.com/llmtune/llmtune/tokenizer"
	"github.com/llmtune/llmtune/transformer"
)

const ggufDir = "../../testdata/gguf"

// exportGolden is testdata/gguf/golden.json, written by testdata/gguf/gen_golden.mjs: what llama.cpp made of the
// files llmtune export wrote.
type exportGolden struct {
	Generator string             `json:"generator"`
	Texts     []string           `json:"texts"`
	Prompts   []string           `json:"prompts"`
	NewTokens int                `json:"new_tokens"`
	Cases     []exportGoldenCase `json:"cases"`
}

// exportGoldenCase is one model of golden.json with its tokenizer, and what llama.cpp made of each export.
type exportGoldenCase struct {
	Name      string  `json:"name"`
	Model     string  `json:"model"`
	Tokenizer string  `json:"tokenizer"`
	Translate bool    `json:"translate"`
	Tokens    [][]int `json:"tokens"`
	Runs      []struct {
		DType      string `json:"dtype"`
		Adapter    string `json:"adapter"`
		LoRA       bool   `json:"lora"`
		F16Cache   bool   `json:"f16_cache"`
		Size       int64  `json:"size"`
		SHA256     string `json:"sha256"`
		LoRASize   int64  `json:"lora_size"`
		LoRASHA256 string `json:"lora_sha256"`
		Results    []struct {
			Prompt []int        `json:"prompt"`
			IDs    []int        `json:"ids"`
			Top    [][2]float64 `json:"top"`
		} `json:"results"`
	} `json:"runs"`
}

func readExportGolden(t *testing.T) exportGolden {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(ggufDir, "golden.json"))
	require.NoError(t, err)
	var g exportGolden
	require.NoError(t, json.Unmarshal(data, &g))
	return g
}

// repoPath turns a path of golden.json (relative to the repository root) into one relative to this package.
func repoPath(p string) string { return filepath.Join("../..", p) }

func fileSHA(t *testing.T, path string) (int64, string) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	return int64(len(data)), hex.EncodeToString(sum[:])
}

// gapTolerance is how far below llmtune's best logit llama.cpp's choice may be where the two greedy decodings
// part, per dtype of the file llama.cpp ran. llmtune computes in float32 from the float32 weights; llama.cpp from
// the file's weights, with activations rounded to F16 (F16 weights), BF16 (BF16) or 8 bits per block (Q8_0)
// before each product, and even from F32 weights its CPU GELU reads a table indexed by the input rounded to F16
// (GGML_GELU_FP16 in ggml-cpu's vec.h, about 1e-3 relative). Where llmtune's two best tokens are closer than that
// rounding, either may win: that is the only disagreement allowed.
var gapTolerance = map[string]float32{"f32": 1e-3, "f16": 0.01, "bf16": 0.05, "q8_0": 0.25}

// minExact is the least share of the demo's 300 translations that must be llama.cpp's to the last id, per dtype
// of the file: the target is 95% in F32 and F16 (measured: F32 99.7–100%, F16 97.3–99.0%); BF16 (88–92%) and
// Q8_0 (70–77%) are held to a little under what was measured. The tiny models' logits are nearly flat (random
// weights), so near-ties are common there and only gapTolerance applies.
var minExact = map[string]float64{"f32": 0.95, "f16": 0.95, "bf16": 0.85, "q8_0": 0.65}

// follow runs llmtune's greedy decoding of m along llama.cpp's continuation want of prompt. It returns how many
// ids agree and, where they part, how far llama.cpp's id is below llmtune's best logit. Where llama.cpp stopped
// before maxNew ids (at an end-of-generation token, or, with newline, after a newline), llmtune's next id must be
// one of eos.
func follow(t *testing.T, m *transformer.Model, tok *tokenizer.BPE, prompt, want []int, maxNew int, eos []int, newline bool) (int, float32, []float32) {
	t.Helper()
	cache, err := transformer.NewKVCache(m.Config, len(prompt)+len(want)+1)
	require.NoError(t, err)
	logits, err := m.NextLogits(cache, prompt)
	require.NoError(t, err)
	first := slices.Clone(logits)
	for k, id := range want {
		best := argmax(logits)
		if best != id {
			return k, logits[best] - logits[id], first
		}
		if logits, err = m.NextLogits(cache, []int{id}); err != nil {
			t.Fatal(err)
		}
	}
	if len(want) < maxNew && !(newline && strings.Contains(tok.Decode(want), "\n")) {
		if best := argmax(logits); !slices.Contains(eos, best) {
			return len(want), logits[best] - maxOf(logits, eos), first
		}
	}
	return len(want), 0, first
}

// greedyRun is llmtune's greedy continuation of a prompt and the logits of its first step.
type greedyRun struct {
	prompt, ids []int
	first       []float32
}

// llmtuneGreedy continues prompt with m's argmax for at most maxNew ids, stopping before an id of eos and, with
// newline (the translations), after the id whose text completes a newline, as llama.cpp's run in gen_golden.mjs.
func llmtuneGreedy(t *testing.T, m *transformer.Model, tok *tokenizer.BPE, prompt []int, maxNew int, eos []int, newline bool) greedyRun {
	t.Helper()
	cache, err := transformer.NewKVCache(m.Config, len(prompt)+maxNew)
	require.NoError(t, err)
	logits, err := m.NextLogits(cache, prompt)
	require.NoError(t, err)
	g := greedyRun{prompt: prompt, ids: []int{}, first: slices.Clone(logits)}
	for len(g.ids) < maxNew {
		id := argmax(logits)
		if slices.Contains(eos, id) {
			break
		}
		g.ids = append(g.ids, id)
		if newline && strings.Contains(tok.Decode(g.ids), "\n") || len(g.ids) == maxNew {
			break
		}
		if logits, err = m.NextLogits(cache, []int{id}); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

func maxOf(x []float32, ids []int) float32 {
	m := float32(math.Inf(-1))
	for _, id := range ids {
		m = max(m, x[id])
	}
	return m
}

// softmax returns the probabilities of logits.
func softmax(logits []float32) []float64 {
	mx := float64(logits[argmax(logits)])
	p := make([]float64, len(logits))
	var sum float64
	for i, l := range logits {
		p[i] = math.Exp(float64(l) - mx)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

// probTolerance bounds |p_llmtune − p_llama.cpp| of the five most probable first tokens, per dtype.
var probTolerance = map[string]float64{"f32": 5e-4, "f16": 2e-3, "bf16": 2e-2, "q8_0": 2e-2}

// TestExportGolden exports every model, dtype and adapter of golden.json again, checks that the files are those
// llama.cpp read, and compares llama.cpp's token ids and greedy continuations with llmtune's.
func TestExportGolden(t *testing.T) {
	g := readExportGolden(t)
	require.NotEmpty(t, g.Cases)
	dir := t.TempDir()
	for _, c := range g.Cases {
		t.Run(c.Name, func(t *testing.T) {
			tok, err := tokenizer.Load(repoPath(c.Tokenizer))
			require.NoError(t, err)
			texts := g.Texts
			prompts := g.Prompts
			maxNew := g.NewTokens
			if c.Translate {
				prompts = translatePrompts(t)
				texts = append(slices.Clone(texts), prompts...)
				maxNew = 64
			}
			require.Len(t, c.Tokens, len(texts))
			for i, text := range texts {
				assert.Equal(t, c.Tokens[i], nonNil(tok.Encode(text)), "token ids of %q", text)
			}
			models := map[string]*transformer.Model{}
			own := map[string][]greedyRun{} // llmtune's continuations, per adapter
			model := func(adapter string) *transformer.Model {
				if m := models[adapter]; m != nil {
					return m
				}
				m, err := transformer.Load(repoPath(c.Model))
				require.NoError(t, err)
				if adapter != "" {
					ad, err := lora.Load(m, repoPath(adapter))
					require.NoError(t, err)
					require.NoError(t, ad.Merge())
				}
				models[adapter] = m
				return m
			}
			for _, r := range c.Runs {
				name := fmt.Sprintf("%s %s adapter=%q lora=%v", c.Name, r.DType, r.Adapter, r.LoRA)
				args := []string{"export", "--model", repoPath(c.Model), "--tokenizer", repoPath(c.Tokenizer), "--dtype", r.DType}
				file := filepath.Join(dir, c.Name+"-"+r.DType+".gguf")
				if r.Adapter != "" && !r.LoRA {
					args = append(args, "--adapter", repoPath(r.Adapter))
					file = filepath.Join(dir, c.Name+"-"+r.DType+"-merged.gguf")
				}
				code, _, stderr := llmtune(t, append(args, "--out", file)...)
				require.Equal(t, 0, code, stderr)
				size, sum := fileSHA(t, file)
				assert.Equal(t, r.Size, size, "%s: size", name)
				if r.Adapter == "" || r.LoRA {
					// A merged model's weights depend on the SGEMM path (FMA or not); the others are copies.
					assert.Equal(t, r.SHA256, sum, "%s: the file is not the one llama.cpp read", name)
				}
				if r.LoRA {
					lfile := filepath.Join(dir, c.Name+"-lora.gguf")
					code, _, stderr := llmtune(t, "export", "--base", repoPath(c.Model), "--adapter", repoPath(r.Adapter),
						"--as-adapter", "--dtype", "f32", "--out", lfile)
					require.Equal(t, 0, code, stderr)
					lsize, lsum := fileSHA(t, lfile)
					assert.Equal(t, r.LoRASize, lsize, "%s: adapter size", name)
					assert.Equal(t, r.LoRASHA256, lsum, "%s: the adapter file is not the one llama.cpp read", name)
				}
				m := model(r.Adapter)
				eos := []int{tok.EOS()} // llama.cpp's end-of-generation ids among llmtune's: its evaluate stops there
				for _, id := range m.Config.EOSTokenIDs {
					if tok.Kind(id) == tokenizer.SpecialToken && !slices.Contains(eos, id) {
						eos = append(eos, id)
					}
				}
				require.Len(t, r.Results, len(prompts))
				if own[r.Adapter] == nil {
					own[r.Adapter] = make([]greedyRun, len(prompts))
					for i, p := range prompts {
						own[r.Adapter][i] = llmtuneGreedy(t, m, tok, append(tok.EncodeForModel(""), tok.Encode(p)...), maxNew, eos, c.Translate)
					}
				}
				exact := 0
				var maxGap float32
				for i, res := range r.Results {
					mine := own[r.Adapter][i]
					require.Equal(t, mine.prompt, res.Prompt, "%s: prompt %q", name, prompts[i])
					if !slices.Equal(mine.ids, res.IDs) {
						agree, gap, _ := follow(t, m, tok, res.Prompt, res.IDs, maxNew, eos, c.Translate)
						if os.Getenv("LLMTUNE_EXPORT_DEBUG") != "" {
							t.Logf("%s: %q: llmtune %v llama.cpp %v (agree %d, gap %g)", name, prompts[i], mine.ids, res.IDs, agree, gap)
						}
						maxGap = max(maxGap, gap)
						assert.LessOrEqual(t, gap, gapTolerance[r.DType], "%s: prompt %q: llama.cpp's id %d of %v is %g below llmtune's best",
							name, prompts[i], agree, res.IDs, gap)
					} else {
						exact++
					}
					p := softmax(mine.first)
					for _, tp := range res.Top {
						assert.InDelta(t, tp[1], p[int(tp[0])], probTolerance[r.DType], "%s: prompt %q: p(first = %d)", name, prompts[i], int(tp[0]))
					}
				}
				rate := float64(exact) / float64(len(r.Results))
				t.Logf("%s: %d/%d continuations exact, largest gap where they part %.3g", name, exact, len(r.Results), maxGap)
				if c.Translate {
					assert.GreaterOrEqual(t, rate, minExact[r.DType], "%s: %d/%d exact", name, exact, len(r.Results))
				}
			}
		})
	}
}

func nonNil(ids []int) []int {
	if ids == nil {
		return []int{}
	}
	return ids
}

// translatePrompts returns the prompts of the demo's test split as the translate recipe's template makes them.
func translatePrompts(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../../testdata/demo/translate/test.jsonl")
	require.NoError(t, err)
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var rec struct{ Source string }
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		out = append(out, "English: "+rec.Source+"\nSpanish: ")
	}
	return out
}

// TestExportMetadata reads exported files back and checks the keys and tensors llama.cpp reads.
func TestExportMetadata(t *testing.T) {
	dir := t.TempDir()
	open := func(args ...string) *gguf.Reader {
		t.Helper()
		out := filepath.Join(dir, "m.gguf")
		code, stdout, stderr := llmtune(t, append(args, "--out", out)...)
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, stdout, "wrote "+out)
		r, err := gguf.Open(out)
		require.NoError(t, err)
		t.Cleanup(func() { r.Close() })
		return r
	}
	val := func(r *gguf.Reader, key string) any {
		v, ok := r.Value(key)
		assert.True(t, ok, "key %s", key)
		return v
	}
	types := func(r *gguf.Reader) map[string]gguf.Type {
		m := map[string]gguf.Type{}
		for _, ti := range r.Tensors {
			m[ti.Name] = ti.Type
		}
		return m
	}

	r := open("export", "--model", tinyDir, "--dtype", "q8_0")
	assert.Equal(t, "gpt2", val(r, "general.architecture"))
	assert.Equal(t, "model", val(r, "general.type"))
	assert.Equal(t, "tiny", val(r, "general.name"))
	assert.Equal(t, uint32(7), val(r, "general.file_type"))
	assert.Equal(t, uint32(128), val(r, "gpt2.context_length"))
	assert.Equal(t, uint32(64), val(r, "gpt2.embedding_length"))
	assert.Equal(t, uint32(256), val(r, "gpt2.feed_forward_length"))
	assert.Equal(t, uint32(2), val(r, "gpt2.block_count"))
	assert.Equal(t, uint32(4), val(r, "gpt2.attention.head_count"))
	assert.Equal(t, float32(1e-5), val(r, "gpt2.attention.layer_norm_epsilon"))
	assert.Equal(t, "gpt2", val(r, "tokenizer.ggml.model"))
	assert.Equal(t, "gpt-2", val(r, "tokenizer.ggml.pre"))
	assert.Len(t, val(r, "tokenizer.ggml.tokens"), 512)
	assert.Len(t, val(r, "tokenizer.ggml.merges"), 255)
	tt := val(r, "tokenizer.ggml.token_type").([]int32)
	assert.Equal(t, int32(1), tt[0])
	assert.Equal(t, int32(3), tt[511], "<|endoftext|> is a control token")
	assert.Equal(t, uint32(511), val(r, "tokenizer.ggml.eos_token_id"))
	assert.Equal(t, uint32(511), val(r, "tokenizer.ggml.bos_token_id"))
	assert.Equal(t, false, val(r, "tokenizer.ggml.add_bos_token"))
	ty := types(r)
	assert.Len(t, r.Tensors, 28)
	assert.NotContains(t, ty, "output.weight", "GPT-2's head is tied: llama.cpp reuses token_embd")
	assert.Equal(t, gguf.Q8_0, ty["token_embd.weight"])
	assert.Equal(t, gguf.F32, ty["position_embd.weight"])
	assert.Equal(t, gguf.Q8_0, ty["blk.0.attn_qkv.weight"])
	assert.Equal(t, gguf.F32, ty["blk.0.attn_qkv.bias"])
	assert.Equal(t, gguf.F32, ty["blk.1.ffn_norm.weight"])
	qkv, _ := r.Tensor("blk.0.attn_qkv.weight")
	assert.Equal(t, []int{192, 64}, qkv.Shape, "Conv1D transposed to [out, in]")

	r = open("export", "--model", "../../testdata/llama/tiny-llama", "--tokenizer", filepath.Join(ggufDir, "spm"), "--dtype", "f16")
	assert.Equal(t, "llama", val(r, "general.architecture"))
	assert.Equal(t, uint32(2), val(r, "llama.attention.head_count_kv"))
	assert.Equal(t, uint32(16), val(r, "llama.rope.dimension_count"))
	assert.Equal(t, float32(10000), val(r, "llama.rope.freq_base"))
	assert.Equal(t, uint32(96), val(r, "llama.feed_forward_length"))
	assert.Equal(t, "llama", val(r, "tokenizer.ggml.model"))
	assert.Equal(t, "default", val(r, "tokenizer.ggml.pre"))
	assert.Equal(t, true, val(r, "tokenizer.ggml.add_bos_token"))
	assert.Equal(t, uint32(1), val(r, "tokenizer.ggml.bos_token_id"))
	assert.Equal(t, uint32(0), val(r, "tokenizer.ggml.unknown_token_id"))
	tt = val(r, "tokenizer.ggml.token_type").([]int32)
	assert.Equal(t, []int32{3, 3, 3, 6}, tt[:4])
	scores := val(r, "tokenizer.ggml.scores").([]float32)
	assert.Equal(t, float32(-1), scores[259], "the first merge's token")
	ty = types(r)
	assert.Equal(t, gguf.F32, ty["rope_freqs.weight"])
	assert.NotContains(t, ty, "output.weight")
	freqs, err := r.ReadFloat32("rope_freqs.weight")
	require.NoError(t, err)
	assert.Equal(t, float32(1), freqs[0])
	assert.Equal(t, float32(8), freqs[7])

	r = open("export", "--model", "../../testdata/llama/tiny-qwen2", "--tokenizer", filepath.Join(ggufDir, "qwen2"), "--dtype", "bf16")
	assert.Equal(t, "qwen2", val(r, "general.architecture"))
	assert.Equal(t, "qwen2", val(r, "tokenizer.ggml.pre"))
	assert.Equal(t, float32(1e6), val(r, "qwen2.rope.freq_base"))
	assert.Equal(t, float32(1e-6), val(r, "qwen2.attention.layer_norm_rms_epsilon"))
	assert.Contains(t, val(r, "tokenizer.chat_template"), "<|im_start|>")
	assert.Equal(t, uint32(511), val(r, "tokenizer.ggml.padding_token_id"))
	ty = types(r)
	assert.Equal(t, gguf.BF16, ty["output.weight"], "qwen2's head is untied")
	assert.Equal(t, gguf.F32, ty["blk.0.attn_q.bias"])

	r = open("export", "--base", "../../testdata/llama/tiny-llama", "--adapter", "../../testdata/llama/peft-llama-r4", "--as-adapter")
	assert.Equal(t, "adapter", val(r, "general.type"))
	assert.Equal(t, "lora", val(r, "adapter.type"))
	assert.Equal(t, float32(8), val(r, "adapter.lora.alpha"))
	a, _ := r.Tensor("blk.0.attn_q.weight.lora_a")
	b, _ := r.Tensor("blk.0.attn_q.weight.lora_b")
	assert.Equal(t, []int{4, 64}, a.Shape)
	assert.Equal(t, []int{64, 4}, b.Shape)
	assert.Equal(t, gguf.F32, a.Type)
	_, ok := r.Tensor("blk.1.ffn_down.weight.lora_a")
	assert.True(t, ok)
}

// TestExportErrors: bad command lines are usage errors; a model, tokenizer or adapter that GGUF cannot hold is
// refused by name, and nothing is written (an existing file stays as it was).
func TestExportErrors(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "x.gguf")
	require.NoError(t, os.WriteFile(out, []byte("old"), 0o644))
	badTok := filepath.Join(dir, "badtok")
	require.NoError(t, os.MkdirAll(badTok, 0o755))
	tj, err := os.ReadFile(filepath.Join(tinyDir, "tokenizer.json"))
	require.NoError(t, err)
	var j map[string]any
	require.NoError(t, json.Unmarshal(tj, &j))
	j["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
		map[string]any{"type": "Split", "pattern": map[string]any{"Regex": `\p{L}+|\s+|\S`}, "behavior": "Isolated", "invert": false},
		map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}}}
	tj, err = json.Marshal(j)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(badTok, "tokenizer.json"), tj, 0o644))

	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--model", tinyDir}, 2, "missing --out"},
		{[]string{"--model", tinyDir, "--out", out, "--dtype", "q4_0"}, 2, `--dtype "q4_0": want f32, f16, bf16 or q8_0`},
		{[]string{"--adapter", "../../testdata/reference/peft-r3", "--out", out, "--as-adapter"}, 2, "needs the adapter's --base model"},
		{[]string{"--model", tinyDir, "--base", "../../testdata/demo/base", "--out", out}, 2, "--model and --base name two models"},
		{[]string{"--model", tinyDir, "--out", out, "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"--model", tinyDir, "--tokenizer", badTok, "--out", out}, 1, `pre-tokenizer "other": llama.cpp has no name for it`},
		{[]string{"--model", "../../testdata/llama/tiny-llama", "--out", out}, 1, "load tokenizer"},
		{[]string{"--model", tinyDir, "--adapter", "../../testdata/llama/peft-llama-r4", "--out", out}, 1, "but this is a gpt2 model"},
		{[]string{"--model", tinyDir, "--tokenizer", "../../testdata/tokenizer/hf/mistral-7b", "--out", out}, 1, "the tokenizer has 32000 ids, more than the model's vocab_size 512"},
	} {
		code, _, stderr := llmtune(t, append([]string{"export"}, c.args...)...)
		assert.Equal(t, c.code, code, "%v: %s", c.args, stderr)
		assert.Contains(t, stderr, c.msg, "%v", c.args)
		data, err := os.ReadFile(out)
		require.NoError(t, err)
		assert.Equal(t, "old", string(data), "%v: the file was touched", c.args)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 2, "no temporary file is left behind")
}

// converterFile returns the file llama.cpp's convert_hf_to_gguf.py would write for the same model and dtype, as far
// as its size goes: the same tensors (their types restated from the converter's rules in base.py's
// prepare_tensors: F32 for 1-D tensors, "_norm.weight", position_embd and names not ending in ".weight"; Q8_0
// falling back to F16 for rows that are not a multiple of 32) and the same metadata but the keys it writes
// differently: it has no general.alignment (32 is the default), no gpt2.vocab_size (GPT2Model does not write it),
// no qwen2.vocab_size or rope.dimension_count (only LlamaModel writes them), and it adds general.size_label.
func converterFile(f *gguf.File, arch string, ft gguf.Type) *gguf.File {
	c := &gguf.File{}
	drop := map[string]bool{"general.alignment": true}
	if arch != "llama" {
		drop[arch+".vocab_size"] = true
		drop[arch+".rope.dimension_count"] = true
	}
	for _, kv := range f.KV {
		if !drop[kv.Key] {
			c.KV = append(c.KV, kv)
		}
	}
	c.Add("general.size_label", "4.3M")
	for _, t := range f.Tensors {
		typ := ft
		switch {
		case len(t.Shape) <= 1 || strings.HasSuffix(t.Name, "_norm.weight"):
			typ = gguf.F32
		case t.Name == "position_embd.weight" || !strings.HasSuffix(t.Name, ".weight"):
			typ = gguf.F32
		case ft == gguf.Q8_0 && t.Shape[len(t.Shape)-1]%32 != 0:
			typ = gguf.F16
		}
		c.Tensors = append(c.Tensors, gguf.Tensor{Name: t.Name, Shape: t.Shape, Type: typ})
	}
	return c
}

// TestExportSizeMatchesConverter: every export of golden.json is within 1% of the size of llama.cpp's converter's
// file for the same model and dtype (see converterFile).
func TestExportSizeMatchesConverter(t *testing.T) {
	g := readExportGolden(t)
	for _, c := range g.Cases {
		m, err := transformer.Load(repoPath(c.Model))
		require.NoError(t, err)
		tok, err := tokenizer.Load(repoPath(c.Tokenizer))
		require.NoError(t, err)
		for _, d := range []string{"f32", "f16", "bf16", "q8_0"} {
			ft, err := gguf.ParseType(d)
			require.NoError(t, err)
			f, err := gguf.Model(m, tok, gguf.Options{Type: ft, Name: filepath.Base(c.Model)})
			require.NoError(t, err)
			ours, theirs := f.Size(), converterFile(f, string(m.Config.Family()), ft).Size()
			diff := float64(ours-theirs) / float64(theirs)
			t.Logf("%s %s: %d bytes, converter %d (%+.3f%%)", c.Name, d, ours, theirs, 100*diff)
			assert.LessOrEqual(t, math.Abs(diff), 0.01, "%s %s", c.Name, d)
		}
	}
}

// TestExportLive runs llama.cpp itself when LLMTUNE_NODE_LLAMA_CPP names a directory holding node_modules with
// node-llama-cpp 3.21.1 (see testdata/gguf/README.md): gen_golden.mjs regenerates the tiny models' cases
// (GGUF_GOLDEN_CASES, default all but the demo) into a temporary file, which must equal golden.json's.
func TestExportLive(t *testing.T) {
	dir := os.Getenv("LLMTUNE_NODE_LLAMA_CPP")
	if dir == "" {
		t.Skip("LLMTUNE_NODE_LLAMA_CPP is not set: llama.cpp is not run")
	}
	node, err := exec.LookPath("node")
	require.NoError(t, err)
	repo, err := filepath.Abs("../..")
	require.NoError(t, err)
	cases := os.Getenv("GGUF_GOLDEN_CASES")
	if cases == "" {
		cases = "gpt2,llama-spm,qwen2,llama-bpe,smollm"
	}
	out := filepath.Join(t.TempDir(), "golden.json")
	cmd := exec.Command(node, filepath.Join(repo, "testdata/gguf/gen_golden.mjs"), repo, out)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GGUF_GOLDEN_CASES="+cases)
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", msg)
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	var live exportGolden
	require.NoError(t, json.Unmarshal(data, &live))
	want := readExportGolden(t)
	for _, lc := range live.Cases {
		i := slices.IndexFunc(want.Cases, func(c exportGoldenCase) bool { return c.Name == lc.Name })
		require.GreaterOrEqual(t, i, 0, "case %s is not in golden.json", lc.Name)
		wc := want.Cases[i]
		assert.Equal(t, wc.Tokens, lc.Tokens, "case %s: token ids", lc.Name)
		require.Len(t, lc.Runs, len(wc.Runs), "case %s", lc.Name)
		for j, r := range lc.Runs {
			w := wc.Runs[j]
			assert.Equal(t, w.Size, r.Size, "case %s run %d: size", lc.Name, j)
			if r.Adapter == "" || r.LoRA {
				assert.Equal(t, w.SHA256, r.SHA256, "case %s run %d: sha256", lc.Name, j)
			}
			for k, res := range r.Results {
				assert.Equal(t, w.Results[k].Prompt, res.Prompt, "case %s run %d prompt %d", lc.Name, j, k)
				assert.Equal(t, w.Results[k].IDs, res.IDs, "case %s run %d prompt %d: greedy ids", lc.Name, j, k)
			}
		}
	}
}

// TestQ8DecodeFollowsLlamaCpp decodes the demo's 300 translation prompts greedily with the model held in Q8_0
// blocks (transformer.WeightQ8: the very weights of the Q8_0 file llama.cpp ran, TestQ8ModelExportsItsBlocks) and
// compares the continuations with llama.cpp's on that file, without and with the merged adapter. Only the
// activations differ (llama.cpp rounds them to 8 bits per block before each product, llmtune keeps float32), so
// llmtune's Q8_0 model must agree with llama.cpp at least as often as its float32 model does, and in at least
// minExactQ8 of the prompts. (Measured: 235 and 243 of 300 exact, without and with the adapter, against the
// float32 model's 211 and 230; the rest part at near-ties, somewhere in up to 64 ids, where llama.cpp's 8-bit
// activations tip the choice.)
func TestQ8DecodeFollowsLlamaCpp(t *testing.T) {
	const minExactQ8 = 0.75
	g := readExportGolden(t)
	var demo *exportGoldenCase
	for i := range g.Cases {
		if g.Cases[i].Name == "demo" {
			demo = &g.Cases[i]
		}
	}
	require.NotNil(t, demo)
	tok, err := tokenizer.Load(repoPath(demo.Tokenizer))
	require.NoError(t, err)
	prompts := translatePrompts(t)
	for _, r := range demo.Runs {
		if r.DType != "q8_0" {
			continue
		}
		exact := map[transformer.WeightDType]int{}
		for _, dt := range []transformer.WeightDType{transformer.WeightF32, transformer.WeightQ8} {
			m, err := transformer.Load(repoPath(demo.Model))
			require.NoError(t, err)
			if r.Adapter != "" {
				ad, err := lora.Load(m, repoPath(r.Adapter))
				require.NoError(t, err)
				require.NoError(t, ad.Merge())
			}
			m.SetWeightDType(dt)
			require.Equal(t, dt, m.WeightDType())
			for i, p := range prompts {
				mine := llmtuneGreedy(t, m, tok, append(tok.EncodeForModel(""), tok.Encode(p)...), 64, []int{tok.EOS()}, true)
				if slices.Equal(mine.ids, r.Results[i].IDs) {
					exact[dt]++
				}
			}
		}
		n := len(prompts)
		t.Logf("adapter %q: llama.cpp's Q8_0 continuations matched exactly by llmtune's Q8_0 model %d/%d, float32 model %d/%d",
			r.Adapter, exact[transformer.WeightQ8], n, exact[transformer.WeightF32], n)
		assert.GreaterOrEqual(t, exact[transformer.WeightQ8], exact[transformer.WeightF32], "adapter %q", r.Adapter)
		assert.GreaterOrEqual(t, float64(exact[transformer.WeightQ8])/float64(n), minExactQ8, "adapter %q", r.Adapter)
	}
}
