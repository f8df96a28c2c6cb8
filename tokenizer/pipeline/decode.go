package pipeline

import (
	"strings"
	"unicode/utf8"
)

// The decoders of tokenizer.json ("decoder"): each rewrites the list of token strings, as Hugging Face's
// Decoder.decode_chain does, and the tokenizer joins what the last one leaves. Where Hugging Face turns bytes that
// are not valid UTF-8 into U+FFFD (ByteLevel, ByteFallback), these keep the bytes, so that a tokenizer's
// Decode(Encode(s)) == s holds for every string and a caller that streams tokens can hold back an incomplete
// character.

// Decoder rewrites token strings.
type Decoder interface {
	Decode(tokens []string) []string
}

// byteLevelDec is ByteLevel: each token spelled in GPT-2's byte alphabet becomes its bytes (a token with another
// character stays as it is), and all are joined into one.
type byteLevelDec struct{}

func (byteLevelDec) Decode(tokens []string) []string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteString(byteLevelBytes(t))
	}
	return []string{b.String()}
}

// IsByteLevel reports whether d is the ByteLevel decoder alone, which joins the bytes that the tokens spell
// (RawBytes; a token with a character outside the alphabet stays as it is): a caller can keep each token's bytes
// and concatenate them instead.
func IsByteLevel(d Decoder) bool {
	_, ok := d.(byteLevelDec)
	return ok
}

// byteLevelBytes returns the bytes that token spells in GPT-2's byte alphabet, or token itself when it has a
// character outside the alphabet.
func byteLevelBytes(token string) string {
	if raw, ok := RawBytes(token); ok {
		return raw
	}
	return token
}

// replaceDec is Replace: every match of a pattern in each token becomes content.
type replaceDec struct {
	pattern matcher
	content string
}

func (r replaceDec) Decode(tokens []string) []string {
	for i, t := range tokens {
		tokens[i] = replaceAll(r.pattern, t, r.content)
	}
	return tokens
}

// byteFallbackDec is ByteFallback: each run of <0xNN> tokens becomes the bytes they name, one token.
type byteFallbackDec struct{}

func (byteFallbackDec) Decode(tokens []string) []string {
	out := tokens[:0] // never longer than tokens: a run of byte tokens becomes one
	var run []byte
	for _, t := range tokens {
		if b, ok := fallbackByte(t); ok {
			run = append(run, b)
			continue
		}
		if len(run) > 0 {
			out, run = append(out, string(run)), run[:0]
		}
		out = append(out, t)
	}
	if len(run) > 0 {
		out = append(out, string(run))
	}
	return out
}

// fallbackByte returns the byte of a <0xNN> token.
func fallbackByte(t string) (byte, bool) {
	if len(t) != 6 || !strings.HasPrefix(t, "<0x") || t[5] != '>' {
		return 0, false
	}
	hi, okH := hexDigit(t[3])
	lo, okL := hexDigit(t[4])
	return hi<<4 | lo, okH && okL
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// fuseDec is Fuse: all tokens joined into one.
type fuseDec struct{}

func (fuseDec) Decode(tokens []string) []string { return []string{strings.Join(tokens, "")} }

// stripDec is Strip: up to start occurrences of content off the start of each token and up to stop off its end.
type stripDec struct {
	content     rune
	start, stop int
}

func (st stripDec) Decode(tokens []string) []string {
	for i, t := range tokens {
		for n := 0; n < st.start; n++ {
			r, size := utf8.DecodeRuneInString(t)
			if size == 0 || r != st.content || r == utf8.RuneError && size == 1 {
				break
			}
			t = t[size:]
		}
		for n := 0; n < st.stop; n++ {
			r, size := utf8.DecodeLastRuneInString(t)
			if size == 0 || r != st.content || r == utf8.RuneError && size == 1 {
				break
			}
			t = t[:len(t)-size]
		}
		tokens[i] = t
	}
	return tokens
}

// metaspaceDec is Metaspace: the replacement ("▁") becomes a space, except in the first token, where it goes
// unless prepend_scheme is never.
type metaspaceDec struct {
	replacement rune
	scheme      int
}

func (m metaspaceDec) Decode(tokens []string) []string {
	rep := string(m.replacement)
	for i, t := range tokens {
		if i == 0 && m.scheme != prependNever {
			tokens[i] = strings.ReplaceAll(t, rep, "")
		} else {
			tokens[i] = strings.ReplaceAll(t, rep, " ")
		}
	}
	return tokens
}

// decSequence is Sequence: each decoder in turn.
type decSequence []Decoder

func (q decSequence) Decode(tokens []string) []string {
	for _, d := range q {
		tokens = d.Decode(tokens)
	}
	return tokens
}
