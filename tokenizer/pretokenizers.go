package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The pre-tokenizers of tokenizer.json ("pre_tokenizer"): each cuts every piece of text that the previous one
// left into smaller pieces, as Hugging Face's PreTokenizedString.split does, dropping empty ones. The common
// chains (GPT-2's ByteLevel, Llama 3's and Qwen2's Split + ByteLevel) do not come here: BPE.encodeStretch scans
// them in one pass with the hand-written scanners.

// piece is a piece of text between pre-tokenizers; first is set when it starts where the text given to Encode
// starts (Hugging Face's offsets_original().0 == 0, which Metaspace's prepend_scheme "first" asks).
type piece struct {
	s     string
	first bool
}

// preTokenizer is one pre-tokenizer: split appends the non-empty pieces that p becomes.
type preTokenizer interface {
	split(dst []piece, p piece) []piece
}

// byteLevelPre is the ByteLevel pre-tokenizer: a space in front of each piece that does not start with one
// (add_prefix_space), then GPT-2's pattern (use_regex). Hugging Face then spells each piece's bytes in GPT-2's
// byte alphabet; when ByteLevel is the last pre-tokenizer the model reads the bytes themselves (byte-level mode)
// and nothing is spelled, else (spell) the following pre-tokenizers and the model see the spelling.
type byteLevelPre struct {
	addPrefixSpace, useRegex, spell bool
}

func (b byteLevelPre) split(dst []piece, p piece) []piece {
	s := p.s
	if b.addPrefixSpace && !strings.HasPrefix(s, " ") {
		s = " " + s
	}
	n := len(dst)
	if b.useRegex {
		for i := 0; i < len(s); {
			j := pieceEnd(s, i)
			dst = append(dst, piece{s[i:j], p.first && i == 0})
			i = j
		}
	} else {
		dst = append(dst, piece{s, p.first})
	}
	if b.spell {
		for i := n; i < len(dst); i++ {
			dst[i].s = byteLevel(dst[i].s)
		}
	}
	return dst
}

// Split behaviors: what becomes of the matches of a Split pattern (tokenizers' SplitDelimiterBehavior).
const (
	isolated           = iota // each match and each stretch between matches is a piece
	removed                   // the matches are dropped
	mergedWithPrevious        // a match joins the piece before it
	mergedWithNext            // a match joins the piece after it
	contiguous                // adjacent matches join, as do adjacent non-matches
)

var behaviors = map[string]int{"Isolated": isolated, "Removed": removed, "MergedWithPrevious": mergedWithPrevious,
	"MergedWithNext": mergedWithNext, "Contiguous": contiguous}

// splitPre is the Split pre-tokenizer: a pattern, what becomes of its matches, and invert, which swaps matches
// and the stretches between them.
type splitPre struct {
	pattern  matcher
	behavior int
	invert   bool
}

func (sp splitPre) split(dst []piece, p piece) []piece {
	return splitBy(dst, p, sp.pattern.find(nil, p.s), sp.behavior, sp.invert)
}

// segment is a part of a piece: a match of a pattern or a stretch between matches.
type segment struct {
	start, end int
	match      bool
}

// splitBy appends the pieces that p becomes with the matches of a pattern (in order, not overlapping) and a
// behavior, as Hugging Face's NormalizedString.split does.
func splitBy(dst []piece, p piece, matches []span, behavior int, invert bool) []piece {
	// Pattern.find_matches: the matches and the stretches between them, covering p.
	var segs []segment
	prev := 0
	for _, m := range matches {
		if prev != m.start {
			segs = append(segs, segment{prev, m.start, invert})
		}
		segs = append(segs, segment{m.start, m.end, !invert})
		prev = m.end
	}
	if prev != len(p.s) {
		segs = append(segs, segment{prev, len(p.s), invert})
	}
	// The behavior: which segments join, and which go.
	var out []segment
	prevMatch := false
	switch behavior {
	case isolated:
		out = segs
	case removed:
		for _, s := range segs {
			if !s.match {
				out = append(out, s)
			}
		}
	case contiguous, mergedWithPrevious:
		for _, s := range segs {
			join := s.match == prevMatch
			if behavior == mergedWithPrevious {
				join = s.match && !prevMatch
			}
			if join && len(out) > 0 {
				out[len(out)-1].end = s.end
			} else {
				out = append(out, segment{s.start, s.end, false})
			}
			prevMatch = s.match
		}
	case mergedWithNext:
		for i := len(segs) - 1; i >= 0; i-- {
			s := segs[i]
			if s.match && !prevMatch && len(out) > 0 {
				out[len(out)-1].start = s.start
			} else {
				out = append(out, segment{s.start, s.end, false})
			}
			prevMatch = s.match
		}
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	for _, s := range out {
		if s.end > s.start {
			dst = append(dst, piece{p.s[s.start:s.end], p.first && s.start == 0})
		}
	}
	return dst
}

// charMatches returns each character of s for which is is true as a match of its own (Hugging Face's pattern of
// a char predicate).
func charMatches(s string, is func(rune) bool) []span {
	var out []span
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if size == 1 && r == utf8.RuneError {
			r = -1 // not valid UTF-8: no class
		}
		if is(r) {
			out = append(out, span{i, i + size})
		}
		i += size
	}
	return out
}

// digitsPre is the Digits pre-tokenizer: numbers (Unicode N, Rust's char::is_numeric) apart from the rest, each
// digit alone with individual_digits, else runs of them.
type digitsPre struct {
	individual bool
}

func (d digitsPre) split(dst []piece, p piece) []piece {
	behavior := contiguous
	if d.individual {
		behavior = isolated
	}
	return splitBy(dst, p, charMatches(p.s, func(r rune) bool { return r >= 0 && unicode.IsNumber(r) }),
		behavior, false)
}

// Metaspace's prepend_scheme.
const (
	prependAlways = iota
	prependFirst
	prependNever
)

var prependSchemes = map[string]int{"always": prependAlways, "first": prependFirst, "never": prependNever}

// metaspacePre is the Metaspace pre-tokenizer (SentencePiece's convention): spaces become the replacement
// ("▁"), which is put in front of a piece that does not start with it (always, or first: only the piece where the
// text starts); with split, each replacement starts a new piece.
type metaspacePre struct {
	replacement rune
	scheme      int
	splits      bool
}

func (m metaspacePre) split(dst []piece, p piece) []piece {
	rep := string(m.replacement)
	s := strings.ReplaceAll(p.s, " ", rep)
	if !strings.HasPrefix(s, rep) && (m.scheme == prependAlways || m.scheme == prependFirst && p.first) {
		s = rep + s
	}
	if !m.splits {
		return append(dst, piece{s, p.first})
	}
	return splitBy(dst, piece{s, p.first}, charMatches(s, func(r rune) bool { return r == m.replacement }),
		mergedWithNext, false)
}
