package gguf

import (
	"fmt"
	"strings"

	"github.com/llmtune/llmtune/tokenizer"
	"github.com/llmtune/llmtune/transformer"
)

// llama.cpp's token types (gguf-py's TokenType).
const (
	tokNormal      int32 = 1
	tokControl     int32 = 3
	tokUserDefined int32 = 4
	tokUnused      int32 = 5
	tokByte        int32 = 6
)

// preNames maps the byte-level pre-tokenizers (tokenizer.Style's names) to the tokenizer.ggml.pre that
// llama.cpp's llama-vocab.cpp gives the same split pattern: GPT-2's, Llama 3's ("llama-bpe", which also turns on
// ignore_merges), Qwen2's, and SmolLM2's digits then GPT-2's.
var preNames = map[string]string{
	"gpt2":        "gpt-2",
	"llama3":      "llama-bpe",
	"qwen2":       "qwen2",
	"digits+gpt2": "smollm",
}

// vocabKV returns the tokenizer.* keys of tok for a model of configuration cfg: as convert_hf_to_gguf.py writes
// them for byte-level BPE (tokenizer.ggml.model "gpt2", with merges and the pre-tokenizer's name) and for
// SentencePiece-style BPE with byte fallback read from tokenizer.json (model "llama", pre "default", with scores
// and token types). The token list has the model's vocab_size entries; ids the tokenizer lacks are "[PADn]",
// unused, as the converter pads them.
func vocabKV(tok *tokenizer.BPE, cfg transformer.Config) ([]KV, error) {
	if tok == nil {
		return nil, fmt.Errorf("gguf: no tokenizer: llama.cpp needs the vocabulary in the file")
	}
	V := cfg.VocabSize
	if tok.VocabSize() > V {
		return nil, fmt.Errorf("gguf: the tokenizer has %d ids, more than the model's vocab_size %d", tok.VocabSize(), V)
	}
	st := tok.Style()
	var kv []KV
	add := func(k string, v any) { kv = append(kv, KV{k, v}) }
	tokens := make([]string, V)
	types := make([]int32, V)
	for id := range V {
		s, _ := tok.Token(id)
		switch tok.Kind(id) {
		case tokenizer.NormalToken:
			types[id] = tokNormal
		case tokenizer.SpecialToken:
			types[id] = tokControl
		case tokenizer.UserToken:
			types[id] = tokUserDefined
			if st.ByteLevel {
				s = strings.ReplaceAll(s, "▁", " ") // as the converter's get_vocab_base
			}
		case tokenizer.ByteToken:
			types[id] = tokByte
		default:
			types[id], s = tokUnused, fmt.Sprintf("[PAD%d]", id)
		}
		tokens[id] = s
	}
	switch {
	case st.ByteLevel && !st.ByteFallback:
		pre, ok := preNames[st.PreTokenizer]
		if !ok {
			return nil, fmt.Errorf("gguf: byte-level tokenizer with pre-tokenizer %q: llama.cpp has no name for it (this package maps %s)",
				st.PreTokenizer, "gpt2 → gpt-2, llama3 → llama-bpe, qwen2 → qwen2, digits+gpt2 → smollm")
		}
		if st.Normalizer != "" && st.Normalizer != "nfc" {
			return nil, fmt.Errorf("gguf: byte-level tokenizer with a %s normalizer: llama.cpp has none", st.Normalizer)
		}
		merges := tok.Merges()
		ms := make([]string, len(merges))
		for i, m := range merges {
			ms[i] = m[0] + " " + m[1]
		}
		add("tokenizer.ggml.model", "gpt2")
		add("tokenizer.ggml.pre", pre)
		add("tokenizer.ggml.tokens", tokens)
		add("tokenizer.ggml.token_type", types)
		if len(ms) > 0 {
			add("tokenizer.ggml.merges", ms)
		}
	case st.ByteFallback && !st.ByteLevel:
		if !(st.Normalizer == "metaspace" && st.PreTokenizer == "" || st.Normalizer == "" && st.PreTokenizer == "metaspace") {
			return nil, fmt.Errorf("gguf: SentencePiece-style tokenizer with normalizer %q and pre-tokenizer %q: llama.cpp's llama tokenizer "+
				"only prefixes a space and turns spaces into ▁ (want the Prepend+Replace normalizer or a Metaspace pre-tokenizer)",
				st.Normalizer, st.PreTokenizer)
		}
		add("tokenizer.ggml.model", "llama")
		add("tokenizer.ggml.pre", "default")
		add("tokenizer.ggml.tokens", tokens)
		add("tokenizer.ggml.scores", spmScores(tok, V))
		add("tokenizer.ggml.token_type", types)
		add("tokenizer.ggml.add_space_prefix", true)
	default:
		return nil, fmt.Errorf("gguf: tokenizer is neither byte-level BPE nor BPE with byte_fallback: llama.cpp's gpt2 and llama tokenizers cannot reproduce it")
	}
	bos, eos := tok.BOS(), tok.EOS()
	if bos < 0 && cfg.BOSTokenID >= 0 && cfg.BOSTokenID < V {
		bos = cfg.BOSTokenID
	}
	if eos < 0 && cfg.EOSTokenID >= 0 && cfg.EOSTokenID < V {
		eos = cfg.EOSTokenID
	}
	for _, s := range []struct {
		key string
		id  int
	}{{"bos", bos}, {"eos", eos}, {"unknown", st.Unk}, {"padding", st.PAD}} {
		if s.id >= 0 {
			add("tokenizer.ggml."+s.key+"_token_id", uint32(s.id))
		}
	}
	addBOS := len(st.Before) == 1 && st.Before[0] == bos
	addEOS := len(st.After) == 1 && st.After[0] == eos
	if len(st.Before) > 1 || len(st.Before) == 1 && !addBOS || len(st.After) > 1 || len(st.After) == 1 && !addEOS {
		return nil, fmt.Errorf("gguf: the tokenizer puts %v before and %v after each text: llama.cpp adds only the BOS and EOS", st.Before, st.After)
	}
	add("tokenizer.ggml.add_bos_token", addBOS)
	add("tokenizer.ggml.add_eos_token", addEOS)
	if t := tok.ChatTemplate(); t != "" {
		add("tokenizer.chat_template", t)
	}
	return kv, nil
}

// spmScores returns the scores that make llama.cpp's llama (SentencePiece) tokenizer merge as the BPE model does.
// That tokenizer repeatedly merges the adjacent pair whose concatenation is the token of highest score (the
// leftmost among equals); Hugging Face's BPE merges the pair of lowest merge rank. A merged token's score is minus
// the first rank that makes it, so the two orders agree; other tokens score below every merge (SentencePiece
// also ranks single characters last), so that a concatenation that no merge makes is taken last, if ever.
// (convert_hf_to_gguf.py's
// LlamaHfVocab writes -1000 for every token, with which llama.cpp merges leftmost first.)
func spmScores(tok *tokenizer.BPE, V int) []float32 {
	merges := tok.Merges()
	scores := make([]float32, V)
	for i := range scores {
		scores[i] = -float32(len(merges)) - 1
	}
	seen := map[string]bool{}
	for rank, m := range merges {
		s := m[0] + m[1]
		if seen[s] {
			continue
		}
		seen[s] = true
		if id, ok := tok.ID(s); ok && id < V {
			scores[id] = -float32(rank) - 1
		}
	}
	return scores
}
