package pipeline

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The normalizers of tokenizer.json ("normalizer"), applied to each stretch of text between the added tokens
// found in it (so that Prepend puts "▁" in front of each stretch, as in Hugging Face).

// Normalizer rewrites a stretch of text.
type Normalizer interface {
	Normalize(s string) string
}

// unicodeNorm is NFC, NFD, NFKC or NFKD as Hugging Face's tokenizers computes them, with the crate
// unicode-normalization-alignments 0.1.12: Unicode 9.0 tables, and every run of combining marks sorted whole.
// golang.org/x/text's norm (Unicode 15.0) gives the same for all but two kinds of text, which exact handles: text
// with one of the 244 characters that Unicode 10.0 to 15.0 added with a combining class or a decomposition
// (inert in Unicode 9.0, so Hugging Face leaves them where they are), and text with a run of more than 30
// combining marks, where x/text follows the Stream-Safe Text Format (UAX #15) and puts U+034F in the run.
type unicodeNorm struct {
	form norm.Form
}

func (u unicodeNorm) Normalize(s string) string {
	if u.form.IsNormalString(s) { // the common case, without allocating
		return s
	}
	if !needsExact(s) {
		return u.form.String(s)
	}
	var b strings.Builder
	for len(s) > 0 { // a byte that is not valid UTF-8 is a starter that nothing composes with: cut there
		i := 0
		for i < len(s) {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			i += size
		}
		b.WriteString(u.exact(s[:i]))
		if i < len(s) {
			b.WriteByte(s[i])
			i++
		}
		s = s[i:]
	}
	return b.String()
}

// maxNonStarters is the longest run of combining marks that x/text normalizes as Hugging Face does.
const maxNonStarters = 30

// needsExact reports whether s has an inert character or a run of more than maxNonStarters combining marks.
func needsExact(s string) bool {
	run := 0
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			run = 0
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if isInert(r) {
			return true
		}
		if norm.NFD.PropertiesString(s[i:i+size]).CCC() == 0 {
			run = 0
		} else if run++; run > maxNonStarters {
			return true
		}
		i += size
	}
	return false
}

// exact normalizes valid UTF-8 by the book: each character decomposed (inert ones kept as they are), each run of
// combining marks stably sorted by combining class, then, for NFC and NFKC, canonical composition.
func (u unicodeNorm) exact(s string) string {
	decompose := norm.NFD
	if u.form == norm.NFKC || u.form == norm.NFKD {
		decompose = norm.NFKD
	}
	type char struct {
		r   rune
		ccc uint8
	}
	var cs []char
	for _, r := range s {
		if isInert(r) {
			cs = append(cs, char{r, 0})
			continue
		}
		for _, d := range decompose.String(string(r)) {
			cs = append(cs, char{d, norm.NFD.PropertiesString(string(d)).CCC()})
		}
	}
	for i := 0; i < len(cs); { // canonical ordering
		j := i
		for j < len(cs) && cs[j].ccc != 0 {
			j++
		}
		slices.SortStableFunc(cs[i:j], func(a, b char) int { return int(a.ccc) - int(b.ccc) })
		i = j + 1
	}
	if u.form == norm.NFC || u.form == norm.NFKC { // canonical composition
		out := cs[:0]
		starter := -1    // index in out of the last starter
		last := uint8(0) // combining class of the last character after it, 0 for none
		for _, c := range cs {
			if starter >= 0 && (len(out)-1 == starter || last != 0 && last < c.ccc) {
				if p, ok := compose(out[starter].r, c.r); ok {
					out[starter].r = p
					continue
				}
			}
			if c.ccc == 0 {
				starter, last = len(out), 0
			} else {
				last = c.ccc
			}
			out = append(out, c)
		}
		cs = out
	}
	var b strings.Builder
	for _, c := range cs {
		b.WriteRune(c.r)
	}
	return b.String()
}

// Hangul syllables compose algorithmically (Unicode 3.12).
const (
	hangulS, hangulL, hangulV, hangulT = 0xAC00, 0x1100, 0x1161, 0x11A7
	hangulLCount, hangulVCount         = 19, 21
	hangulTCount                       = 28
	hangulNCount                       = hangulVCount * hangulTCount
	hangulSCount                       = hangulLCount * hangulNCount
)

// compose returns the primary composite of a and b.
func compose(a, b rune) (rune, bool) {
	switch {
	case a >= hangulL && a < hangulL+hangulLCount && b >= hangulV && b < hangulV+hangulVCount:
		return hangulS + ((a-hangulL)*hangulVCount+b-hangulV)*hangulTCount, true
	case a >= hangulS && a < hangulS+hangulSCount && (a-hangulS)%hangulTCount == 0 && b > hangulT &&
		b < hangulT+hangulTCount:
		return a + b - hangulT, true
	}
	compositesOnce.Do(findComposites)
	p, ok := composites[[2]rune{a, b}]
	return p, ok
}

var (
	composites     map[[2]rune]rune // the pairs that compose, from x/text's tables, less the inert characters
	compositesOnce sync.Once
)

// findComposites fills composites: each character that NFC leaves as it is and whose canonical decomposition has
// two or more characters is the composite of its decomposition's NFC less the last character, and that last
// character. A tenth of a second, the first time a text needs exact.
func findComposites() {
	composites = make(map[[2]rune]rune)
	for p := rune(0xC0); p <= unicode.MaxRune; p++ {
		if p >= 0xD800 && p < 0xE000 || p >= hangulS && p < hangulS+hangulSCount || isInert(p) {
			continue
		}
		if norm.NFD.PropertiesString(string(p)).Decomposition() == nil || norm.NFC.String(string(p)) != string(p) {
			continue
		}
		d := []rune(norm.NFD.String(string(p)))
		if len(d) < 2 {
			continue
		}
		a := []rune(norm.NFC.String(string(d[:len(d)-1])))
		b := d[len(d)-1]
		if len(a) == 1 && norm.NFC.String(string(a[0])+string(b)) == string(p) {
			composites[[2]rune{a[0], b}] = p
		}
	}
}

// isInert reports whether r is one of the characters that Unicode 10.0 to 15.0 added with a combining class or a
// (canonical or compatibility) decomposition: unassigned in Unicode 9.0, so normalization leaves them alone in
// Hugging Face.
func isInert(r rune) bool {
	if r < 0x7FD {
		return false
	}
	i, ok := slices.BinarySearchFunc(inert, r, func(e [2]rune, r rune) int { return cmp.Compare(e[1], r) })
	return ok || i < len(inert) && inert[i][0] <= r
}

// inert lists those characters' ranges. It was made by taking the code points that Unicode 9.0 leaves unassigned
// (the npm package @unicode/unicode-9.0.0) and that x/text's tables give a combining class, a decomposition or a
// composition with the character before.
var inert = [][2]rune{
	{0x07FD, 0x07FD}, {0x0898, 0x089F}, {0x08CA, 0x08D3}, {0x09FE, 0x09FE}, {0x0C3C, 0x0C3C}, {0x0D3B, 0x0D3C},
	{0x0EBA, 0x0EBA}, {0x1715, 0x1715}, {0x1ABF, 0x1ACE}, {0x1DF6, 0x1DFA}, {0x32FF, 0x32FF}, {0xA7F2, 0xA7F4},
	{0xA82C, 0xA82C}, {0xAB69, 0xAB69}, {0x10781, 0x10785}, {0x10787, 0x107B0}, {0x107B2, 0x107BA}, {0x10D24, 0x10D27},
	{0x10EAB, 0x10EAC}, {0x10EFD, 0x10EFF}, {0x10F46, 0x10F50}, {0x10F82, 0x10F85}, {0x11070, 0x11070},
	{0x1133B, 0x1133B}, {0x1145E, 0x1145E}, {0x11839, 0x1183A}, {0x11930, 0x11930}, {0x11938, 0x11938},
	{0x1193D, 0x1193E}, {0x11943, 0x11943}, {0x119E0, 0x119E0}, {0x11A34, 0x11A34}, {0x11A47, 0x11A47},
	{0x11A99, 0x11A99}, {0x11D42, 0x11D42}, {0x11D44, 0x11D45}, {0x11D97, 0x11D97}, {0x11F41, 0x11F42},
	{0x16FF0, 0x16FF1}, {0x1E030, 0x1E06D}, {0x1E08F, 0x1E08F}, {0x1E130, 0x1E136}, {0x1E2AE, 0x1E2AE},
	{0x1E2EC, 0x1E2EF}, {0x1E4EC, 0x1E4EF}, {0x1F16C, 0x1F16C}, {0x1FBF0, 0x1FBF9},
}

// prependNorm is Prepend: a prefix in front of text that is not empty.
type prependNorm struct{ prefix string }

func (p prependNorm) Normalize(s string) string {
	if s == "" {
		return s
	}
	return p.prefix + s
}

// replaceNorm is Replace: every match of a pattern becomes content.
type replaceNorm struct {
	pattern matcher
	content string
}

func (r replaceNorm) Normalize(s string) string { return replaceAll(r.pattern, s, r.content) }

// stripNorm is Strip: white space (Unicode White_Space, as Rust's char::is_whitespace) off the left, the right,
// or both ends.
type stripNorm struct{ left, right bool }

func (st stripNorm) Normalize(s string) string {
	if st.left {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
	}
	if st.right {
		s = strings.TrimRightFunc(s, unicode.IsSpace)
	}
	return s
}

// normSequence is Sequence: each normalizer in turn.
type normSequence []Normalizer

func (q normSequence) Normalize(s string) string {
	for _, n := range q {
		s = n.Normalize(s)
	}
	return s
}
