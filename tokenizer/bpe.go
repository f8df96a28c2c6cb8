package tokenizer

import (
	"strings"
	"sync"

	"github.com/llmtune/llmtune/tokenizer/pipeline"
)

// BPE is a BPE tokenizer as Hugging Face's tokenizers runs one from a tokenizer.json: added tokens are split out
// of the text, each stretch between them normalized and pre-tokenized, each piece merged by the BPE model; a
// post-processor can put special tokens around the result and a decoder turns ids back into text. GPT-2's
// byte-level BPE (vocab.json and merges.txt, or what Train makes) is the simplest case. Make one with Load or
// Train; the zero value has no vocabulary and is not usable. A BPE does not change once made and is safe for
// concurrent use.
type BPE struct {
	model
	raw     []string // id → what Decode writes for it when the decoder is byte-level (rawDecode)
	added   addedVocab
	norm    pipeline.Normalizer   // nil: none
	pre     pipeline.PreTokenizer // a scanner (the common chains) or the general chain
	post    template              // EncodeForModel's special tokens
	dec     pipeline.Decoder      // nil with rawDecode
	decName []string              // id → the string the decoder reads (names, but a normalized added token's form)
	// rawDecode: Decode concatenates raw (a ByteLevel decoder, or none with a ByteLevel pre-tokenizer); joinDecode:
	// there is no decoder and tokens are joined with spaces, as in Hugging Face.
	rawDecode, joinDecode bool

	eos, bos     int
	special      SpecialTokens // tokenizer_config.json's
	chatTemplate string
	source       []byte // the tokenizer.json read, which Save writes back when marshalJSON cannot say it all

	states sync.Pool // *encodeState
}

// EndOfText is GPT-2's end-of-text token, id 50256 there, and the EOS token unless a tokenizer_config.json names
// another.
const EndOfText = "<|endoftext|>"

// VocabSize returns the number of token ids, one more than the largest id (the model's embedding rows must be at
// least this many). It is 50257 for GPT-2, 128256 for Llama 3.
func (t *BPE) VocabSize() int { return len(t.names) }

// EOS returns the id of the end-of-sequence token: the tokenizer_config.json eos_token when Load found one, else
// "<|endoftext|>" (50256 for GPT-2), else "</s>", else -1 when the tokenizer has none of them.
func (t *BPE) EOS() int { return t.eos }

// BOS returns the id of the beginning-of-sequence token: the tokenizer_config.json bos_token when Load found one,
// else the special token that the post-processor puts first (Llama 3's 128000 "<|begin_of_text|>", Mistral's 1
// "<s>"), else -1 (GPT-2, Qwen).
func (t *BPE) BOS() int { return t.bos }

// ChatTemplate returns the chat_template of tokenizer_config.json (a Jinja template; for a list of named
// templates, the one named "default"), or "".
func (t *BPE) ChatTemplate() string { return t.chatTemplate }

// SpecialTokens are the special tokens tokenizer_config.json names, as strings: what transformers passes a chat
// template as bos_token, eos_token, unk_token and pad_token. A token the file does not name is "".
type SpecialTokens struct {
	BOS, EOS, UNK, PAD string
}

// SpecialTokens returns the special tokens of tokenizer_config.json ("" for each when there is no such file).
func (t *BPE) SpecialTokens() SpecialTokens { return t.special }

// Token returns token id as the vocabulary file spells it (byte-level, "Ġthe" for " the"; an added token's content
// as is); ok is false for an id with no token.
func (t *BPE) Token(id int) (token string, ok bool) {
	if id < 0 || id >= len(t.names) || t.names[id] == "" {
		return "", false
	}
	return t.names[id], true
}

// ID returns the id of a token spelled as Token spells it; ok is false when there is no such token.
func (t *BPE) ID(token string) (id int, ok bool) {
	for _, a := range t.added.tokens {
		if a.Content == token {
			return a.ID, true
		}
	}
	id, ok = t.vocab[token]
	return id, ok
}

// Decode returns the text of ids, as Hugging Face's decode(ids, skip_special_tokens=False) gives it: the tokens'
// strings through the decoder (for byte-level BPE the concatenation of their bytes; for SentencePiece-style BPE
// "▁" becomes a space, <0xNN> tokens bytes, and one leading space goes). Ids outside [0, VocabSize) or with no
// token add nothing. Bytes that do not form valid UTF-8 stay as they are where Hugging Face writes U+FFFD, so the
// result is not valid UTF-8 when ids end (or start) inside a multi-byte character, as a token-by-token stream may;
// a caller that prints such a stream should hold back an incomplete tail. For byte-level tokenizers without a
// normalizer (GPT-2, Llama 3) Decode(Encode(s)) == s for every string s. Added tokens go through the decoder too,
// as in Hugging Face.
func (t *BPE) Decode(ids []int) string {
	if t.rawDecode {
		n := 0
		for _, id := range ids {
			if id >= 0 && id < len(t.raw) {
				n += len(t.raw[id])
			}
		}
		var b strings.Builder
		b.Grow(n)
		for _, id := range ids {
			if id >= 0 && id < len(t.raw) {
				b.WriteString(t.raw[id])
			}
		}
		return b.String()
	}
	tokens := make([]string, 0, len(ids))
	for _, id := range ids {
		if id >= 0 && id < len(t.names) && t.names[id] != "" {
			tokens = append(tokens, t.decName[id])
		}
	}
	if t.joinDecode {
		return strings.Join(tokens, " ")
	}
	return strings.Join(t.dec.Decode(tokens), "")
}

// Encode returns the token ids of text with no special token recognised: "<|endoftext|>" or
// "<|begin_of_text|>" in text is encoded as the ordinary tokens of its characters, so user text can never forge
// one. This is Hugging Face's encode(text, add_special_tokens=False) with split_special_tokens=True: added
// tokens that are not special (Qwen's "<think>") are still split out, and no BOS is added. For GPT-2 it is
// exactly GPT-2's encoder and tiktoken's encode_ordinary. Text need not be valid UTF-8; each invalid byte is its
// own character (a byte token, or a <0xNN> token with byte_fallback).
func (t *BPE) Encode(text string) []int {
	return t.encode(make([]int, 0, len(text)/3+1), text, false)
}

// EncodeWithSpecial is Encode, except that every added token, special or not, that occurs in text is encoded as
// its own id: Hugging Face's encode(text, add_special_tokens=False). Where two added tokens match at one place the
// longer wins.
func (t *BPE) EncodeWithSpecial(text string) []int {
	return t.encode(make([]int, 0, len(text)/3+1), text, true)
}

// EncodeForModel is EncodeWithSpecial with the special tokens that the tokenizer's post-processor puts around a
// text: Hugging Face's encode(text, add_special_tokens=True), the input a model was trained on. For Llama 3 that
// is "<|begin_of_text|>" (128000) first, for Mistral and Llama 2 "<s>" (1); for GPT-2 and Qwen nothing is added.
// tokenizer_config.json's add_bos_token and add_eos_token, when set, add or drop the BOS and EOS token there, as
// transformers' Llama tokenizers do.
func (t *BPE) EncodeForModel(text string) []int {
	ids := make([]int, 0, len(text)/3+1+len(t.post.before)+len(t.post.after))
	ids = append(ids, t.post.before...)
	ids = t.encode(ids, text, true)
	return append(ids, t.post.after...)
}

// encode appends the ids of text to ids. Added tokens that are not normalized are found in the text first, each
// a stretch of its own, then each stretch between them is encoded, as in Hugging Face.
func (t *BPE) encode(ids []int, text string, withSpecial bool) []int {
	if len(text) == 0 {
		return ids
	}
	st, _ := t.states.Get().(*encodeState)
	if st == nil {
		st = &encodeState{}
	}
	var matches []addedMatch
	if withSpecial && len(t.added.raw.nodes) > 0 || t.added.plain {
		matches = t.added.find(st.matches[:0], text, &t.added.raw, withSpecial)
		st.matches = matches
	}
	prev := 0
	for _, m := range matches {
		if prev < m.start {
			ids = t.encodeStretch(ids, text[prev:m.start], prev == 0, withSpecial, st)
		}
		ids = append(ids, t.added.tokens[m.tok].ID)
		prev = m.end
	}
	if prev < len(text) {
		ids = t.encodeStretch(ids, text[prev:], prev == 0, withSpecial, st)
	}
	t.states.Put(st)
	return ids
}

// encodeStretch appends the ids of a stretch of text without raw added tokens: normalized, its normalized added
// tokens split out, pre-tokenized, and each piece through the model. first is set when the stretch starts the
// text.
func (t *BPE) encodeStretch(ids []int, s string, first, withSpecial bool, st *encodeState) []int {
	if t.norm != nil {
		s = t.norm.Normalize(s)
	}
	if len(t.added.norm.nodes) == 0 {
		return t.encodePieces(ids, s, first, st)
	}
	matches := t.added.find(nil, s, &t.added.norm, withSpecial)
	prev := 0
	for _, m := range matches {
		if prev < m.start {
			ids = t.encodePieces(ids, s[prev:m.start], first && prev == 0, st)
		}
		ids = append(ids, t.added.tokens[m.tok].ID)
		prev = m.end
	}
	if prev < len(s) {
		ids = t.encodePieces(ids, s[prev:], first && prev == 0, st)
	}
	return ids
}

// encodePieces pre-tokenizes s and appends the ids of each piece.
func (t *BPE) encodePieces(ids []int, s string, first bool, st *encodeState) []int {
	switch {
	case len(s) == 0:
		return ids
	case t.pre.Scan == pipeline.ScanChain:
		for _, pc := range t.pre.Split(s, first, &st.pieces) {
			ids = t.appendPiece(ids, pc.Text, st)
		}
		return ids
	case t.pre.Scan == pipeline.ScanGPT2: // a loop for each scanner, so that it is called directly
		for i := 0; i < len(s); {
			j := pipeline.GPT2End(s, i)
			ids = t.appendPiece(ids, s[i:j], st)
			i = j
		}
	case t.pre.Scan == pipeline.ScanWhole:
		return t.appendPiece(ids, s, st)
	default:
		digits := 3
		if t.pre.Scan == pipeline.ScanQwen2 {
			digits = 1
		}
		for i := 0; i < len(s); {
			j := pipeline.Llama3End(s, i, digits)
			ids = t.appendPiece(ids, s[i:j], st)
			i = j
		}
	}
	return ids
}
