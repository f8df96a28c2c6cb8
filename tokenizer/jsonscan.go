package tokenizer

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A hand-written reader for the two big parts of tokenizer files, the vocabulary object and the merges array:
// encoding/json spends about 60 ms on GPT-2's 50,000 of each, this about 10. Everything else in a
// tokenizer.json goes through encoding/json. Strings without escapes are kept as substrings of the input.

type jsonScanner struct {
	s string
	i int
}

func (sc *jsonScanner) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", sc.i, fmt.Sprintf(format, args...))
}

func (sc *jsonScanner) skipSpace() {
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

// next skips space and reports whether the next byte is c, consuming it if so.
func (sc *jsonScanner) next(c byte) bool {
	sc.skipSpace()
	if sc.i < len(sc.s) && sc.s[sc.i] == c {
		sc.i++
		return true
	}
	return false
}

func (sc *jsonScanner) expect(c byte) error {
	if !sc.next(c) {
		return sc.errorf("want %q", c)
	}
	return nil
}

// end checks that only space is left.
func (sc *jsonScanner) end() error {
	sc.skipSpace()
	if sc.i != len(sc.s) {
		return sc.errorf("unexpected data after the value")
	}
	return nil
}

// str reads a JSON string.
func (sc *jsonScanner) str() (string, error) {
	if err := sc.expect('"'); err != nil {
		return "", err
	}
	start := sc.i
	for i := start; i < len(sc.s); i++ {
		switch c := sc.s[i]; {
		case c == '"':
			sc.i = i + 1
			return sc.s[start:i], nil
		case c == '\\':
			return sc.escaped(start)
		case c < 0x20:
			sc.i = i
			return "", sc.errorf("control character in string")
		}
	}
	return "", sc.errorf("unterminated string")
}

// escaped reads the rest of a string that has escapes, from its first byte at start.
func (sc *jsonScanner) escaped(start int) (string, error) {
	var b strings.Builder
	i := start
	for i < len(sc.s) {
		c := sc.s[i]
		switch {
		case c == '"':
			sc.i = i + 1
			return b.String(), nil
		case c < 0x20:
			sc.i = i
			return "", sc.errorf("control character in string")
		case c != '\\':
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(sc.s) {
			break
		}
		switch e := sc.s[i+1]; e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := hex4(sc.s, i+2)
			if !ok {
				sc.i = i
				return "", sc.errorf("bad \\u escape")
			}
			i += 6
			if utf16.IsSurrogate(r) { // a pair is two escapes; a lone half is U+FFFD, as in encoding/json
				if r2, ok := hex4(sc.s, i+2); ok && strings.HasPrefix(sc.s[i:], `\u`) {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						i += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			b.WriteRune(r)
			continue
		default:
			sc.i = i
			return "", sc.errorf("bad escape \\%c", e)
		}
		i += 2
	}
	sc.i = i
	return "", sc.errorf("unterminated string")
}

// hex4 reads four hex digits at s[i:].
func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	v, err := strconv.ParseUint(s[i:i+4], 16, 16)
	return rune(v), err == nil
}

// integer reads a non-negative JSON integer.
func (sc *jsonScanner) integer() (int, error) {
	sc.skipSpace()
	start := sc.i
	for sc.i < len(sc.s) && sc.s[sc.i] >= '0' && sc.s[sc.i] <= '9' {
		sc.i++
	}
	n, err := strconv.Atoi(sc.s[start:sc.i])
	if err != nil || sc.i-start > 1 && sc.s[start] == '0' {
		sc.i = start
		return 0, sc.errorf("want a non-negative integer")
	}
	return n, nil
}

// parseVocab reads vocab.json: a JSON object that maps token strings to ids.
func parseVocab(s string) (map[string]int, error) {
	sc := &jsonScanner{s: s}
	vocab, err := sc.vocab()
	if err != nil {
		return nil, err
	}
	return vocab, sc.end()
}

// vocab reads a JSON object that maps token strings to ids (vocab.json, model.vocab).
func (sc *jsonScanner) vocab() (map[string]int, error) {
	vocab := make(map[string]int, strings.Count(sc.s[sc.i:], `":`)) // merges, after it, have no `":`
	if err := sc.expect('{'); err != nil {
		return nil, err
	}
	if !sc.next('}') {
		for {
			tok, err := sc.str()
			if err != nil {
				return nil, err
			}
			if err := sc.expect(':'); err != nil {
				return nil, err
			}
			id, err := sc.integer()
			if err != nil {
				return nil, err
			}
			vocab[tok] = id
			if sc.next('}') {
				break
			}
			if err := sc.expect(','); err != nil {
				return nil, err
			}
		}
	}
	return vocab, nil
}

// merges reads model.merges of a tokenizer.json: ["a b", ...] (tokenizers before 0.20) or [["a", "b"], ...].
func (sc *jsonScanner) merges() ([][2]string, error) {
	if err := sc.expect('['); err != nil {
		return nil, err
	}
	n := strings.Count(sc.s[sc.i:], ",") // about one a merge, or two a pair
	if sc.skipSpace(); sc.i < len(sc.s) && sc.s[sc.i] == '[' {
		n /= 2
	}
	merges := make([][2]string, 0, n+1)
	if !sc.next(']') {
		for {
			var m [2]string
			var err error
			if sc.next('[') {
				if m[0], err = sc.str(); err != nil {
					return nil, err
				}
				if err := sc.expect(','); err != nil {
					return nil, err
				}
				if m[1], err = sc.str(); err != nil {
					return nil, err
				}
				if err := sc.expect(']'); err != nil {
					return nil, fmt.Errorf("merge %d: want a pair: %w", len(merges), err)
				}
			} else {
				s, err := sc.str()
				if err != nil {
					return nil, err
				}
				a, b, ok := strings.Cut(s, " ")
				if !ok || a == "" || b == "" || strings.Contains(b, " ") {
					return nil, fmt.Errorf("merge %d %q: want two tokens separated by a space", len(merges), s)
				}
				m = [2]string{a, b}
			}
			merges = append(merges, m)
			if sc.next(']') {
				break
			}
			if err := sc.expect(','); err != nil {
				return nil, err
			}
		}
	}
	return merges, nil
}

// object reads a JSON object, calling field for each key with the scanner at the key's value, which field must
// read (with value, or a method that reads that kind of value).
func (sc *jsonScanner) object(field func(key string) error) error {
	if err := sc.expect('{'); err != nil {
		return err
	}
	if sc.next('}') {
		return nil
	}
	for {
		key, err := sc.str()
		if err != nil {
			return err
		}
		if err := sc.expect(':'); err != nil {
			return err
		}
		if err := field(key); err != nil {
			return err
		}
		if sc.next('}') {
			return nil
		}
		if err := sc.expect(','); err != nil {
			return err
		}
	}
}

// value skips one JSON value and returns its text, for encoding/json to decode when it is wanted. It checks only
// the nesting of brackets and strings.
func (sc *jsonScanner) value() (string, error) {
	sc.skipSpace()
	start, depth := sc.i, 0
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case '"':
			if _, err := sc.str(); err != nil {
				return "", err
			}
		case '{', '[':
			depth++
			sc.i++
		case '}', ']':
			if depth == 0 {
				return sc.s[start:sc.i], nil // the end of the enclosing value
			}
			depth--
			sc.i++
		case ',':
			if depth == 0 {
				return sc.s[start:sc.i], nil
			}
			sc.i++
		default:
			sc.i++
		}
		// A string, object or array at the top ends with its closing character.
		if depth == 0 && sc.i > start && (sc.s[sc.i-1] == '"' || sc.s[sc.i-1] == '}' || sc.s[sc.i-1] == ']') {
			return sc.s[start:sc.i], nil
		}
	}
	if depth > 0 {
		return "", sc.errorf("unterminated value")
	}
	return sc.s[start:sc.i], nil
}
