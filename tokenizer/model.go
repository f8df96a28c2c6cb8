package tokenizer

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/llmtune/llmtune/tokenizer/pipeline"
)

// model is the BPE model of a tokenizer ("model": {"type": "BPE", ...} in tokenizer.json): it turns one
// pre-tokenizer piece into token ids, as Hugging Face tokenizers' BPE does. The piece's characters are the first
// symbols, then the lowest-ranked adjacent pair is merged, leftmost first among equals, until no pair has a
// merge.
//
// In byte-level mode (a ByteLevel pre-tokenizer) a piece is raw bytes and each byte is a symbol, the token that
// spells it in GPT-2's byte alphabet: the same as Hugging Face's characters after its ByteLevel mapping, without
// building that string. Otherwise each character is looked up as a string; one that is not in the vocabulary
// becomes its bytes' <0xNN> tokens (byte_fallback), else the unknown token (runs of them fused into one with
// fuse_unk), else nothing, as in Hugging Face. A byte that is not valid UTF-8 is a character of its own.
type model struct {
	names     []string          // id → the token as the file spells it, or an added token's content
	vocab     map[string]int    // the model's vocabulary, as the file spells it
	merges    map[uint64]uint64 // pairKey(left, right) → 1 + (rank<<32 | id of the merged token); see merge
	mergeList [][2]int32        // merges in rank order, for Save

	byteLevel    bool             // pieces are raw bytes; symbols come from bytes
	allBytes     bool             // every byte has a token (else byte-level pieces take the character path)
	bytes        [256]int32       // byte → id of the token that spells it in the byte alphabet, or -1
	pieceIDs     map[string]int32 // byte-level ignore_merges: a piece's raw bytes → its token id
	ignoreMerges bool             // a piece that is itself a token is that token (Llama 3)
	byteFallback bool
	fallback     [256]int32 // byte → id of "<0xNN>", or -1
	unk          int32      // id of unk_token, or -1
	fuseUnk      bool
	// metaspaceCuts: a character-level piece may be merged word by word (see setMetaspaceCuts).
	metaspaceCuts bool
}

func pairKey(left, right int32) uint64 { return uint64(uint32(left))<<32 | uint64(uint32(right)) }

// noMerge is what merge returns for a pair with no merge; it orders after every merge.
const noMerge = ^uint64(0)

// merge returns rank<<32 | id for the merge of tokens left and right, or noMerge. Lower is earlier.
func (m *model) merge(left, right int32) uint64 { return m.merges[pairKey(left, right)] - 1 }

// setMerges records the merges, in rank order, of tokens spelled as the vocabulary spells them. Each merge's two
// tokens and their concatenation must be tokens. A pair listed twice takes its last rank, as in Hugging Face.
func (m *model) setMerges(merges [][2]string) error {
	m.merges = make(map[uint64]uint64, len(merges))
	keys := make([]uint64, len(merges))
	var pair []byte
	for rank, mg := range merges {
		left, okL := m.vocab[mg[0]]
		right, okR := m.vocab[mg[1]]
		pair = append(append(pair[:0], mg[0]...), mg[1]...)
		id, okM := m.vocab[string(pair)]
		if !okL || !okR || !okM {
			return fmt.Errorf("merge %d (%q %q): token not in the vocabulary", rank, mg[0], mg[1])
		}
		keys[rank] = pairKey(int32(left), int32(right))
		m.merges[keys[rank]] = 1 + (uint64(rank)<<32 | uint64(id))
	}
	m.mergeList = make([][2]int32, 0, len(merges))
	for rank, key := range keys {
		if (m.merges[key]-1)>>32 == uint64(rank) { // the rank that won
			m.mergeList = append(m.mergeList, [2]int32{int32(key >> 32), int32(uint32(key))})
		}
	}
	return nil
}

// setByteLevel puts the model in byte-level mode and finds each byte's token.
func (m *model) setByteLevel() {
	m.byteLevel, m.allBytes = true, true
	for b := range 256 {
		m.bytes[b] = -1
		if id, ok := m.vocab[string(pipeline.ByteRune(byte(b)))]; ok {
			m.bytes[b] = int32(id)
		} else {
			m.allBytes = false
		}
	}
	if m.ignoreMerges && m.allBytes {
		m.pieceIDs = make(map[string]int32, len(m.vocab))
		for tok, id := range m.vocab {
			if raw, ok := pipeline.RawBytes(tok); ok {
				m.pieceIDs[raw] = int32(id)
			}
		}
	}
}

// setFallback finds the <0xNN> tokens of byte_fallback.
func (m *model) setFallback() {
	for b := range 256 {
		m.fallback[b] = -1
		if id, ok := m.vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.fallback[b] = int32(id)
		}
	}
}

// appendPiece appends the ids of one pre-tokenizer piece (non-empty).
func (m *model) appendPiece(ids []int, piece string, st *encodeState) []int {
	if m.byteLevel && m.allBytes {
		if len(piece) == 1 {
			return append(ids, int(m.bytes[piece[0]]))
		}
		if m.ignoreMerges {
			if id, ok := m.pieceIDs[piece]; ok {
				return append(ids, int(id))
			}
		}
		sym := st.sym[:0]
		for i := 0; i < len(piece); i++ {
			sym = append(sym, m.bytes[piece[i]])
		}
		st.sym = sym
		return m.mergeSymbols(ids, st)
	}
	if m.byteLevel { // a byte without a token: spell the piece out and take the general path
		piece = pipeline.ByteLevel(piece)
	}
	if m.ignoreMerges {
		if id, ok := m.vocab[piece]; ok {
			return append(ids, id)
		}
	}
	if !m.metaspaceCuts || len(piece) <= maxQuadratic {
		st.sym = m.charSymbols(st.sym[:0], piece)
		return m.mergeSymbols(ids, st)
	}
	for len(piece) > 0 { // merge word by word: the same merges, in n log n time rather than one heap
		end := len(piece)
		for i := 1; i < len(piece); {
			k := strings.Index(piece[i:], metaspace)
			if k < 0 {
				break
			}
			if i += k; !strings.HasSuffix(piece[:i], metaspace) {
				end = i
				break
			}
			i += len(metaspace)
		}
		st.sym = m.charSymbols(st.sym[:0], piece[:end])
		ids = m.mergeSymbols(ids, st)
		piece = piece[end:]
	}
	return ids
}

// metaspace is SentencePiece's "▁", which stands for a space in its vocabularies.
const metaspace = "\u2581"

// setMetaspaceCuts notes whether a character-level piece can be merged word by word, cut before each "▁" that
// follows another character: so when no token has a "▁" after another character, since no merge can then join
// symbols across such a place. It holds for SentencePiece-style vocabularies (Mistral, Llama 2), whose text
// without a pre-tokenizer is one piece.
func (m *model) setMetaspaceCuts() {
	for tok := range m.vocab {
		for i := 1; i < len(tok); {
			k := strings.Index(tok[i:], metaspace)
			if k < 0 {
				break
			}
			if i += k; !strings.HasSuffix(tok[:i], metaspace) {
				return
			}
			i += len(metaspace)
		}
	}
	m.metaspaceCuts = true
}

// mergeSymbols merges st.sym and appends the result.
func (m *model) mergeSymbols(ids []int, st *encodeState) []int {
	if len(st.sym) > maxQuadratic {
		return m.mergeLong(ids, st)
	}
	return m.mergeShort(ids, st)
}

// charSymbols appends the first symbols of piece, one a character, as Hugging Face's BPE.merge_word makes them.
func (m *model) charSymbols(sym []int32, piece string) []int32 {
	unk := false // an unknown character waits to be added, to fuse with the next one
	for i := 0; i < len(piece); {
		_, size := utf8.DecodeRuneInString(piece[i:])
		c := piece[i : i+size]
		i += size
		if id, ok := m.vocab[c]; ok {
			if unk {
				sym, unk = append(sym, m.unk), false
			}
			sym = append(sym, int32(id))
			continue
		}
		if m.byteFallback && m.hasFallback(c) {
			for k := 0; k < len(c); k++ { // a waiting unknown stays waiting, as in Hugging Face
				sym = append(sym, m.fallback[c[k]])
			}
			continue
		}
		if m.unk >= 0 {
			if unk && !m.fuseUnk {
				sym = append(sym, m.unk)
			}
			unk = true
		}
	}
	if unk {
		sym = append(sym, m.unk)
	}
	return sym
}

// hasFallback reports whether every byte of c has a <0xNN> token.
func (m *model) hasFallback(c string) bool {
	for k := 0; k < len(c); k++ {
		if m.fallback[c[k]] < 0 {
			return false
		}
	}
	return true
}

// mergeShort merges st.sym by scanning for the lowest-ranked adjacent pair, leftmost first among equals, until no
// pair has a merge, and appends the result. Pieces are short (a word), so a scan per merge beats a heap here.
func (m *model) mergeShort(ids []int, st *encodeState) []int {
	sym := st.sym
	rank := st.rank[:0]
	for i := 0; i+1 < len(sym); i++ {
		rank = append(rank, m.merge(sym[i], sym[i+1]))
	}
	for len(rank) > 0 {
		best := 0
		for i, r := range rank {
			if r < rank[best] {
				best = i
			}
		}
		r := rank[best]
		if r == noMerge {
			break
		}
		sym[best] = int32(uint32(r))
		sym = slices.Delete(sym, best+1, best+2)
		rank = slices.Delete(rank, best, best+1)
		if best > 0 {
			rank[best-1] = m.merge(sym[best-1], sym[best])
		}
		if best < len(rank) {
			rank[best] = m.merge(sym[best], sym[best+1])
		}
	}
	for _, id := range sym {
		ids = append(ids, int(id))
	}
	st.sym, st.rank = sym, rank
	return ids
}
