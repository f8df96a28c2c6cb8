package pipeline

import (
	"cmp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Llama 3 splits text before BPE with this pattern (Split, behavior Isolated), Qwen2 and later Qwen with the same
// but \p{N} for \p{N}{1,3}:
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// Hugging Face runs it with Oniguruma; Llama3End scans by hand with the same result, since Go's regexp has no
// look-ahead and a backtracking engine is several times slower. The classes are those of the GPT-2 scanner
// (pretokenize.go), \s Unicode White_Space as Oniguruma's \s, and a byte that is not valid UTF-8 one "other"
// character, but with Oniguruma's Unicode version (16.0 in tokenizers 0.23): the 5,004 code points that
// Unicode 15.1 and 16.0 made letters or numbers are so here too (onigExtra), where Go 1.26's tables (Unicode
// 15.0) say "other". (?i) is Unicode simple case folding, as in Oniguruma and regexp2: besides ASCII, only the
// long s (U+017F) folds to one of these letters, so "it'ſelf" is "it", "'ſ", "elf".

// Patterns that have a hand-written scanner.
const (
	gpt2Pattern   = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|` +
		` ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	qwen2Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|` +
		` ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// Llama3End returns the end of the piece of either pattern that starts at s[i] (i < len(s)); digits is the most
// numbers a piece takes (3 for Llama 3, 1 for Qwen2).
func Llama3End(s string, i, digits int) int {
	c := s[i]
	if c == '\'' && i+1 < len(s) { // (?i:'s|'t|'re|'ve|'m|'ll|'d); b|0x20 folds ASCII letters only
		if strings.HasPrefix(s[i+1:], "\u017f") { // long s, which folds to s
			return i + 3
		}
		switch s[i+1] | 0x20 {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v':
			if i+2 < len(s) && s[i+2]|0x20 == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < len(s) && s[i+2]|0x20 == 'l' {
				return i + 3
			}
		}
	}
	class, size := onigClassAt(s, i)
	switch class {
	case classLetter: // [^\r\n\p{L}\p{N}]?\p{L}+ without its first part
		return onigRunEnd(s, i+size, classLetter)
	case classNumber: // \p{N}{1,3}
		j := i + size
		for n := 1; n < digits && j < len(s); n++ {
			next, size := onigClassAt(s, j)
			if next != classNumber {
				break
			}
			j += size
		}
		return j
	}
	// White space or other from here on.
	next, nextSize := classOther, 0
	if i+size < len(s) {
		next, nextSize = onigClassAt(s, i+size)
	}
	if c != '\r' && c != '\n' && next == classLetter && nextSize > 0 { // [^\r\n\p{L}\p{N}]\p{L}+
		return onigRunEnd(s, i+size+nextSize, classLetter)
	}
	if class == classOther || c == ' ' && nextSize > 0 && next == classOther { // ?[^\s\p{L}\p{N}]+[\r\n]*
		j := i + size
		if c == ' ' {
			j += nextSize
		}
		j = onigRunEnd(s, j, classOther)
		for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
			j++
		}
		return j
	}
	// A run of white space: \s*[\r\n]+ takes it up to its last line break; else \s+(?!\S) takes all of it at
	// the end of the text and all but its last character before other text; else \s+ takes the one character.
	lastBreak, last, j := -1, i, i
	for j < len(s) {
		k, size := onigClassAt(s, j)
		if k != classSpace {
			break
		}
		if s[j] == '\r' || s[j] == '\n' {
			lastBreak = j + 1
		}
		last, j = j, j+size
	}
	switch {
	case lastBreak > 0:
		return lastBreak
	case j == len(s) || last == i:
		return j
	}
	return last
}

// onigClassAt is classAt with Oniguruma's Unicode version.
func onigClassAt(s string, i int) (class uint8, size int) {
	class, size = classAt(s, i)
	if class == classOther && size > 1 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		if k, ok := slices.BinarySearchFunc(onigExtra, r, func(e onigRange, r rune) int {
			return cmp.Compare(e.hi, r)
		}); ok || k < len(onigExtra) && onigExtra[k].lo <= r {
			class = onigExtra[k].class
		}
	}
	return class, size
}

// onigRunEnd is runEnd with onigClassAt.
func onigRunEnd(s string, j int, class uint8) int {
	for j < len(s) {
		c, n := onigClassAt(s, j)
		if c != class {
			break
		}
		j += n
	}
	return j
}

// onigRange is a range of code points that Oniguruma (Unicode 16.0) classes as letters or numbers and Go's
// tables (Unicode 15.0) do not.
type onigRange struct {
	lo, hi rune
	class  uint8
}

// onigExtra lists them, in order. It was made by asking Hugging Face tokenizers 0.23.2 to pre-tokenize "a", "1"
// and "!" followed by each code point with Llama 3's pattern, and keeping where its class differs from Go's; every
// difference is one of these.
var onigExtra = []onigRange{
	{0x1C89, 0x1C8A, classLetter},
	{0xA7CB, 0xA7CD, classLetter},
	{0xA7DA, 0xA7DC, classLetter},
	{0x105C0, 0x105F3, classLetter},
	{0x10D40, 0x10D49, classNumber},
	{0x10D4A, 0x10D65, classLetter},
	{0x10D6F, 0x10D85, classLetter},
	{0x10EC2, 0x10EC4, classLetter},
	{0x11380, 0x11389, classLetter},
	{0x1138B, 0x1138B, classLetter},
	{0x1138E, 0x1138E, classLetter},
	{0x11390, 0x113B5, classLetter},
	{0x113B7, 0x113B7, classLetter},
	{0x113D1, 0x113D1, classLetter},
	{0x113D3, 0x113D3, classLetter},
	{0x116D0, 0x116E3, classNumber},
	{0x11BC0, 0x11BE0, classLetter},
	{0x11BF0, 0x11BF9, classNumber},
	{0x13460, 0x143FA, classLetter},
	{0x16100, 0x1611D, classLetter},
	{0x16130, 0x16139, classNumber},
	{0x16D40, 0x16D6C, classLetter},
	{0x16D70, 0x16D79, classNumber},
	{0x18CFF, 0x18CFF, classLetter},
	{0x1CCF0, 0x1CCF9, classNumber},
	{0x1E5D0, 0x1E5ED, classLetter},
	{0x1E5F0, 0x1E5F0, classLetter},
	{0x1E5F1, 0x1E5FA, classNumber},
	{0x2EBF0, 0x2EE5D, classLetter},
}
