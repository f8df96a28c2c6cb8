package tokenizer

import (
	"slices"

	"github.com/llmtune/llmtune/tokenizer/pipeline"
)

// What another runtime needs to rebuild a tokenizer from a description instead of from tokenizer.json: llama.cpp's
// GGUF stores the tokens, each token's kind, the merges (or scores) and the names of the text stages.

// TokenKind is what a token id is, in the terms of llama.cpp's and SentencePiece's token types.
type TokenKind uint8

// The kinds of token.
const (
	NormalToken  TokenKind = iota // a token of the BPE model
	SpecialToken                  // an added token marked special (control: "<|endoftext|>", "<s>")
	UserToken                     // an added token not marked special (user-defined: Qwen3's "<think>")
	ByteToken                     // a "<0xNN>" token of byte_fallback
	NoToken                       // an id with no token (a hole in the ids)
)

// Kind returns the kind of token id.
func (t *BPE) Kind(id int) TokenKind {
	if id < 0 || id >= len(t.names) || t.names[id] == "" {
		return NoToken
	}
	for _, a := range t.added.tokens {
		if a.ID == id {
			if a.Special {
				return SpecialToken
			}
			return UserToken
		}
	}
	if t.byteFallback && slices.Contains(t.fallback[:], int32(id)) {
		return ByteToken
	}
	return NormalToken
}

// Merges returns the BPE merges in rank order, each pair spelled as Token spells its tokens ("Ġ", "t" for GPT-2).
// A pair that tokenizer.json lists twice appears once, at the rank that counts (its last, as in Hugging Face).
func (t *BPE) Merges() [][2]string {
	out := make([][2]string, len(t.mergeList))
	for i, m := range t.mergeList {
		out[i] = [2]string{t.names[m[0]], t.names[m[1]]}
	}
	return out
}

// Style says how the tokenizer turns text into pieces and pieces into tokens, in the terms another runtime names
// them by. Load fills it from tokenizer.json (or GPT-2's vocab.json and merges.txt) and tokenizer_config.json.
type Style struct {
	// ByteLevel is set for byte-level BPE: tokens are spelled in GPT-2's byte alphabet and every text is bytes.
	ByteLevel bool
	// ByteFallback is set when characters outside the vocabulary become "<0xNN>" tokens (SentencePiece-style BPE).
	ByteFallback bool
	// IgnoreMerges is tokenizer.json's ignore_merges: a piece that is a token is that token (Llama 3).
	IgnoreMerges bool
	// PreTokenizer names the pre-tokenizer chain (see pipeline.PreTokenizer.Name): "", "gpt2", "llama3", "qwen2",
	// "digits+gpt2", "metaspace", "bytes" or "other".
	PreTokenizer string
	// Normalizer names the normalizer (see pipeline.NormalizerName): "", "nfc", "metaspace" or "other".
	Normalizer string
	// Before and After are the special tokens EncodeForModel puts around a text (BOS first for Llama 3).
	Before, After []int
	// Unk is the id of the model's unk_token, PAD the id of tokenizer_config.json's pad_token; -1 when none.
	Unk, PAD int
}

// Style returns the tokenizer's Style.
func (t *BPE) Style() Style {
	return Style{
		ByteLevel:    t.byteLevel,
		ByteFallback: t.byteFallback,
		IgnoreMerges: t.ignoreMerges,
		PreTokenizer: t.pre.Name(),
		Normalizer:   pipeline.NormalizerName(t.norm),
		Before:       slices.Clone(t.post.before),
		After:        slices.Clone(t.post.after),
		Unk:          int(t.unk),
		PAD:          t.padID(),
	}
}

// padID returns the id of tokenizer_config.json's pad_token, or -1 when it names none or no token.
func (t *BPE) padID() int {
	if t.special.PAD == "" {
		return -1
	}
	if id, ok := t.ID(t.special.PAD); ok {
		return id
	}
	return -1
}
