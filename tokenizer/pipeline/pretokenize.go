package pipeline

import (
	"unicode"
	"unicode/utf8"
)

// GPT-2 splits text into pieces before BPE with this pattern (Python `regex` semantics):
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// Go's regexp has no look-ahead, so GPT2End scans by hand. \s is Unicode White_Space (a BOM and U+001C..U+001F
// are not whitespace; NEL U+0085 is), \p{L} and \p{N} are Go's unicode.Letter and unicode.Number. A byte that is
// not valid UTF-8 counts as one character of the "other" class, so every byte string splits and round-trips.

// Character classes of the pattern.
const (
	classOther  uint8 = iota // [^\s\p{L}\p{N}]
	classLetter              // \p{L}
	classNumber              // \p{N}
	classSpace               // \s
)

// asciiClass is the class of each ASCII byte.
var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for c := range t {
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			t[c] = classLetter
		case c >= '0' && c <= '9':
			t[c] = classNumber
		case c == ' ' || c >= '\t' && c <= '\r':
			t[c] = classSpace
		}
	}
	return t
}()

// classAt returns the class of the character at s[i] and its length in bytes.
func classAt(s string, i int) (class uint8, size int) {
	if c := s[i]; c < utf8.RuneSelf {
		return asciiClass[c], 1
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	switch {
	case size == 1: // invalid UTF-8
		return classOther, 1
	case unicode.IsLetter(r):
		return classLetter, size
	case unicode.IsNumber(r):
		return classNumber, size
	case unicode.Is(unicode.White_Space, r):
		return classSpace, size
	}
	return classOther, size
}

// GPT2End returns the end of the piece of GPT-2's pattern that starts at s[i]; i < len(s).
func GPT2End(s string, i int) int {
	c := s[i]
	if c == '\'' && i+1 < len(s) { // 's|'t|'re|'ve|'m|'ll|'d, lower case only
		switch s[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v':
			if i+2 < len(s) && s[i+2] == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < len(s) && s[i+2] == 'l' {
				return i + 3
			}
		}
	}
	class, size := classAt(s, i)
	if c == ' ' && i+1 < len(s) { // ' ?' before a letter, number or other run
		if next, n := classAt(s, i+1); next != classSpace {
			return runEnd(s, i+1+n, next)
		}
	}
	if class != classSpace {
		return runEnd(s, i+size, class)
	}
	// \s+(?!\S): the whole run if it ends the text, else the run less its last character; \s+: one character
	// followed by non-space.
	last, j := i, i+size
	for j < len(s) {
		next, n := classAt(s, j)
		if next != classSpace {
			if last > i {
				return last
			}
			return j
		}
		last, j = j, j+n
	}
	return j
}

// runEnd extends a run of class from s[j] on and returns its end.
func runEnd(s string, j int, class uint8) int {
	for j < len(s) {
		c, n := classAt(s, j)
		if c != class {
			break
		}
		j += n
	}
	return j
}
