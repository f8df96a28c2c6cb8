package pipeline

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// This file turns the components of a tokenizer.json into the stages. Each Build function returns the stage, or
// an error that names what is not supported (wrapping ErrUnsupported) or is malformed.

// Component is a normalizer, pre-tokenizer or decoder of tokenizer.json: the fields of all the types this package
// reads, by their JSON names.
type Component struct {
	Type string `json:"type"`

	AddPrefixSpace   *bool    `json:"add_prefix_space"`  // ByteLevel, legacy Metaspace
	UseRegex         *bool    `json:"use_regex"`         // ByteLevel
	Pattern          *Pattern `json:"pattern"`           // Split, Replace
	Behavior         string   `json:"behavior"`          // Split
	Invert           bool     `json:"invert"`            // Split
	Content          *string  `json:"content"`           // Replace, Strip (decoder)
	Prepend          *string  `json:"prepend"`           // Prepend
	Replacement      *string  `json:"replacement"`       // Metaspace
	PrependScheme    *string  `json:"prepend_scheme"`    // Metaspace
	Split            *bool    `json:"split"`             // Metaspace
	IndividualDigits bool     `json:"individual_digits"` // Digits
	Start            int      `json:"start"`             // Strip (decoder)
	Stop             int      `json:"stop"`              // Strip (decoder)
	StripLeft        bool     `json:"strip_left"`        // Strip (normalizer)
	StripRight       bool     `json:"strip_right"`       // Strip (normalizer)

	Normalizers   []*Component `json:"normalizers"` // the Sequences
	PreTokenizers []*Component `json:"pretokenizers"`
	Decoders      []*Component `json:"decoders"`
}

// Pattern is {"String": s} or {"Regex": r}.
type Pattern struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

// ErrUnsupported is wrapped by a Build function's error for a well-formed component that this package does not
// read, as opposed to a broken one. Package tokenizer's ErrUnsupported is this error.
var ErrUnsupported = errors.New("unsupported tokenizer")

// unsupportedError is an error that says only its message and wraps ErrUnsupported.
type unsupportedError struct{ msg string }

func (e unsupportedError) Error() string { return e.msg }

func (e unsupportedError) Unwrap() error { return ErrUnsupported }

// Unsupported returns an error with the message of format and args that wraps ErrUnsupported, for a part of a
// tokenizer that its reader does not support.
func Unsupported(format string, args ...any) error {
	return unsupportedError{fmt.Sprintf(format, args...)}
}

// BuildNormalizer returns the normalizer of c, nil for none; path names c in errors ("normalizer").
func BuildNormalizer(c *Component, path string) (Normalizer, error) {
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
			nn, err := BuildNormalizer(n, fmt.Sprintf("%s.normalizers[%d]", path, i))
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
	return nil, Unsupported("%s.type %q is not supported", path, c.Type)
}

// BuildPreTokenizer returns the pre-tokenizer of c made ready to run (see PreTokenizer); path names c in errors
// ("pre_tokenizer"). A chain with two ByteLevel pre-tokenizers is not supported.
func BuildPreTokenizer(c *Component, path string) (PreTokenizer, error) {
	steps, err := buildSteps(c, path)
	if err != nil {
		return PreTokenizer{}, err
	}
	byteLevels := 0
	for _, p := range steps {
		if _, ok := p.(byteLevelPre); ok {
			byteLevels++
		}
	}
	if byteLevels > 1 {
		return PreTokenizer{}, Unsupported("%s has two ByteLevel pre-tokenizers", path)
	}
	return prepare(steps), nil
}

// buildSteps returns the pre-tokenizers of c in order, a Sequence flattened; none for null.
func buildSteps(c *Component, path string) ([]preTokenizer, error) {
	if c == nil {
		return nil, nil
	}
	switch c.Type {
	case "ByteLevel":
		// add_prefix_space missing is false, as package tokenizer always read it (Hugging Face requires it).
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
			pp, err := buildSteps(p, fmt.Sprintf("%s.pretokenizers[%d]", path, i))
			if err != nil {
				return nil, err
			}
			seq = append(seq, pp...)
		}
		return seq, nil
	}
	return nil, Unsupported("%s.type %q is not supported", path, c.Type)
}

// metaspaceScheme reads prepend_scheme (default always), and the legacy add_prefix_space: false, never.
func metaspaceScheme(c *Component) (int, error) {
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

// BuildDecoder returns the decoder of c, nil for none; path names c in errors ("decoder").
func BuildDecoder(c *Component, path string) (Decoder, error) {
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
			dd, err := BuildDecoder(d, fmt.Sprintf("%s.decoders[%d]", path, i))
			if err != nil {
				return nil, err
			}
			if dd != nil {
				seq = append(seq, dd)
			}
		}
		return seq, nil
	}
	return nil, Unsupported("%s.type %q is not supported", path, c.Type)
}
