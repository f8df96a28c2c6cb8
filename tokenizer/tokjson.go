package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/llmtune/llmtune/tokenizer/pipeline"
)

// hfTokenizer is the part of a Hugging Face tokenizer.json that this package reads.
type hfTokenizer struct {
	AddedTokens   []hfAddedToken
	Normalizer    *pipeline.Component
	PreTokenizer  *pipeline.Component
	PostProcessor *hfPostProcessor
	Decoder       *pipeline.Component
	Model         struct {
		Type                    string
		Vocab                   map[string]int
		Merges                  [][2]string
		Dropout                 *float64
		UnkToken                *string
		ContinuingSubwordPrefix string
		EndOfWordSuffix         string
		FuseUnk                 bool
		ByteFallback            bool
		IgnoreMerges            bool
	}
}

type hfAddedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	Special    bool   `json:"special"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized *bool  `json:"normalized"` // missing: true unless special, as AddedToken::from
}

// hfPostProcessor is a post-processor of tokenizer.json: the fields of all the types this package reads, by their
// JSON names.
type hfPostProcessor struct {
	Type          string               `json:"type"`
	Single        []hfTemplatePiece    `json:"single"`         // TemplateProcessing
	SpecialTokens map[string]hfSpecial `json:"special_tokens"` // TemplateProcessing
	Sep           []any                `json:"sep"`            // BertProcessing, RobertaProcessing: [token, id]
	Cls           []any                `json:"cls"`
	Processors    []*hfPostProcessor   `json:"processors"` // Sequence
}

// hfTemplatePiece is {"SpecialToken": {"id": name}} or {"Sequence": {"id": "A"}}.
type hfTemplatePiece struct {
	SpecialToken *struct {
		ID string `json:"id"`
	} `json:"SpecialToken"`
	Sequence *struct {
		ID string `json:"id"`
	} `json:"Sequence"`
}

type hfSpecial struct {
	IDs []int `json:"ids"`
}

// parseTokenizerJSON reads tokenizer.json. It walks the top-level object and model itself, so that each part is
// decoded once, straight into its Go value (the vocabulary into a map sized for it); keys match exactly, the last
// of a repeated key wins, and the parts this package does not use are skipped.
func parseTokenizerJSON(data []byte) (*hfTokenizer, error) {
	var f hfTokenizer
	m := &f.Model
	fields := map[string]any{"type": &m.Type, "dropout": &m.Dropout, // the small ones of model
		"continuing_subword_prefix": &m.ContinuingSubwordPrefix, "end_of_word_suffix": &m.EndOfWordSuffix,
		"byte_fallback": &m.ByteFallback, "ignore_merges": &m.IgnoreMerges, "unk_token": &m.UnkToken,
		"fuse_unk": &m.FuseUnk}
	r := newJSONReader(data)
	err := r.object("", func(key string) error {
		switch key {
		case "added_tokens":
			return r.value(key, &f.AddedTokens)
		case "normalizer":
			return r.value(key, &f.Normalizer)
		case "pre_tokenizer":
			return r.value(key, &f.PreTokenizer)
		case "post_processor":
			return r.value(key, &f.PostProcessor)
		case "decoder":
			return r.value(key, &f.Decoder)
		case "model":
			return r.object("model", func(key string) error {
				switch key {
				case "vocab":
					var err error
					m.Vocab, err = r.vocab("model.vocab")
					return err
				case "merges":
					var merges []any // strings and pairs, even mixed
					err := r.value("model.merges", &merges)
					if err == nil {
						m.Merges, err = toMerges(merges)
					}
					return err
				}
				return r.value("model."+key, fields[key]) // nil, which skips the value, for other keys
			})
		}
		return r.value(key, nil)
	})
	if err == nil {
		err = r.end()
	}
	if err != nil {
		return nil, err
	}
	return &f, nil
}

// toMerges converts model.merges, decoded into []any, to pairs of tokens. Each merge is "a b" (tokenizers before
// 0.20) or ["a", "b"]; null is an error, as in Hugging Face tokenizers.
func toMerges(merges []any) ([][2]string, error) {
	if merges == nil {
		return nil, errors.New("model.merges: got null, want an array")
	}
	out := make([][2]string, len(merges))
	for i, m := range merges {
		ok := false
		switch m := m.(type) {
		case string:
			var a, b string
			a, b, ok = strings.Cut(m, " ")
			if !ok || a == "" || b == "" || strings.Contains(b, " ") {
				return nil, fmt.Errorf("model.merges: merge %d %q: want two tokens separated by a space", i, m)
			}
			out[i] = [2]string{a, b}
		case []any:
			if len(m) == 2 {
				out[i][0], ok = m[0].(string)
				if ok {
					out[i][1], ok = m[1].(string)
				}
			}
		}
		if !ok {
			return nil, fmt.Errorf(`model.merges: merge %d: want "a b" or a pair ["a", "b"]`, i)
		}
	}
	return out, nil
}

// parseVocab reads vocab.json: a JSON object that maps token strings to ids.
func parseVocab(data []byte) (map[string]int, error) {
	r := newJSONReader(data)
	vocab, err := r.vocab("")
	if err == nil {
		err = r.end()
	}
	if err != nil {
		return nil, err
	}
	return vocab, nil
}

// jsonReader reads a JSON document part by part with encoding/json, and words its errors in the file's terms
// rather than Go's, naming the part (a path such as "model.vocab") and the offset of bad syntax.
type jsonReader struct {
	data []byte
	dec  *json.Decoder
}

func newJSONReader(data []byte) *jsonReader {
	return &jsonReader{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
}

// object reads an object, calling field for each key with the reader at the key's value, which field must read
// (with value, vocab or object). path names the object in errors.
func (r *jsonReader) object(path string, field func(key string) error) error {
	tok, err := r.dec.Token()
	if err != nil {
		return r.error(path, err)
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("%swant '{', got %s", prefix(path), describe(tok))
	}
	for r.dec.More() {
		tok, err := r.dec.Token()
		if err != nil {
			return r.error(path, err)
		}
		if err := field(tok.(string)); err != nil { // the decoder returns only strings as keys
			return err
		}
	}
	if _, err := r.dec.Token(); err != nil { // the closing '}', as More said
		return r.error(path, err)
	}
	return nil
}

// value decodes the next value into v, or skips it when v is nil. path names the value in errors.
func (r *jsonReader) value(path string, v any) error {
	if v == nil {
		v = new(json.RawMessage)
	}
	if err := r.dec.Decode(v); err != nil {
		return r.error(path, err)
	}
	return nil
}

// vocab reads an object of token ids into a map sized for it; null is an error, as in Hugging Face tokenizers.
func (r *jsonReader) vocab(path string) (map[string]int, error) {
	vocab := make(map[string]int, bytes.Count(r.data, []byte(`":`))) // about one a token: merges have none
	if err := r.value(path, &vocab); err != nil {
		return nil, err
	}
	if vocab == nil {
		return nil, fmt.Errorf("%sgot null, want an object of token ids", prefix(path))
	}
	return vocab, nil
}

// end checks that only space is left.
func (r *jsonReader) end() error {
	if _, err := r.dec.Token(); err != io.EOF {
		return fmt.Errorf("offset %d: unexpected data after the top-level value", r.dec.InputOffset())
	}
	return nil
}

// error rewords err from reading the value at path.
func (r *jsonReader) error(path string, err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		// The decoder's offsets are not the file's: a check of the whole file finds the place.
		if errors.As(json.Unmarshal(r.data, new(json.RawMessage)), &syntax) {
			return fmt.Errorf("%soffset %d: %w", prefix(path), syntax.Offset, syntax)
		}
	case errors.As(err, &typ):
		if typ.Field != "" {
			path = strings.TrimPrefix(path+"."+typ.Field, ".")
		}
		return fmt.Errorf("%sgot a JSON %s, want %s", prefix(path), typ.Value, jsonKind(typ.Type))
	}
	return fmt.Errorf("%s%w", prefix(path), err)
}

// prefix returns "path: ", or "" for the top level.
func prefix(path string) string {
	if path == "" {
		return ""
	}
	return path + ": "
}

// describe spells a JSON token as the file does.
func describe(tok json.Token) string {
	if d, ok := tok.(json.Delim); ok {
		return fmt.Sprintf("'%c'", rune(d))
	}
	s, _ := json.Marshal(tok) // a string, number, bool or nil always encodes
	return string(s)
}

// jsonKind says what JSON value encoding/json decodes into a Go value of type t.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return t.String()
}
