package pyvalue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/ardanlabs/jinja"
)

// DumpOptions are json.dumps' arguments as transformers' tojson passes them: ensure_ascii, indent (nil
// for None), separators and sort_keys.
type DumpOptions struct {
	EnsureASCII     bool
	Indent          *string
	ItemSep, KeySep string
	SortKeys        bool
}

// Dumps is Python's json.dumps.
func Dumps(v jinja.Value, o DumpOptions) (string, error) {
	var b strings.Builder
	err := dumpValue(&b, v, o, 0)
	return b.String(), err
}

func dumpValue(b *strings.Builder, v jinja.Value, o DumpOptions, level int) error {
	if s, ok := IsStr(v); ok {
		dumpString(b, s, o.EnsureASCII)
		return nil
	}
	newline := func(l int) {
		if o.Indent != nil {
			b.WriteByte('\n')
			b.WriteString(strings.Repeat(*o.Indent, l))
		}
	}
	switch {
	case v.IsNone():
		b.WriteString("null")
	case v.IsBool():
		b.WriteString(strconv.FormatBool(v.AsBool()))
	case v.IsInt():
		b.WriteString(strconv.FormatInt(v.AsInt(), 10))
	case v.IsFloat():
		f := floatRepr(v.AsFloat())
		switch f {
		case "inf":
			f = "Infinity"
		case "-inf":
			f = "-Infinity"
		case "nan":
			f = "NaN"
		}
		b.WriteString(f)
	case v.IsList() || isTuple(v):
		items, _ := seq(v)
		if len(items) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('[')
		for i, it := range items {
			if i > 0 {
				b.WriteString(o.ItemSep)
			}
			newline(level + 1)
			if err := dumpValue(b, it, o, level+1); err != nil {
				return err
			}
		}
		newline(level)
		b.WriteByte(']')
	case v.IsDict():
		d := v.AsDict()
		if d.Len() == 0 {
			b.WriteString("{}")
			return nil
		}
		keys := d.OrderedKeys()
		if o.SortKeys {
			slices.Sort(keys)
		}
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(o.ItemSep)
			}
			newline(level + 1)
			dumpString(b, k, o.EnsureASCII)
			b.WriteString(o.KeySep)
			if err := dumpValue(b, d.Data[k], o, level+1); err != nil {
				return err
			}
		}
		newline(level)
		b.WriteByte('}')
	default:
		return typeErr("Object of type %s is not JSON serializable", typeName(v))
	}
	return nil
}

func dumpString(b *strings.Builder, s string, ensureASCII bool) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case r < 0x20:
				fmt.Fprintf(b, `\u%04x`, r)
			case ensureASCII && r > 0x7e:
				if r >= 0x10000 {
					r -= 0x10000
					fmt.Fprintf(b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
				} else {
					fmt.Fprintf(b, `\u%04x`, r)
				}
			default:
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

// FromJSON decodes JSON into template values as Python's json.loads would give them: objects keep their
// key order, numbers with a fraction or exponent are floats, others ints.
func FromJSON(data []byte) (jinja.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return jinja.Value{}, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return jinja.Value{}, errors.New("trailing data after JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (jinja.Value, error) {
	t, err := dec.Token()
	if err != nil {
		return jinja.Value{}, err
	}
	switch t := t.(type) {
	case nil:
		return jinja.None(), nil
	case bool:
		return jinja.NewBool(t), nil
	case string:
		return jinja.NewString(t), nil
	case json.Number:
		s := string(t)
		if !strings.ContainsAny(s, ".eE") {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return jinja.Value{}, fmt.Errorf("integer %s does not fit in 64 bits", s)
			}
			return jinja.NewInt(n), nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return jinja.Value{}, fmt.Errorf("number %s: %w", s, err)
		}
		return jinja.NewFloat(f), nil
	case json.Delim:
		switch t {
		case '[':
			var items []jinja.Value
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return jinja.Value{}, err
				}
				items = append(items, v)
			}
			_, err := dec.Token()
			return jinja.NewList(items), err
		case '{':
			d := jinja.NewDict()
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return jinja.Value{}, err
				}
				v, err := decodeValue(dec)
				if err != nil {
					return jinja.Value{}, err
				}
				d.AsDict().Set(k.(string), v)
			}
			_, err := dec.Token()
			return d, err
		}
	}
	return jinja.Value{}, fmt.Errorf("unexpected JSON token %v", t)
}
