package tokenizer

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// This file turns the components of a tokenizer.json into the stages of a BPE. Each build function returns the
// stage, or an error that names what is not supported (wrapped in ErrUnsupported by the caller) or is malformed.

// errUnsupported marks a build error as a piece this package does not read, as opposed to a broken file.
type errUnsupported struct{ msg string }

func (e errUnsupported) Error() string { return e.msg }

func unsupported(format string, args ...any) error {
	return errUnsupported{fmt.Sprintf(format, args...)}
}

func isUnsupported(err error) bool {
	var u errUnsupported
	return errors.As(err, &u)
}

// buildNormalizer returns the normalizer of c, nil for none.
func buildNormalizer(c *hfComponent, path string) (normalizer, error) {
	if c == nil {
		return nil, nil
	}
	switch c.Type {
	case "NFC":
		return unicodeNorm{norm.NFC}, nil
	case "NFD":
		return unicodeNorm{norm.NFD}, nil
	case "NFKC":
		return unicodeNorm{norm.NFKC}, nil
	case "NFKD":
		return unicodeNorm{norm.NFKD}, nil
	case "Prepend":
		if c.Prepend == nil {
			return nil, fmt.Errorf("%s: Prepend without prepend", path)
		}
		return prependNorm{*c.Prepend}, nil
	case "Replace":
		m, err := compilePattern(c.Pattern)
		if err != nil {
			return nil, fmt.Errorf("%s: Replace %w", path, err)
		}
		if c.Content == nil {
			return nil, fmt.Errorf("%s: Replace without content", path)
		}
		return replaceNorm{m, *c.Content}, nil
	case "Strip":
		return stripNorm{c.StripLeft, c.StripRight}, nil
	case "Sequence":
		var seq normSequence
		for i, n := range c.Normalizers {
			nn, err := buildNormalizer(n, fmt.Sprintf("%s.normalizers[%d]", path, i))
			if err != nil {
				return nil, err
			}
			if nn != nil {
				seq = append(seq, nn)
			}
		}
		if len(seq) == 0 {
			return nil, nil
		}
		return seq, nil
	}
	return nil, unsupported("%s.type %q is not supported", path, c.Type)
}

// buildPreTokenizer returns the pre-tokenizers of c in order, a Sequence flattened; none for null.
func buildPreTokenizer(c *hfComponent, path string) ([]preTokenizer, error) {
	if c == nil {
		return nil, nil
	}
	switch c.Type {
	case "ByteLevel":
		// add_prefix_space missing is false, as this package always read it (Hugging Face requires it).
		return []preTokenizer{byteLevelPre{addPrefixSpace: c.AddPrefixSpace != nil && *c.AddPrefixSpace,
			useRegex: c.UseRegex == nil || *c.UseRegex}}, nil
	case "Split":
		m, err := compilePattern(c.Pattern)
		if err != nil {
			return nil, fmt.Errorf("%s: Split %w", path, err)
		}
		b, ok := behaviors[c.Behavior]
		if !ok {
			return nil, fmt.Errorf("%s: Split behavior %q", path, c.Behavior)
		}
		return []preTokenizer{splitPre{m, b, c.Invert}}, nil
	case "Digits":
		return []preTokenizer{digitsPre{c.IndividualDigits}}, nil
	case "Metaspace":
		r, err := oneRune(c.Replacement, "replacement")
		if err != nil {
			return nil, fmt.Errorf("%s: Metaspace %w", path, err)
		}
		scheme, err := metaspaceScheme(c)
		if err != nil {
			return nil, fmt.Errorf("%s: Metaspace %w", path, err)
		}
		return []preTokenizer{metaspacePre{r, scheme, c.Split == nil || *c.Split}}, nil
	case "Sequence":
		var seq []preTokenizer
		for i, p := range c.PreTokenizers {
			pp, err := buildPreTokenizer(p, fmt.Sprintf("%s.pretokenizers[%d]", path, i))
			if err != nil {
				return nil, err
			}
			seq = append(seq, pp...)
		}
		return seq, nil
	}
	return nil, unsupported("%s.type %q is not supported", path, c.Type)
}

// metaspaceScheme reads prepend_scheme (default always), and the legacy add_prefix_space: false, never.
func metaspaceScheme(c *hfComponent) (int, error) {
	scheme := prependAlways
	if c.PrependScheme != nil {
		s, ok := prependSchemes[*c.PrependScheme]
		if !ok {
			return 0, fmt.Errorf("prepend_scheme %q", *c.PrependScheme)
		}
		scheme = s
	}
	if c.AddPrefixSpace != nil && !*c.AddPrefixSpace {
		scheme = prependNever
	}
	return scheme, nil
}

func oneRune(s *string, name string) (rune, error) {
	if s == nil || utf8.RuneCountInString(*s) != 1 {
		return 0, fmt.Errorf("%s: want one character", name)
	}
	r, _ := utf8.DecodeRuneInString(*s)
	return r, nil
}

// buildDecoder returns the decoder of c, nil for none.
func buildDecoder(c *hfComponent, path string) (decoder, error) {
	if c == nil {
		return nil, nil
	}
	switch c.Type {
	case "ByteLevel":
		return byteLevelDec{}, nil
	case "Replace":
		m, err := compilePattern(c.Pattern)
		if err != nil {
			return nil, fmt.Errorf("%s: Replace %w", path, err)
		}
		if c.Content == nil {
			return nil, fmt.Errorf("%s: Replace without content", path)
		}
		return replaceDec{m, *c.Content}, nil
	case "ByteFallback":
		return byteFallbackDec{}, nil
	case "Fuse":
		return fuseDec{}, nil
	case "Strip":
		r, err := oneRune(c.Content, "content")
		if err != nil {
			return nil, fmt.Errorf("%s: Strip %w", path, err)
		}
		return stripDec{r, c.Start, c.Stop}, nil
	case "Metaspace":
		r, err := oneRune(c.Replacement, "replacement")
		if err != nil {
			return nil, fmt.Errorf("%s: Metaspace %w", path, err)
		}
		scheme, err := metaspaceScheme(c)
		if err != nil {
			return nil, fmt.Errorf("%s: Metaspace %w", path, err)
		}
		return metaspaceDec{r, scheme}, nil
	case "Sequence":
		var seq decSequence
		for i, d := range c.Decoders {
			dd, err := buildDecoder(d, fmt.Sprintf("%s.decoders[%d]", path, i))
			if err != nil {
				return nil, err
			}
			if dd != nil {
				seq = append(seq, dd)
			}
		}
		return seq, nil
	}
	return nil, unsupported("%s.type %q is not supported", path, c.Type)
}

// buildPostProcessor returns the special tokens that the post-processor c puts around a single text.
func buildPostProcessor(c *hfComponent, path string) (template, error) {
	if c == nil {
		return template{}, nil
	}
	switch c.Type {
	case "ByteLevel":
		return template{}, nil
	case "TemplateProcessing":
		var t template
		seen := false
		for i, p := range c.Single {
			switch {
			case p.Sequence != nil && p.Sequence.ID == "A" && !seen:
				seen = true
			case p.SpecialToken != nil:
				sp, ok := c.SpecialTokens[p.SpecialToken.ID]
				if !ok {
					return t, fmt.Errorf("%s: TemplateProcessing: special token %q is not in special_tokens", path,
						p.SpecialToken.ID)
				}
				if seen {
					t.after = append(t.after, sp.IDs...)
				} else {
					t.before = append(t.before, sp.IDs...)
				}
			default:
				return t, fmt.Errorf("%s: TemplateProcessing: single[%d]: want SpecialToken or Sequence A once", path, i)
			}
		}
		return t, nil
	case "BertProcessing", "RobertaProcessing":
		cls, okC := templateToken(c.Cls)
		sep, okS := templateToken(c.Sep)
		if !okC || !okS {
			return template{}, fmt.Errorf("%s: %s: want cls and sep as [token, id]", path, c.Type)
		}
		return template{[]int{cls}, []int{sep}}, nil
	case "Sequence":
		var t template
		for i, p := range c.Processors {
			pt, err := buildPostProcessor(p, fmt.Sprintf("%s.processors[%d]", path, i))
			if err != nil {
				return t, err
			}
			t = pt.wrap(t)
		}
		return t, nil
	}
	return template{}, unsupported("%s.type %q is not supported", path, c.Type)
}

// templateToken reads the id of [token, id].
func templateToken(v []any) (int, bool) {
	if len(v) != 2 {
		return 0, false
	}
	id, ok := v[1].(float64)
	return int(id), ok && id >= 0 && id == float64(int(id))
}
