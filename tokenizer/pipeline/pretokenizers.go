package pipeline

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The pre-tokenizers of tokenizer.json ("pre_tokenizer"): each cuts every piece of text that the previous one
// left into smaller pieces, as Hugging Face's PreTokenizedString.split does, dropping empty ones. The common
// chains (GPT-2's ByteLevel, Llama 3's and Qwen2's Split + ByteLevel) do not run step by step: the hand-written
// scanner of their pattern cuts the text in one pass.

// Piece is a piece of text between pre-tokenizers; First is set when it starts where the text given to the
// tokenizer starts (Hugging Face's offsets_original().0 == 0, which Metaspace's prepend_scheme "first" asks).
type Piece struct {
	Text  string
	First bool
}

// PreTokenizer is the pre-tokenizer of a tokenizer.json made ready to run; the zero value is none, which leaves
// the text one piece.
type PreTokenizer struct {
	// ByteLevel is set when the last pre-tokenizer is ByteLevel: the pieces are left as raw bytes, for a model that
	// reads each byte as the token that spells it in GPT-2's byte alphabet (byte-level mode), rather than spelled
	// out. A ByteLevel pre-tokenizer before others spells its pieces for them.
	ByteLevel bool
	// Scan is how the text is cut: by one hand-written scanner, whole, or by the chain of pre-tokenizers
	// (ScanChain).
	Scan  Scan
	steps []preTokenizer // the chain, for ScanChain
}

// Scan says how a PreTokenizer cuts text.
type Scan uint8

// The ways to cut text. A caller that wants speed calls a scanner's end function (GPT2End, Llama3End) itself.
const (
	ScanWhole  Scan = iota // the text is one piece (no pre-tokenizer)
	ScanGPT2               // GPT-2's pattern (ByteLevel with use_regex): GPT2End
	ScanLlama3             // Llama 3's Split pattern: Llama3End with 3 digits
	ScanQwen2              // Qwen2's Split pattern: Llama3End with 1 digit
	ScanChain              // the pre-tokenizers one after the other
)

// Scratch is memory that PreTokenizer.Split reuses from call to call; the zero value is ready to use.
type Scratch struct {
	pieces, spare []Piece
}

// Split returns the pieces, in order and not empty, that p cuts s into; first is set when s starts the text. The
// result is valid until the next call with sc.
func (p *PreTokenizer) Split(s string, first bool, sc *Scratch) []Piece {
	pieces := sc.pieces[:0]
	switch {
	case len(s) == 0:
	case p.Scan == ScanChain:
		pieces = append(pieces, Piece{s, first})
		spare := sc.spare[:0]
		for _, step := range p.steps {
			spare = spare[:0]
			for _, pc := range pieces {
				spare = step.split(spare, pc)
			}
			pieces, spare = spare, pieces
		}
		sc.spare = spare
	default:
		scan := scanner{p.Scan}
		for i := 0; i < len(s); {
			j := scan.end(s, i)
			pieces = append(pieces, Piece{s[i:j], first && i == 0})
			i = j
		}
	}
	sc.pieces = pieces
	return pieces
}

// prepare makes a chain of pre-tokenizers ready to run. The common chains become one scanner: GPT-2's ByteLevel,
// Llama 3's and Qwen2's Split (Isolated) then ByteLevel without its regex, a Split alone, or a ByteLevel alone.
// The pieces stay raw bytes (ByteLevel) when ByteLevel is the last pre-tokenizer; one earlier spells its pieces out
// for the pre-tokenizers after it.
func prepare(pre []preTokenizer) PreTokenizer {
	var p PreTokenizer
	if n := len(pre); n > 0 {
		if b, ok := pre[n-1].(byteLevelPre); ok {
			p.ByteLevel = true
			if !b.addPrefixSpace && !b.useRegex {
				pre = pre[:n-1] // only maps bytes, which byte-level mode does
			} else if !b.addPrefixSpace && n == 1 {
				p.Scan = ScanGPT2
				return p
			}
		}
	}
	for i, step := range pre {
		if b, ok := step.(byteLevelPre); ok && i < len(pre)-1 {
			b.spell = true
			pre[i] = b
		}
	}
	switch {
	case len(pre) == 0:
		return p
	case len(pre) == 1:
		if s, ok := pre[0].(splitPre); ok && s.behavior == isolated {
			if sc, ok := s.pattern.(scanner); ok {
				p.Scan = sc.kind
				return p
			}
		}
	}
	p.Scan, p.steps = ScanChain, pre
	return p
}

// preTokenizer is one pre-tokenizer: split appends the non-empty pieces that p becomes.
type preTokenizer interface {
	split(dst []Piece, p Piece) []Piece
}

// byteLevelPre is the ByteLevel pre-tokenizer: a space in front of each piece that does not start with one
// (add_prefix_space), then GPT-2's pattern (use_regex). Hugging Face then spells each piece's bytes in GPT-2's
// byte alphabet; when ByteLevel is the last pre-tokenizer the model reads the bytes themselves (byte-level mode)
// and nothing is spelled, else (spell) the following pre-tokenizers and the model see the spelling.
type byteLevelPre struct {
	addPrefixSpace, useRegex, spell bool
}

func (b byteLevelPre) split(dst []Piece, p Piece) []Piece {
	s := p.Text
	if b.addPrefixSpace && !strings.HasPrefix(s, " ") {
		s = " " + s
	}
	n := len(dst)
	if b.useRegex {
		for i := 0; i < len(s); {
			j := GPT2End(s, i)
			dst = append(dst, Piece{s[i:j], p.First && i == 0})
			i = j
		}
	} else {
		dst = append(dst, Piece{s, p.First})
	}
	if b.spell {
		for i := n; i < len(dst); i++ {
			dst[i].Text = ByteLevel(dst[i].Text)
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

func (sp splitPre) split(dst []Piece, p Piece) []Piece {
	return splitBy(dst, p, sp.pattern.find(nil, p.Text), sp.behavior, sp.invert)
}

// segment is a part of a piece: a match of a pattern or a stretch between matches.
type segment struct {
	start, end int
	match      bool
}

// splitBy appends the pieces that p becomes with the matches of a pattern (in order, not overlapping) and a
// behavior, as Hugging Face's NormalizedString.split does.
func splitBy(dst []Piece, p Piece, matches []span, behavior int, invert bool) []Piece {
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
	if prev != len(p.Text) {
		segs = append(segs, segment{prev, len(p.Text), invert})
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
			dst = append(dst, Piece{p.Text[s.start:s.end], p.First && s.start == 0})
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

func (d digitsPre) split(dst []Piece, p Piece) []Piece {
	behavior := contiguous
	if d.individual {
		behavior = isolated
	}
	return splitBy(dst, p, charMatches(p.Text, func(r rune) bool { return r >= 0 && unicode.IsNumber(r) }),
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

func (m metaspacePre) split(dst []Piece, p Piece) []Piece {
	rep := string(m.replacement)
	s := strings.ReplaceAll(p.Text, " ", rep)
	if !strings.HasPrefix(s, rep) && (m.scheme == prependAlways || m.scheme == prependFirst && p.First) {
		s = rep + s
	}
	if !m.splits {
		return append(dst, Piece{s, p.First})
	}
	return splitBy(dst, Piece{s, p.First}, charMatches(s, func(r rune) bool { return r == m.replacement }),
		mergedWithNext, false)
}
