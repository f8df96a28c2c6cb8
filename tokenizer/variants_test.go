package tokenizer

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The variants are real tokenizers with parts swapped for ones that Llama 3, Qwen3 and Mistral-7B do not use
// (added-token flags, a normalized added token, Replace with a regex, a Split with each behavior and invert and a
// look-behind, Digits, ByteLevel with a prefix space, Metaspace, unk without byte fallback, the templates), so that
// each part is checked against Hugging Face tokenizers too. testdata/hf_variants.jsonl.gz holds its ids for
// variantTexts, in the golden files' format (name "variant/index"); it was made by writing the variants with
// -write-variants and encoding them with the npm package tokenizers 0.23.2 (Tokenizer.fromFile, encode with
// addSpecialTokens false and true, decode(ids, false)).

var writeVariants = flag.String("write-variants", "", "TestHFVariants writes each variant's tokenizer.json and "+
	"texts.jsonl into a directory of this one, for Hugging Face tokenizers to encode")

// variant is a tokenizer.json made from a base by replacing top-level keys or keys of model ("model.key"), and
// appending added tokens ("added_tokens+").
type variant struct {
	name, base, patch string
}

var variants = []variant{
	{"qwen3-flags", "qwen3", `{
		"normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"},
			{"type": "Replace", "pattern": {"String": "ﬁ"}, "content": "fi"},
			{"type": "Replace", "pattern": {"Regex": "\\d{4}"}, "content": "####"}]},
		"post_processor": {"type": "TemplateProcessing",
			"single": [{"SpecialToken": {"id": "<|im_start|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
				{"SpecialToken": {"id": "<|im_end|>", "type_id": 0}}],
			"pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
			"special_tokens": {"<|im_start|>": {"id": "<|im_start|>", "ids": [151644], "tokens": ["<|im_start|>"]},
				"<|im_end|>": {"id": "<|im_end|>", "ids": [151645], "tokens": ["<|im_end|>"]}}},
		"added_tokens+": [
			{"content": "<L>", "single_word": false, "lstrip": true, "rstrip": false, "normalized": false, "special": true},
			{"content": "<R>", "single_word": false, "lstrip": false, "rstrip": true, "normalized": false, "special": true},
			{"content": "<B>", "single_word": false, "lstrip": true, "rstrip": true, "normalized": false, "special": false},
			{"content": "cat", "single_word": true, "lstrip": false, "rstrip": false, "normalized": false, "special": false},
			{"content": "U\u0308nï", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": false},
			{"content": "dog", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": true},
			{"content": "<Rlong>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}]}`},
	{"qwen3-chain", "qwen3", `{
		"pre_tokenizer": {"type": "Sequence", "pretokenizers": [
			{"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "MergedWithNext", "invert": false},
			{"type": "Digits", "individual_digits": true},
			{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true}]}}`},
	{"qwen3-split", "qwen3", `{
		"normalizer": null,
		"pre_tokenizer": {"type": "Sequence", "pretokenizers": [
			{"type": "Split", "pattern": {"String": ", "}, "behavior": "MergedWithPrevious", "invert": false},
			{"type": "Split", "pattern": {"Regex": "[aeiou]+"}, "behavior": "Contiguous", "invert": true},
			{"type": "Split", "pattern": {"Regex": "(?<=x)y|z(?=w)"}, "behavior": "Isolated", "invert": false},
			{"type": "Split", "pattern": {"String": "-"}, "behavior": "Removed", "invert": false},
			{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]}}`},
	{"mistral-metaspace-first", "mistral-7b", `{
		"normalizer": null,
		"pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false},
		"decoder": {"type": "Sequence", "decoders": [
			{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false},
			{"type": "ByteFallback"}, {"type": "Fuse"}]},
		"added_tokens+": [
			{"content": "<sep>", "single_word": false, "lstrip": true, "rstrip": true, "normalized": false, "special": true}]}`},
	{"mistral-metaspace-always", "mistral-7b", `{
		"normalizer": null,
		"pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
		"decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true}}`},
	{"mistral-unk", "mistral-7b", `{"model.byte_fallback": false, "model.fuse_unk": true}`},
	{"mistral-unk-unfused", "mistral-7b", `{"model.byte_fallback": false, "model.fuse_unk": false}`},
	{"gpt2-roberta", "gpt2", `{
		"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"post_processor": {"type": "RobertaProcessing", "sep": ["<|endoftext|>", 50256], "cls": ["<|endoftext|>", 50256],
			"trim_offsets": true, "add_prefix_space": true},
		"added_tokens+": [
			{"content": " <sp>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": false}]}`},
}

// variantTexts are encoded with every variant.
var variantTexts = []string{"", " ", "Hello world", "  leading and trailing  ", "it's 2024, and 12345 cats! It'S IT'LL",
	"<L>x<R> y <B> z  <L> <R>  <Rlong>", "a cat, concatenate cat. cat", "Ünï U\u0308nï Uni", "ﬁne ﬁsh 1999 year 20245",
	"<|im_start|>user\nHi<|im_end|>", "dog days dogma", "<s>Hello</s> world <unk>", "x<sep>y <sep> z  <sep>",
	"é\u0301 ☃ 𝔘 \u00a0x", "line1\r\nline2\n\n\tindent", "Zürich, München; 😀 xy zw xyzw", "a, b, c,d ,e - f-g",
	" <sp> <sp>x", "中文字符和English混合", "\u2581leading metaspace ▁▁x"}

// build writes the variant's tokenizer.json into dir.
func (v variant) build(t testing.TB, dir string) {
	t.Helper()
	var base []byte
	var err error
	if v.base == "gpt2" {
		base = loadGPT2(t).marshalJSON()
	} else {
		base, err = os.ReadFile(hfDir + "/" + v.base + "/tokenizer.json")
		require.NoError(t, err)
	}
	var doc, patch map[string]any
	require.NoError(t, json.Unmarshal(base, &doc))
	require.NoError(t, json.Unmarshal([]byte(v.patch), &patch), v.name)
	for key, value := range patch {
		switch {
		case key == "added_tokens+":
			added := doc["added_tokens"].([]any)
			next := len(doc["model"].(map[string]any)["vocab"].(map[string]any)) + len(added)
			for i, a := range value.([]any) {
				a.(map[string]any)["id"] = next + i
				added = append(added, a)
			}
			doc["added_tokens"] = added
		case strings.HasPrefix(key, "model."):
			doc["model"].(map[string]any)[strings.TrimPrefix(key, "model.")] = value
		default:
			doc[key] = value
		}
	}
	data, err := json.Marshal(doc)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer.json"), data, 0o644))
}

// TestHFVariants compares each variant with Hugging Face tokenizers' ids and decoded texts.
func TestHFVariants(t *testing.T) {
	if *writeVariants != "" {
		for _, v := range variants {
			dir := filepath.Join(*writeVariants, v.name)
			require.NoError(t, os.MkdirAll(dir, 0o755))
			v.build(t, dir)
			var lines []string
			for i, text := range variantTexts {
				line, err := json.Marshal(hfRecord{Name: v.name + "/" + string(rune('a'+i)), Text: text})
				require.NoError(t, err)
				lines = append(lines, string(line))
			}
			require.NoError(t, os.WriteFile(filepath.Join(dir, "texts.jsonl"), []byte(strings.Join(lines, "\n")+"\n"),
				0o644))
		}
	}
	want := map[string][]hfRecord{}
	readHF(t, "testdata/hf_variants.jsonl.gz", func(rec hfRecord) {
		name, _, _ := strings.Cut(rec.Name, "/")
		want[name] = append(want[name], rec)
	})
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			dir := t.TempDir()
			v.build(t, dir)
			tok, err := Load(filepath.Join(dir, "tokenizer.json"))
			require.NoError(t, err)
			recs := want[v.name]
			require.Len(t, recs, len(variantTexts))
			var st hfStats
			for i, rec := range recs {
				require.True(t, rec.Text == variantTexts[i], "%s: the text differs from variantTexts", rec.Name)
				compareHF(t, tok, rec, &st, false)
			}
			assert.Zero(t, st.bad+st.badSpecial+st.badDecoded, "mismatches")
			// Save writes back the file read, which Load reads to the same tokenizer.
			saved := filepath.Join(t.TempDir(), "tokenizer.json")
			require.NoError(t, tok.Save(saved))
			got, err := os.ReadFile(saved)
			require.NoError(t, err)
			orig, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
			require.NoError(t, err)
			assert.True(t, string(got) == string(orig), "Save changed the file")
		})
	}
}
