package pyvalue

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ardanlabs/jinja"
)

// This file holds Python's semantics for the values a template sees: str() and repr(), truthiness,
// equality and ordering, json.dumps, and the str methods templates call.

// ErrUnsupported is wrapped by the error for a construct or a value that this module does not render
// exactly as Jinja2 does (package chat's ErrUnsupported is this error).
var ErrUnsupported = errors.New("unsupported chat template construct")

// Error is an exception a template raised other than through raise_exception; Kind is the Python class.
type Error struct {
	Kind, Msg string
}

func (e *Error) Error() string { return "chat: template raised " + e.Kind + ": " + e.Msg }

func typeErr(format string, args ...any) error {
	return &Error{Kind: "TypeError", Msg: fmt.Sprintf(format, args...)}
}

func undefinedErr(format string, args ...any) error {
	return &Error{Kind: "UndefinedError", Msg: fmt.Sprintf(format, args...)}
}

// notExact is returned where this package cannot be sure to match Python (it never guesses).
func notExact(format string, args ...any) error {
	return fmt.Errorf("chat: %w: %s", ErrUnsupported, fmt.Sprintf(format, args...))
}

const markupPrefix = "\x00markup"
const methodPrefix = "\x00method:"

// markup is markupsafe's Markup, the result of the safe filter: a string that escapes what is added to it.
func markup(s string) jinja.Value {
	return jinja.NewCallable(markupPrefix, func([]jinja.Value, map[string]jinja.Value) (jinja.Value, error) {
		return jinja.NewString(s), nil
	})
}

func isMarkup(v jinja.Value) bool { return v.IsCallable() && v.AsCallable().Name == markupPrefix }

const tuplePrefix = "\x00tuple"

// tuple is a Python tuple (a literal (a, b) or a pair of dict.items()); a list for everything but
// printing, equality with lists and concatenation.
func tuple(items []jinja.Value) jinja.Value {
	return jinja.NewCallable(tuplePrefix, func([]jinja.Value, map[string]jinja.Value) (jinja.Value, error) {
		return jinja.NewList(items), nil
	})
}

func isTuple(v jinja.Value) bool { return v.IsCallable() && v.AsCallable().Name == tuplePrefix }

// seq returns the items of a list or a tuple.
func seq(v jinja.Value) ([]jinja.Value, bool) {
	switch {
	case v.IsList():
		return v.AsList().Items, true
	case isTuple(v):
		l, _ := v.AsCallable().Fn(nil, nil)
		return l.AsList().Items, true
	}
	return nil, false
}

// isStr reports whether v is a Python str (Markup included) and returns it.
func IsStr(v jinja.Value) (string, bool) {
	switch {
	case v.IsString():
		return v.AsString(), true
	case isMarkup(v):
		s, _ := v.AsCallable().Fn(nil, nil)
		return s.AsString(), true
	}
	return "", false
}

func isFunc(v jinja.Value) bool { return v.IsCallable() && !isMarkup(v) && !isTuple(v) }

func escapeHTML(s string) string {
	return strings.NewReplacer("&", "&amp;", ">", "&gt;", "<", "&lt;", "'", "&#39;", `"`, "&#34;").Replace(s)
}

func typeName(v jinja.Value) string {
	switch {
	case v.IsUndefined():
		return "Undefined"
	case v.IsNone():
		return "NoneType"
	case v.IsBool():
		return "bool"
	case v.IsInt():
		return "int"
	case v.IsFloat():
		return "float"
	case v.IsString():
		return "str"
	case isMarkup(v):
		return "Markup"
	case isTuple(v):
		return "tuple"
	case v.IsList():
		return "list"
	case v.IsDict():
		return "dict"
	}
	return "function"
}

func truthy(v jinja.Value) bool {
	if s, ok := IsStr(v); ok {
		return s != ""
	}
	if items, ok := seq(v); ok {
		return len(items) > 0
	}
	return v.IsTruthy()
}

// pyStr is str(v), with Jinja2's Undefined printing as "".
func pyStr(v jinja.Value) (string, error) {
	if s, ok := IsStr(v); ok {
		return s, nil
	}
	switch {
	case v.IsUndefined():
		return "", nil
	case v.IsList(), v.IsDict(), isTuple(v):
		return pyRepr(v)
	case v.IsCallable():
		return "", notExact("printing a function")
	}
	return pyRepr(v)
}

func pyRepr(v jinja.Value) (string, error) {
	if s, ok := IsStr(v); ok {
		if isMarkup(v) {
			r := reprString(s)
			return "Markup(" + r + ")", nil
		}
		return reprString(s), nil
	}
	switch {
	case v.IsUndefined():
		return "Undefined", nil
	case v.IsNone():
		return "None", nil
	case v.IsBool():
		if v.AsBool() {
			return "True", nil
		}
		return "False", nil
	case v.IsInt():
		return strconv.FormatInt(v.AsInt(), 10), nil
	case v.IsFloat():
		return floatRepr(v.AsFloat()), nil
	case v.IsList(), isTuple(v):
		items, _ := seq(v)
		var parts []string
		for _, it := range items {
			s, err := pyRepr(it)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		switch {
		case v.IsList():
			return "[" + strings.Join(parts, ", ") + "]", nil
		case len(parts) == 1:
			return "(" + parts[0] + ",)", nil
		}
		return "(" + strings.Join(parts, ", ") + ")", nil
	case v.IsDict():
		d := v.AsDict()
		var parts []string
		for _, k := range d.Keys {
			s, err := pyRepr(d.Data[k])
			if err != nil {
				return "", err
			}
			parts = append(parts, reprString(k)+": "+s)
		}
		return "{" + strings.Join(parts, ", ") + "}", nil
	}
	return "", notExact("printing a function")
}

// reprString is Python's repr of a str.
func reprString(s string) string {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x7f || unicode.IsPrint(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x10000:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// floatRepr is Python's repr of a float: the shortest digits that round-trip, in positional notation for
// decimal exponents from -4 to 15 (always with a fractional part), otherwise as d.ddde±XX.
func floatRepr(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	sign := ""
	if math.Signbit(f) {
		sign, f = "-", -f
	}
	if f == 0 {
		return sign + "0.0"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	digits := strings.Replace(mant, ".", "", 1)
	if exp < -4 || exp >= 16 {
		m := digits[:1]
		if len(digits) > 1 {
			m += "." + digits[1:]
		}
		es := fmt.Sprintf("%+03d", exp)
		return sign + m + "e" + es
	}
	if exp < 0 {
		return sign + "0." + strings.Repeat("0", -exp-1) + digits
	}
	if len(digits) <= exp+1 {
		return sign + digits + strings.Repeat("0", exp+1-len(digits)) + ".0"
	}
	return sign + digits[:exp+1] + "." + digits[exp+1:]
}

// number returns v as a Python number (bool counts as int).
func number(v jinja.Value) (i int64, f float64, isFloat, ok bool) {
	switch {
	case v.IsBool():
		if v.AsBool() {
			return 1, 1, false, true
		}
		return 0, 0, false, true
	case v.IsInt():
		return v.AsInt(), float64(v.AsInt()), false, true
	case v.IsFloat():
		return 0, v.AsFloat(), true, true
	}
	return 0, 0, false, false
}

// pyEqual is Python's ==, with Jinja2's Undefined equal only to Undefined.
func pyEqual(a, b jinja.Value) bool {
	if ai, af, aF, ok := number(a); ok {
		if bi, bf, bF, ok := number(b); ok {
			if aF || bF {
				return af == bf
			}
			return ai == bi
		}
		return false
	}
	if as, ok := IsStr(a); ok {
		bs, ok := IsStr(b)
		return ok && as == bs
	}
	switch {
	case a.IsUndefined():
		return b.IsUndefined()
	case a.IsNone():
		return b.IsNone()
	case a.IsList() || isTuple(a):
		al, _ := seq(a)
		bl, ok := seq(b)
		if !ok || a.IsList() != b.IsList() || len(al) != len(bl) {
			return false
		}
		for i, x := range al {
			if !pyEqual(x, bl[i]) {
				return false
			}
		}
		return true
	case a.IsDict():
		if !b.IsDict() || a.AsDict().Len() != b.AsDict().Len() {
			return false
		}
		for _, k := range a.AsDict().Keys {
			bv, ok := b.AsDict().Get(k)
			if !ok || !pyEqual(a.AsDict().Data[k], bv) {
				return false
			}
		}
		return true
	}
	return false
}

// pyCompare orders a and b as Python's < does, or fails as Python would.
func pyCompare(a, b jinja.Value) (int, error) {
	if a.IsUndefined() || b.IsUndefined() {
		return 0, undefinedErr("comparison with an undefined value")
	}
	if ai, af, aF, ok := number(a); ok {
		if bi, bf, bF, ok := number(b); ok {
			if aF || bF {
				if math.IsNaN(af) || math.IsNaN(bf) {
					return 0, notExact("comparing NaN")
				}
				return cmpOrdered(af, bf), nil
			}
			return cmpOrdered(ai, bi), nil
		}
	}
	if as, ok := IsStr(a); ok {
		if bs, ok := IsStr(b); ok {
			return strings.Compare(as, bs), nil
		}
	}
	if al, ok := seq(a); ok && a.IsList() == b.IsList() {
		bl, ok := seq(b)
		if !ok {
			return 0, typeErr("'<' not supported between instances of '%s' and '%s'", typeName(a), typeName(b))
		}
		for i := 0; i < len(al) && i < len(bl); i++ {
			if pyEqual(al[i], bl[i]) {
				continue
			}
			return pyCompare(al[i], bl[i])
		}
		return cmpOrdered(len(al), len(bl)), nil
	}
	return 0, typeErr("'<' not supported between instances of '%s' and '%s'", typeName(a), typeName(b))
}

func cmpOrdered[T int | int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// pyContains is Python's `item in container`.
func pyContains(container, item jinja.Value) (bool, error) {
	if s, ok := IsStr(container); ok {
		sub, ok := IsStr(item)
		if !ok {
			return false, typeErr("'in <string>' requires string as left operand, not %s", typeName(item))
		}
		return strings.Contains(s, sub), nil
	}
	switch {
	case container.IsList() || isTuple(container):
		items, _ := seq(container)
		for _, x := range items {
			if pyEqual(x, item) {
				return true, nil
			}
		}
		return false, nil
	case container.IsDict():
		if item.IsList() || item.IsDict() {
			return false, typeErr("unhashable type: '%s'", typeName(item))
		}
		if isTuple(item) {
			return false, notExact("a tuple as a dict key")
		}
		k, ok := IsStr(item)
		return ok && container.AsDict().Has(k), nil
	case container.IsUndefined():
		return false, nil
	}
	return false, typeErr("argument of type '%s' is not iterable", typeName(container))
}

// IsSpace reports whether Python's str.isspace (and so re's \s, str.strip and str.split) counts r as
// whitespace.
func IsSpace(r rune) bool {
	switch {
	case r >= '\t' && r <= '\r', r >= 0x1c && r <= 0x20, r == 0x85, r == 0xa0, r == 0x1680,
		r >= 0x2000 && r <= 0x200a, r == 0x2028, r == 0x2029, r == 0x202f, r == 0x205f, r == 0x3000:
		return true
	}
	return false
}

// Case mapping: Go's per-rune mappings equal Python's below U+0250 except for these characters, whose
// Python mapping has several characters; beyond that, this package does not claim to agree.
func caseMappable(s string) error {
	for _, r := range s {
		if r >= 0x250 || r == 'ß' || r == 0x130 || r == 0x149 || r == 0x1f0 {
			return notExact("changing the case of %q", r)
		}
	}
	return nil
}

func pyLower(s string) (string, error) {
	if err := caseMappable(s); err != nil {
		return "", err
	}
	return strings.ToLower(s), nil
}

func pyUpper(s string) (string, error) {
	if err := caseMappable(s); err != nil {
		return "", err
	}
	return strings.ToUpper(s), nil
}

func pyCapitalize(s string) (string, error) {
	if err := caseMappable(s); err != nil {
		return "", err
	}
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return "", nil
	}
	return string(unicode.ToTitle(r)) + strings.ToLower(s[n:]), nil
}

// pySplit is str.split(sep, maxsplit); sep nil splits on runs of whitespace.
func pySplit(s string, sep *string, maxsplit int) ([]string, error) {
	if sep != nil {
		if *sep == "" {
			return nil, &Error{Kind: "ValueError", Msg: "empty separator"}
		}
		if maxsplit < 0 {
			return strings.Split(s, *sep), nil
		}
		return strings.SplitN(s, *sep, maxsplit+1), nil
	}
	var out []string
	for {
		s = strings.TrimLeftFunc(s, IsSpace)
		if s == "" {
			return out, nil
		}
		if maxsplit == len(out) {
			return append(out, s), nil
		}
		i := strings.IndexFunc(s, IsSpace)
		if i < 0 {
			return append(out, s), nil
		}
		out = append(out, s[:i])
		s = s[i:]
	}
}

func pyRsplit(s string, sep *string, maxsplit int) ([]string, error) {
	if maxsplit < 0 {
		return pySplit(s, sep, -1)
	}
	if sep != nil {
		if *sep == "" {
			return nil, &Error{Kind: "ValueError", Msg: "empty separator"}
		}
		var out []string
		for len(out) < maxsplit {
			i := strings.LastIndex(s, *sep)
			if i < 0 {
				break
			}
			out = append(out, s[i+len(*sep):])
			s = s[:i]
		}
		out = append(out, s)
		slices.Reverse(out)
		return out, nil
	}
	var out []string
	for {
		s = strings.TrimRightFunc(s, IsSpace)
		if s == "" {
			break
		}
		if maxsplit == len(out) {
			out = append(out, s)
			break
		}
		i := strings.LastIndexFunc(s, IsSpace)
		if i < 0 {
			out = append(out, s)
			break
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		out = append(out, s[i+n:])
		s = s[:i]
	}
	slices.Reverse(out)
	return out, nil
}

func pyStrip(s string, chars jinja.Value, left, right bool) (string, error) {
	var f func(rune) bool
	switch c, ok := IsStr(chars); {
	case chars.IsNone() || chars.IsUndefined():
		f = IsSpace
	case ok:
		f = func(r rune) bool { return strings.ContainsRune(c, r) }
	default:
		return "", typeErr("strip arg must be None or str")
	}
	if left {
		s = strings.TrimLeftFunc(s, f)
	}
	if right {
		s = strings.TrimRightFunc(s, f)
	}
	return s, nil
}

// runeIndex converts a byte offset of s to a code-point offset (-1 stays -1).
func runeIndex(s string, i int) int64 {
	if i < 0 {
		return -1
	}
	return int64(utf8.RuneCountInString(s[:i]))
}
