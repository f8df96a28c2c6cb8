//go:build ignore

// Command make_fixtures writes the 512-token tokenizers that testdata/gguf pairs with the tiny Llama-family
// models (testdata/llama/tiny-llama and tiny-qwen2 have no tokenizer, and their vocab_size is 512), and a LoRA
// adapter for tiny-qwen2:
//
//   - spm/: SentencePiece-style BPE with byte fallback, Mistral-7B's pipeline (Prepend "▁" + Replace normalizer,
//     no pre-tokenizer, ByteFallback decoder, <s> before each text) on a 512-token part of its vocabulary: <unk>,
//     <s>, </s>, the 256 <0xNN> tokens, the single characters of ASCII and of a few accented letters, and the
//     tokens its merges make from them, taken in merge order until there are 512; every Mistral merge among
//     them is kept, in Mistral's order. Mistral-7B's files are Apache-2.0 (testdata/tokenizer/hf/mistral-7b).
//
//   - qwen2/, llama3/, smollm/: the byte-level vocabulary and merges of testdata/tiny (512 tokens, llmtune's
//     own BPE trainer) with Qwen2's pipeline (NFC, Qwen2's Split pattern, ByteLevel; a ChatML chat_template),
//     Llama 3's (its Split pattern, ByteLevel, ignore_merges) and SmolLM2's (Digits, ByteLevel).
//
//   - qwen2-lora/: a PEFT adapter of rank 4 (alpha 8) on every projection of tiny-qwen2, A as lora.Apply draws
//     it and B ~ N(0, 0.05²) (not zero, so that it changes the output), seed 17.
//
//     go run testdata/gguf/make_fixtures.go      (from the repository root)
package main

import (
	"encoding/json"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/llmtune/llmtune/lora"
	"github.com/llmtune/llmtune/transformer"
)

const out = "testdata/gguf"

func main() {
	spm()
	byteLevel()
	qwen2Adapter()
}

func qwen2Adapter() {
	m, err := transformer.Load("testdata/llama/tiny-qwen2")
	if err != nil {
		log.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(17, 17))
	ad, err := lora.Apply(m, lora.Config{Rank: 4, Alpha: 8, Targets: []string{"all-linear"}}, rng)
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range ad.Layers {
		for _, p := range l.Parts {
			b := transformer.Floats(p.B)
			for i := range b {
				b[i] = float32(rng.NormFloat64() * 0.05)
			}
		}
	}
	ad.BaseModel = "tiny-qwen2"
	if err := ad.Save(filepath.Join(out, "qwen2-lora")); err != nil {
		log.Fatal(err)
	}
}

func read(path string) map[string]any {
	b, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		log.Fatal(err)
	}
	return m
}

func write(dir, name string, v any) {
	if err := os.MkdirAll(filepath.Join(out, dir), 0o755); err != nil {
		log.Fatal(err)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, dir, name), append(b, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
}

// merges returns a tokenizer.json's merges as pairs, whichever way they are written.
func merges(model map[string]any) [][2]string {
	var out [][2]string
	for _, m := range model["merges"].([]any) {
		switch m := m.(type) {
		case string:
			a, b, _ := strings.Cut(m, " ")
			out = append(out, [2]string{a, b})
		case []any:
			out = append(out, [2]string{m[0].(string), m[1].(string)})
		}
	}
	return out
}

func spm() {
	src := read("testdata/tokenizer/hf/mistral-7b/tokenizer.json")
	model := src["model"].(map[string]any)
	vocab := model["vocab"].(map[string]any)
	in := map[string]bool{}
	var specials, bytes, chars, merged []string
	for _, s := range []string{"<unk>", "<s>", "</s>"} {
		specials = append(specials, s)
	}
	for b := range 256 {
		bytes = append(bytes, "<0x"+strings.ToUpper(string("0123456789abcdef"[b>>4])+string("0123456789abcdef"[b&15]))+">")
	}
	alphabet := "▁abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?¿¡'\"-()[]/%&+=*#@$áéíóúñüÁÉÍÓÚÑ"
	for _, r := range alphabet {
		if _, ok := vocab[string(r)]; ok {
			chars = append(chars, string(r))
		}
	}
	for _, l := range [][]string{specials, bytes, chars} {
		for _, s := range l {
			in[s] = true
		}
	}
	all := merges(model)
	for _, m := range all {
		if len(specials)+len(bytes)+len(chars)+len(merged) == 512 {
			break
		}
		s := m[0] + m[1]
		if in[m[0]] && in[m[1]] && !in[s] {
			in[s] = true
			merged = append(merged, s)
		}
	}
	newVocab := map[string]int{}
	for _, l := range [][]string{specials, bytes, merged, chars} {
		for _, s := range l {
			newVocab[s] = len(newVocab)
		}
	}
	var kept []string
	for _, m := range all {
		if in[m[0]] && in[m[1]] && in[m[0]+m[1]] {
			kept = append(kept, m[0]+" "+m[1])
		}
	}
	model["vocab"] = newVocab
	model["merges"] = kept
	write("spm", "tokenizer.json", src)
	write("spm", "tokenizer_config.json", map[string]any{
		"add_bos_token": true, "add_eos_token": false, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
		"pad_token": nil, "tokenizer_class": "LlamaTokenizer", "legacy": true,
	})
	log.Printf("spm: %d tokens (%d merged), %d merges", len(newVocab), len(merged), len(kept))
}

func byteLevel() {
	qwen := read("testdata/tokenizer/hf/qwen3/tokenizer.json")
	for _, v := range []struct {
		dir          string
		normalizer   any
		pre          any
		ignoreMerges bool
		config       map[string]any
	}{
		{"qwen2", qwen["normalizer"], qwen["pre_tokenizer"], false, map[string]any{
			"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "bos_token": nil,
			"chat_template": "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
		}},
		{"llama3", nil, map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`},
				"behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
		}}, true, map[string]any{"eos_token": "<|endoftext|>"}},
		{"smollm", nil, map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Digits", "individual_digits": true},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
		}}, false, map[string]any{"eos_token": "<|endoftext|>"}},
	} {
		t := read("testdata/tiny/tokenizer.json")
		t["normalizer"] = v.normalizer
		t["pre_tokenizer"] = v.pre
		if v.ignoreMerges {
			t["model"].(map[string]any)["ignore_merges"] = true
		}
		write(v.dir, "tokenizer.json", t)
		write(v.dir, "tokenizer_config.json", v.config)
	}
}
