package tokenizer

import (
	"slices"
	"strings"
	"sync"
)

// BPE is a byte-level BPE tokenizer in the style of GPT-2: text is split by GPT-2's pre-tokenizer pattern, each
// piece's bytes are merged by rank, and added tokens such as "<|endoftext|>" are recognised only by
// EncodeWithSpecial. Make one with Load or Train; the zero value has no vocabulary and is not usable. A BPE does
// not change once made and is safe for concurrent use.
type BPE struct {
	raw          []string          // id → the token's bytes ("" for an id with no token)
	names        []string          // id → the token as the file spells it (byte-level), or an added token's content
	vocab        map[string]int    // byte-level spelling → id, the model's vocabulary
	bytes        [256]int32        // byte → id of its one-byte token
	merges       map[uint64]uint64 // pairKey(left, right) → 1 + (rank<<32 | id of the merged token); see merge
	mergeList    [][2]int32        // merges in rank order, for Save
	added        []addedToken
	special      []addedToken // added tokens, longest content first, for EncodeWithSpecial
	eos          int
	ignoreMerges bool // a piece that is itself in the vocabulary becomes that token (HF model.ignore_merges)

	states sync.Pool // *encodeState
}

// addedToken is a token outside BPE: matched in text as a whole by EncodeWithSpecial.
type addedToken struct {
	ID      int
	Content string
	Special bool
}

// EndOfText is GPT-2's end-of-text token, id 50256 there, and the EOS token unless a tokenizer_config.json names
// another.
const EndOfText = "<|endoftext|>"

func pairKey(left, right int32) uint64 { return uint64(uint32(left))<<32 | uint64(uint32(right)) }

// noMerge is what merge returns for a pair with no merge; it orders after every merge.
const noMerge = ^uint64(0)

// merge returns rank<<32 | id for the merge of tokens left and right, or noMerge. Lower is earlier.
func (t *BPE) merge(left, right int32) uint64 { return t.merges[pairKey(left, right)] - 1 }

// VocabSize returns the number of token ids, one more than the largest id (the model's embedding rows must be at
// least this many). It is 50257 for GPT-2.
func (t *BPE) VocabSize() int { return len(t.raw) }

// EOS returns the id of the end-of-sequence token: the tokenizer_config.json eos_token when Load found one, else
// "<|endoftext|>" (50256 for GPT-2), else -1 when the tokenizer has neither.
func (t *BPE) EOS() int { return t.eos }

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
	for _, a := range t.added {
		if a.Content == token {
			return a.ID, true
		}
	}
	id, ok = t.vocab[token]
	return id, ok
}

// Decode returns the text of ids: the concatenation of their bytes. Ids outside [0, VocabSize) or with no token
// add nothing. Decode(Encode(s)) == s for every string s. The result is not valid UTF-8 when ids end (or start)
// inside a multi-byte character, as a token-by-token stream may; a caller that prints such a stream should hold
// back an incomplete tail.
func (t *BPE) Decode(ids []int) string {
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

// Encode returns the token ids of text, exactly as GPT-2's encoder (and tiktoken's encode_ordinary) give them.
// Added tokens are not recognised: "<|endoftext|>" in text is encoded as the 7 ordinary tokens of its characters,
// so user text can never forge one. Text need not be valid UTF-8; each invalid byte is its own character.
func (t *BPE) Encode(text string) []int {
	return t.appendEncode(make([]int, 0, len(text)/3+1), text)
}

// EncodeWithSpecial is Encode, except that every added token of the tokenizer ("<|endoftext|>" for GPT-2) that
// occurs in text is encoded as its own id. Where two added tokens match at one place the longer wins.
func (t *BPE) EncodeWithSpecial(text string) []int {
	ids := make([]int, 0, len(text)/3+1)
	for len(text) > 0 {
		at, tok := t.nextSpecial(text)
		if at < 0 {
			break
		}
		ids = t.appendEncode(ids, text[:at])
		ids = append(ids, tok.ID)
		text = text[at+len(tok.Content):]
	}
	return t.appendEncode(ids, text)
}

// nextSpecial finds the leftmost added token in text, the longest at that place; at is -1 when there is none.
func (t *BPE) nextSpecial(text string) (at int, tok addedToken) {
	at = -1
	for _, a := range t.special { // longest first, so the first found at a place is the longest there
		if i := strings.Index(text, a.Content); i >= 0 && (at < 0 || i < at) {
			at, tok = i, a
		}
	}
	return at, tok
}

// appendEncode appends the ids of text, with no added tokens recognised, to ids.
func (t *BPE) appendEncode(ids []int, text string) []int {
	if len(text) == 0 {
		return ids
	}
	st, _ := t.states.Get().(*encodeState)
	if st == nil {
		st = &encodeState{}
	}
	for i := 0; i < len(text); {
		j := pieceEnd(text, i)
		ids = t.appendPiece(ids, text[i:j], st)
		i = j
	}
	t.states.Put(st)
	return ids
}

// appendPiece appends the BPE ids of one pre-tokenizer piece.
func (t *BPE) appendPiece(ids []int, piece string, st *encodeState) []int {
	if len(piece) == 1 {
		return append(ids, int(t.bytes[piece[0]]))
	}
	if t.ignoreMerges {
		if id, ok := t.vocab[byteLevel(piece)]; ok {
			return append(ids, id)
		}
	}
	if len(piece) > maxQuadratic {
		return t.appendLongPiece(ids, piece, st)
	}
	return t.appendShortPiece(ids, piece, st)
}

// appendShortPiece merges the lowest-ranked adjacent pair, leftmost first among equals, until no pair has a
// merge, and appends the result. Pieces are short (a word), so a scan per merge beats a heap here.
func (t *BPE) appendShortPiece(ids []int, piece string, st *encodeState) []int {
	sym := st.sym[:0]
	for i := 0; i < len(piece); i++ {
		sym = append(sym, t.bytes[piece[i]])
	}
	rank := st.rank[:0]
	for i := 0; i+1 < len(sym); i++ {
		rank = append(rank, t.merge(sym[i], sym[i+1]))
	}
	for len(rank) > 0 {
		best := 0
		for i, r := range rank {
			if r < rank[best] {
				best = i
			}
		}
		m := rank[best]
		if m == noMerge {
			break
		}
		sym[best] = int32(uint32(m))
		sym = slices.Delete(sym, best+1, best+2)
		rank = slices.Delete(rank, best, best+1)
		if best > 0 {
			rank[best-1] = t.merge(sym[best-1], sym[best])
		}
		if best < len(rank) {
			rank[best] = t.merge(sym[best], sym[best+1])
		}
	}
	for _, id := range sym {
		ids = append(ids, int(id))
	}
	st.sym, st.rank = sym, rank
	return ids
}
