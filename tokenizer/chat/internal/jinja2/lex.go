package jinja2

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/llmtune/llmtune/tokenizer/chat/internal/pyvalue"
)

// This file is Jinja2's lexer (jinja2/lexer.py, 3.1) for the settings transformers uses: the default
// delimiters, trim_blocks and lstrip_blocks on, keep_trailing_newline off, newlines normalised to "\n".

type segKind int

const (
	segData  segKind = iota // template text, whitespace control applied
	segVar                  // {{ … }}
	segBlock                // {% … %}
)

type tokKind int

const (
	tokName tokKind = iota
	tokString
	tokInt
	tokFloat
	tokOp
)

type token struct {
	kind tokKind
	text string // a name, an operator, a string's decoded value, or a number as written
	line int
}

type segment struct {
	kind segKind
	data string  // segData
	toks []token // segVar, segBlock
	line int
}

func pyRstrip(s string) string { return strings.TrimRightFunc(s, pyvalue.IsSpace) }

// skipSpace returns the length of the run of Python whitespace at the start of s.
func skipSpace(s string) int { return len(s) - len(strings.TrimLeftFunc(s, pyvalue.IsSpace)) }

type lexer struct {
	src          string
	pos          int
	line         int
	lineStarting bool
	segs         []segment
}

func syntaxError(line int, format string, args ...any) error {
	return fmt.Errorf("chat: template syntax error on line %d: %s", line, fmt.Sprintf(format, args...))
}

// lex splits a template into data and tags as Jinja2's Lexer.tokeniter does.
func lex(src string) ([]segment, error) {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	src = strings.ReplaceAll(src, "\r", "\n")
	src = strings.TrimSuffix(src, "\n") // keep_trailing_newline=False drops one final newline
	l := &lexer{src: src, line: 1, lineStarting: true}
	for l.pos < len(l.src) {
		if err := l.root(); err != nil {
			return nil, err
		}
	}
	return l.segs, nil
}

func (l *lexer) addData(s string) {
	if s != "" {
		l.segs = append(l.segs, segment{kind: segData, data: s, line: l.line})
	}
	l.line += strings.Count(s, "\n")
}

// root finds the next tag and emits the data before it with the tag's whitespace control applied.
func (l *lexer) root() error {
	rest := l.src[l.pos:]
	i := -1
	for j := 0; j+1 < len(rest); j++ {
		if rest[j] == '{' && (rest[j+1] == '{' || rest[j+1] == '%' || rest[j+1] == '#') {
			i = j
			break
		}
	}
	if i < 0 {
		l.addData(rest)
		l.pos = len(l.src)
		return nil
	}
	text, kind := rest[:i], rest[i+1]
	after := i + 2
	sign := byte(0)
	if after < len(rest) && (rest[after] == '-' || rest[after] == '+') {
		sign = rest[after]
		after++
	}
	rawEnd := 0
	if kind == '%' {
		rawEnd = matchRawBegin(rest[after:])
	}
	switch {
	case sign == '-':
		stripped := pyRstrip(text)
		l.line += strings.Count(text[len(stripped):], "\n")
		text = stripped
	case sign != '+' && kind != '{':
		lpos := strings.LastIndexByte(text, '\n') + 1
		if (lpos > 0 || l.lineStarting) && lpos < len(text) && skipSpace(text[lpos:]) == len(text)-lpos {
			text = text[:lpos]
		}
	}
	l.addData(text)
	l.pos += after
	tagLine := l.line
	switch {
	case rawEnd > 0:
		l.line += strings.Count(rest[after:after+rawEnd], "\n")
		l.pos += rawEnd
		l.lineStarting = strings.HasSuffix(rest[:after+rawEnd], "\n")
		return l.raw(tagLine)
	case kind == '#':
		return l.comment(tagLine)
	}
	return l.tag(kind, tagLine)
}

// matchRawBegin matches `\s*raw\s*(?:-%}\s*|%})` at the start of s and returns its length, or 0.
func matchRawBegin(s string) int {
	i := skipSpace(s)
	if !strings.HasPrefix(s[i:], "raw") {
		return 0
	}
	i += 3
	i += skipSpace(s[i:])
	switch {
	case strings.HasPrefix(s[i:], "-%}"):
		i += 3
		return i + skipSpace(s[i:])
	case strings.HasPrefix(s[i:], "%}"):
		return i + 2
	}
	return 0
}

// blockEnd matches `\+%}|-%}\s*|%}\n?` (closer "%}" or "#}") at the start of s and returns its length, or 0.
func blockEnd(s, closer string) int {
	switch {
	case strings.HasPrefix(s, "+"+closer):
		return 3
	case strings.HasPrefix(s, "-"+closer):
		return 3 + skipSpace(s[3:])
	case strings.HasPrefix(s, closer):
		if strings.HasPrefix(s[2:], "\n") {
			return 3
		}
		return 2
	}
	return 0
}

func (l *lexer) comment(line int) error {
	rest := l.src[l.pos:]
	for j := 0; j < len(rest); j++ {
		if n := blockEnd(rest[j:], "#}"); n > 0 && (rest[j] == '#' || rest[j] == '-' || rest[j] == '+') {
			l.line += strings.Count(rest[:j+n], "\n")
			l.pos += j + n
			l.lineStarting = strings.HasSuffix(rest[:j+n], "\n")
			return nil
		}
	}
	return syntaxError(line, "missing end of comment tag")
}

// raw emits everything up to {% endraw %} as data.
func (l *lexer) raw(line int) error {
	rest := l.src[l.pos:]
	for j := 0; j+1 < len(rest); j++ {
		if rest[j] != '{' || rest[j+1] != '%' {
			continue
		}
		k := j + 2
		sign := byte(0)
		if k < len(rest) && (rest[k] == '-' || rest[k] == '+') {
			sign = rest[k]
			k++
		}
		k += skipSpace(rest[k:])
		if !strings.HasPrefix(rest[k:], "endraw") {
			continue
		}
		k += 6
		k += skipSpace(rest[k:])
		n := blockEnd(rest[k:], "%}")
		if n == 0 {
			continue
		}
		text := rest[:j]
		switch {
		case sign == '-':
			text = pyRstrip(text)
		case sign != '+':
			lpos := strings.LastIndexByte(text, '\n') + 1
			if (lpos > 0 || l.lineStarting) && lpos < len(text) && skipSpace(text[lpos:]) == len(text)-lpos {
				text = text[:lpos]
			}
		}
		l.addData(text)
		l.line += strings.Count(rest[len(text):k+n], "\n")
		l.pos += k + n
		l.lineStarting = strings.HasSuffix(rest[:k+n], "\n")
		return nil
	}
	return syntaxError(line, "missing end of raw directive")
}

var operators = []string{"**", "//", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"}

// tag lexes the tokens of a {{ }} or {% %} tag up to its end.
func (l *lexer) tag(kind byte, line int) error {
	seg := segment{kind: segBlock, line: line}
	if kind == '{' {
		seg.kind = segVar
	}
	var balance []byte
	for {
		rest := l.src[l.pos:]
		if rest == "" {
			return syntaxError(line, "unexpected end of template, expected end of tag")
		}
		if len(balance) == 0 {
			n := 0
			if kind == '{' {
				switch {
				case strings.HasPrefix(rest, "-}}"):
					n = 3 + skipSpace(rest[3:])
				case strings.HasPrefix(rest, "}}"):
					n = 2
				}
			} else {
				n = blockEnd(rest, "%}")
			}
			if n > 0 {
				l.line += strings.Count(rest[:n], "\n")
				l.pos += n
				l.lineStarting = strings.HasSuffix(rest[:n], "\n")
				l.segs = append(l.segs, seg)
				return nil
			}
		}
		if n := skipSpace(rest); n > 0 {
			l.line += strings.Count(rest[:n], "\n")
			l.pos += n
			continue
		}
		tok, n, err := l.next(rest)
		if err != nil {
			return err
		}
		if tok.kind == tokOp {
			switch tok.text {
			case "(", "[", "{":
				balance = append(balance, map[string]byte{"(": ')', "[": ']', "{": '}'}[tok.text])
			case ")", "]", "}":
				if len(balance) == 0 || balance[len(balance)-1] != tok.text[0] {
					return syntaxError(l.line, "unexpected %q", tok.text)
				}
				balance = balance[:len(balance)-1]
			}
		}
		seg.toks = append(seg.toks, tok)
		l.line += strings.Count(rest[:n], "\n")
		l.pos += n
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isNameStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// next lexes one token at the start of s (not whitespace, not a tag end).
func (l *lexer) next(s string) (token, int, error) {
	c := s[0]
	switch {
	case isDigit(c):
		i := 0
		for i < len(s) && (isDigit(s[i]) || s[i] == '_') {
			i++
		}
		isFloat := false
		if i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
			isFloat = true
			for i++; i < len(s) && (isDigit(s[i]) || s[i] == '_'); i++ {
			}
		}
		if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
			j := i + 1
			if j < len(s) && (s[j] == '+' || s[j] == '-') {
				j++
			}
			if j < len(s) && isDigit(s[j]) {
				isFloat = true
				for i = j; i < len(s) && isDigit(s[i]); i++ {
				}
			}
		}
		text := s[:i]
		if strings.Contains(text, "__") || strings.Contains(text, "_.") || strings.Contains(text, "._") || strings.HasSuffix(text, "_") ||
			!isFloat && len(text) > 1 && text[0] == '0' || i < len(s) && isNameStart(s[i]) {
			return token{}, 0, unsupported(l.line, "the number %q", s[:min(len(s), i+1)])
		}
		text = strings.ReplaceAll(text, "_", "")
		if isFloat {
			return token{kind: tokFloat, text: text, line: l.line}, i, nil
		}
		return token{kind: tokInt, text: text, line: l.line}, i, nil
	case isNameStart(c):
		i := 1
		for i < len(s) && (isNameStart(s[i]) || isDigit(s[i])) {
			i++
		}
		if i < len(s) && s[i] >= utf8.RuneSelf {
			return token{}, 0, unsupported(l.line, "a non-ASCII identifier")
		}
		return token{kind: tokName, text: s[:i], line: l.line}, i, nil
	case c == '\'' || c == '"':
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case c:
				v, err := unescape(s[1:i])
				if err != nil {
					return token{}, 0, syntaxError(l.line, "%v", err)
				}
				return token{kind: tokString, text: v, line: l.line}, i + 1, nil
			}
		}
		return token{}, 0, syntaxError(l.line, "unexpected char %q", string(c))
	}
	for _, op := range operators {
		if strings.HasPrefix(s, op) {
			return token{kind: tokOp, text: op, line: l.line}, len(op), nil
		}
	}
	r, _ := utf8.DecodeRuneInString(s)
	return token{}, 0, syntaxError(l.line, "unexpected char %q", string(r))
}

// unescape decodes a string literal's body as Jinja2 does:
// value.encode("ascii", "backslashreplace").decode("unicode-escape").
func unescape(body string) (string, error) {
	var ascii strings.Builder
	for _, r := range body {
		switch {
		case r < utf8.RuneSelf:
			ascii.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&ascii, `\x%02x`, r)
		case r < 0x10000:
			fmt.Fprintf(&ascii, `\u%04x`, r)
		default:
			fmt.Fprintf(&ascii, `\U%08x`, r)
		}
	}
	s := ascii.String()
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch c := s[i]; c {
		case '\n':
		case '\\', '\'', '"':
			b.WriteByte(c)
		case 'a':
			b.WriteByte('\a')
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
		case 'v':
			b.WriteByte('\v')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i
			for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			v, _ := strconv.ParseUint(s[i:j], 8, 32)
			b.WriteRune(rune(v))
			i = j - 1
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[c]
			if i+1+n > len(s) {
				return "", fmt.Errorf("truncated \\%cXX escape", c)
			}
			v, err := strconv.ParseUint(s[i+1:i+1+n], 16, 32)
			if err != nil || strings.ContainsAny(s[i+1:i+1+n], "+-") {
				return "", fmt.Errorf("truncated \\%cXX escape", c)
			}
			if v > utf8.MaxRune || v >= 0xd800 && v < 0xe000 {
				return "", fmt.Errorf("unsupported escape \\%c%s", c, s[i+1:i+1+n])
			}
			b.WriteRune(rune(v))
			i += n
		case 'N':
			return "", fmt.Errorf("unsupported escape \\N{…}")
		default:
			b.WriteByte('\\')
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}
