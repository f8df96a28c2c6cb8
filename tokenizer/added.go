package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// addedToken is a token outside the model (added_tokens in tokenizer.json): split out of the text as a whole
// before anything else, as Hugging Face's AddedVocabulary does.
type addedToken struct {
	ID      int
	Content string
	Special bool // left as text by Encode, and "special" in tokenizer.json
	// Matching flags of tokenizer.json: only as a whole word; taking the white space on its left or right along;
	// matched in the normalized text (as pattern, the content normalized) rather than in the raw text.
	SingleWord, LStrip, RStrip, Normalized bool
	pattern                                string // what is matched: Content, normalized when Normalized
}

// addedVocab holds the added tokens and finds them in text.
type addedVocab struct {
	tokens []addedToken // file order, one per content
	raw    trie         // tokens with Normalized false, matched in the text as given
	norm   trie         // tokens with Normalized true, matched in each normalized stretch
	plain  bool         // raw has a token that is not special, which Encode looks for
}

// addedMatch is an added token found in text: text[start:end] is tokens[tok], white space stripped along
// included.
type addedMatch struct {
	start, end int
	tok        int32
}

// trie is a byte trie of token patterns, for leftmost-longest matching.
type trie struct {
	nodes []trieNode // nodes[0] is the root; empty when there are no patterns
	root  [256]int32 // the root's children by byte (0: none), an array for the scan over every byte
	first int        // the one byte that starts every pattern, or -1 when they start with several
}

type trieNode struct {
	next map[byte]int32
	tok  int32 // index in addedVocab.tokens of the pattern that ends here, or -1
}

func (tr *trie) add(pattern string, tok int32) {
	if len(tr.nodes) == 0 {
		tr.nodes = append(tr.nodes, trieNode{tok: -1})
		tr.first = int(pattern[0])
	}
	if int(pattern[0]) != tr.first {
		tr.first = -1
	}
	n := int32(0)
	for i := 0; i < len(pattern); i++ {
		next, ok := tr.nodes[n].next[pattern[i]]
		if !ok {
			next = int32(len(tr.nodes))
			tr.nodes = append(tr.nodes, trieNode{tok: -1})
			if tr.nodes[n].next == nil {
				tr.nodes[n].next = make(map[byte]int32)
			}
			tr.nodes[n].next[pattern[i]] = next
			if n == 0 {
				tr.root[pattern[i]] = next
			}
		}
		n = next
	}
	tr.nodes[n].tok = tok
}

// next returns the leftmost pattern that occurs in s at or after i, the longest of those that start there; tok
// is -1 when there is none.
func (tr *trie) next(s string, i int) (start, end int, tok int32) {
	if len(tr.nodes) == 0 {
		return 0, 0, -1
	}
	for i < len(s) {
		if tr.first >= 0 { // skip to the next place a pattern can start
			k := strings.IndexByte(s[i:], byte(tr.first))
			if k < 0 {
				break
			}
			i += k
		}
		n := tr.root[s[i]]
		if n == 0 {
			i++
			continue
		}
		end, tok = -1, -1
		for j := i + 1; ; j++ {
			if t := tr.nodes[n].tok; t >= 0 {
				end, tok = j, t
			}
			var ok bool
			if j == len(s) {
				break
			}
			if n, ok = tr.nodes[n].next[s[j]]; !ok {
				break
			}
		}
		if tok >= 0 {
			return i, end, tok
		}
		i++
	}
	return 0, 0, -1
}

// find appends the added tokens of tr found in s, as Hugging Face's AddedVocabulary.find_matches does: the
// leftmost-longest matches, not overlapping, of which a special token is skipped unless withSpecial, a
// single_word token that is not a whole word is skipped, and lstrip and rstrip take the white space next to the
// token along.
func (v *addedVocab) find(dst []addedMatch, s string, tr *trie, withSpecial bool) []addedMatch {
	startOffset := 0 // where the last token taken ends
	for i := 0; i < len(s); {
		start, end, tok := tr.next(s, i)
		if tok < 0 {
			break
		}
		i = end // matching goes on after the match, even one skipped
		a := &v.tokens[tok]
		if a.Special && !withSpecial {
			continue
		}
		if a.SingleWord && (start > 0 && endsWithWord(s[:start]) || end < len(s) && startsWithWord(s[end:])) {
			continue
		}
		if a.LStrip {
			start = max(spaceStart(s[:start]), startOffset)
		}
		if a.RStrip {
			end += spaceEnd(s[end:])
		}
		dst = append(dst, addedMatch{start, end, tok})
		startOffset = end
	}
	return dst
}

// isWord reports whether r is a word character in the sense of Rust's regex \w (Unicode): Alphabetic, a mark, a
// decimal digit, a connector punctuation or a join control.
func isWord(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.Is(unicode.Nd, r) || unicode.Is(unicode.Nl, r) ||
		unicode.Is(unicode.Pc, r) || unicode.Is(unicode.Other_Alphabetic, r) || unicode.Is(unicode.Join_Control, r)
}

func endsWithWord(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return isWord(r)
}

func startsWithWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return isWord(r)
}

// isSpace reports whether r is white space (Rust's \s and char::is_whitespace, Unicode White_Space).
func isSpace(r rune) bool { return unicode.Is(unicode.White_Space, r) }

// spaceStart returns where the white space at the end of s begins.
func spaceStart(s string) int {
	for len(s) > 0 {
		r, size := utf8.DecodeLastRuneInString(s)
		if !isSpace(r) {
			break
		}
		s = s[:len(s)-size]
	}
	return len(s)
}

// spaceEnd returns where the white space at the start of s ends.
func spaceEnd(s string) int {
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !isSpace(r) {
			break
		}
		i += size
	}
	return i
}
