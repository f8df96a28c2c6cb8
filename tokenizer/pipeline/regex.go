package pipeline

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
)

// The patterns of Split pre-tokenizers, Replace normalizers and Replace decoders. Hugging Face compiles a Regex
// pattern with Oniguruma and escapes a String pattern into one. Here a String pattern is found with
// strings.Index, the known regexes of GPT-2, Llama 3 and Qwen2 with their hand-written scanners, and any other
// regex with regexp2, a backtracking engine with .NET and Perl syntax (look-around, possessive and lazy
// quantifiers, Unicode classes), close to Oniguruma for the patterns tokenizers use. Known differences between
// regexp2 and Oniguruma: \w is .NET's [\p{L}\p{Mn}\p{Nd}\p{Pc}]; the Unicode tables are Go's (15.0, where
// Oniguruma's are 16.0; see onigExtra); ^ and $ match at line breaks (Ruby's and Oniguruma's default) because the
// pattern is compiled Multiline. (?i) is Unicode simple case folding in both.

// span is a match of a pattern: s[start:end].
type span struct{ start, end int }

// matcher finds a pattern's matches.
type matcher interface {
	// find appends the matches in s, in order and not overlapping, as Oniguruma's find_iter in the onig crate
	// gives them: an empty match right where the previous match ended is not taken.
	find(dst []span, s string) []span
}

// compilePattern returns the matcher of a tokenizer.json pattern: {"String": s} (literal) or {"Regex": r}.
func compilePattern(p *Pattern) (matcher, error) {
	switch {
	case p == nil || p.String == nil && p.Regex == nil:
		return nil, fmt.Errorf("pattern: want String or Regex")
	case p.String != nil:
		return literal(*p.String), nil
	}
	switch *p.Regex {
	case gpt2Pattern:
		return scanner{ScanGPT2}, nil
	case llama3Pattern:
		return scanner{ScanLlama3}, nil
	case qwen2Pattern:
		return scanner{ScanQwen2}, nil
	}
	return newRegex(*p.Regex)
}

// newRegex compiles a pattern for regexp2.
func newRegex(pattern string) (*regex, error) {
	re, err := regexp2.Compile(pattern, regexp2.Multiline, regexp2.OptionMaxBacktrackingStackSize(-1))
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	return &regex{re: re}, nil
}

// literal is a String pattern.
type literal string

func (l literal) find(dst []span, s string) []span {
	if l == "" { // matches the empty string everywhere, as the escaped empty pattern does in Oniguruma
		for i := 0; i < len(s); {
			dst = append(dst, span{i, i})
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
		}
		return append(dst, span{len(s), len(s)})
	}
	for i := 0; ; {
		k := strings.Index(s[i:], string(l))
		if k < 0 {
			return dst
		}
		dst = append(dst, span{i + k, i + k + len(l)})
		i += k + len(l)
	}
}

// scanner is a known pattern, run by its hand-written scanner (ScanGPT2, ScanLlama3 or ScanQwen2; ScanWhole
// matches the whole text). Such a pattern matches every text as a sequence of non-empty matches.
type scanner struct{ kind Scan }

// end returns the end of the match that starts at s[i]; i < len(s). The switch calls each scanner directly, which
// is faster than through a func value.
func (sc scanner) end(s string, i int) int {
	switch sc.kind {
	case ScanGPT2:
		return GPT2End(s, i)
	case ScanLlama3:
		return Llama3End(s, i, 3)
	case ScanQwen2:
		return Llama3End(s, i, 1)
	}
	return len(s)
}

func (sc scanner) find(dst []span, s string) []span {
	for i := 0; i < len(s); {
		j := sc.end(s, i)
		dst = append(dst, span{i, j})
		i = j
	}
	return dst
}

// regex is a pattern run by regexp2.
type regex struct {
	re *regexp2.Regexp
}

func (r *regex) find(dst []span, s string) []span {
	// regexp2 matches runes; a byte that is not valid UTF-8 is U+FFFD there, a symbol ("other", as in the
	// scanners), and offsets maps rune indexes back to bytes.
	runes := make([]rune, 0, len(s))
	offsets := make([]int, 0, len(s)+1)
	for i := 0; i < len(s); {
		c, size := utf8.DecodeRuneInString(s[i:])
		runes, offsets = append(runes, c), append(offsets, i)
		i += size
	}
	offsets = append(offsets, len(s))
	prevEnd := -1
	// The errors are a timeout and the backtracking limit, neither of which is set.
	_ = r.re.FindRunesMatches(runes, 0, func(m regexp2.MatchView) bool {
		i, n, _ := m.GroupRange(0)
		if n == 0 && i == prevEnd {
			return true // .NET takes an empty match where the last one ended; Oniguruma's find_iter does not
		}
		dst = append(dst, span{offsets[i], offsets[i+n]})
		prevEnd = i + n
		return true
	})
	return dst
}

// replaceAll returns s with each match of m replaced by content (NormalizedString.replace, and the Replace
// decoder).
func replaceAll(m matcher, s, content string) string {
	if l, ok := m.(literal); ok && l != "" {
		return strings.ReplaceAll(s, string(l), content)
	}
	matches := m.find(nil, s)
	if len(matches) == 0 {
		return s
	}
	var b strings.Builder
	prev := 0
	for _, sp := range matches {
		b.WriteString(s[prev:sp.start])
		b.WriteString(content)
		prev = sp.end
	}
	b.WriteString(s[prev:])
	return b.String()
}
