package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The files of a checkpoint directory, as Hugging Face's save_pretrained names them.
const (
	// ModelFile holds every tensor of an unsharded checkpoint.
	ModelFile = "model.safetensors"
	// IndexFile maps each tensor of a sharded checkpoint to its shard.
	IndexFile = "model.safetensors.index.json"
	// DefaultMaxShardBytes is save_pretrained's default max_shard_size, "5GB" (decimal:
	// huggingface_hub's parse_size_to_int reads GB as 10⁹ bytes).
	DefaultMaxShardBytes int64 = 5_000_000_000
)

// maxIndexSize bounds the index file that OpenDir reads into memory, in bytes. The index
// of a 405B-parameter model is about 100 KB.
const maxIndexSize = 100_000_000

// shardName returns the name of shard i (from 0) of n, as huggingface_hub names it:
// "model-00001-of-00002.safetensors".
func shardName(i, n int) string {
	return fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, n)
}

// isShardName reports whether name is a shard name as save_pretrained writes it:
// "model-" five digits "-of-" five digits ".safetensors". WriteDir removes such files
// when they do not belong to the checkpoint it wrote, and no others.
func isShardName(name string) bool {
	rest, ok := strings.CutPrefix(name, "model-")
	if !ok {
		return false
	}
	rest, ok = strings.CutSuffix(rest, ".safetensors")
	if !ok || len(rest) != 5+4+5 || rest[5:9] != "-of-" {
		return false
	}
	for _, c := range rest[:5] + rest[9:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// checkShardFile checks a file name of the index's weight_map: a plain name of a file in
// the checkpoint directory that ends in ".safetensors". Paths (with '/' or '\\'), "." and
// ".." are refused, so an index cannot make OpenDir read a file outside its directory;
// huggingface_hub refuses absolute names and ".." for the same reason.
func checkShardFile(name string) error {
	switch {
	case name == "":
		return errors.New("empty shard file name")
	case strings.ContainsAny(name, `/\`) || name == "." || name == "..":
		return fmt.Errorf("shard file %q is a path, want a file name in the checkpoint directory", name)
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("shard file %q contains a NUL byte", name)
	case !strings.HasSuffix(name, ".safetensors"):
		return fmt.Errorf("shard file %q does not end in .safetensors", name)
	}
	return nil
}

// parseIndex decodes a model.safetensors.index.json: one JSON object with a "weight_map"
// object that maps each tensor name (once) to the name of its shard file, which
// checkShardFile accepts. The weight map must not be empty. A "metadata" member, when
// present, must be an object; its contents ({"total_size": ...} and, from recent
// transformers, "total_parameters") are not checked, and neither are other members, as
// transformers reads only those two. Only spaces may follow the object. Errors about one
// entry are *tensorError.
func parseIndex(b []byte) (map[string]string, error) {
	if !utf8.Valid(b) {
		return nil, errors.New("invalid index JSON: not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := wantDelim(dec, '{', "the index"); err != nil {
		return nil, err
	}
	var weightMap map[string]string
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, indexJSONError(err)
		}
		key := tok.(string) // the decoder returns object keys as strings
		if seen[key] {
			return nil, fmt.Errorf("invalid index JSON: key %q appears twice", key)
		}
		seen[key] = true
		switch key {
		case "weight_map":
			if weightMap, err = parseWeightMap(dec); err != nil {
				return nil, err
			}
		case "metadata":
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, fmt.Errorf("metadata: %w", indexJSONError(err))
			}
			var m map[string]json.RawMessage
			if raw[0] != '{' || json.Unmarshal(raw, &m) != nil {
				return nil, errors.New(`"metadata" is not a JSON object`)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, fmt.Errorf("%s: %w", displayName(key), indexJSONError(err))
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, indexJSONError(err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, indexJSONError(err)
		}
		if str, ok := tok.(string); ok {
			tok = strconv.Quote(str) // printable, whatever the file holds
		}
		return nil, fmt.Errorf("invalid index JSON: %v after the index object, want only spaces", tok)
	}
	switch {
	case weightMap == nil:
		return nil, errors.New(`no "weight_map"`)
	case len(weightMap) == 0:
		return nil, errors.New(`"weight_map" is empty`)
	}
	return weightMap, nil
}

// parseWeightMap decodes the weight_map object from dec.
func parseWeightMap(dec *json.Decoder) (map[string]string, error) {
	if err := wantDelim(dec, '{', `"weight_map"`); err != nil {
		return nil, err
	}
	m := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, indexJSONError(err)
		}
		name := tok.(string)
		if _, dup := m[name]; dup {
			return nil, &tensorError{name, errors.New("invalid index JSON: the tensor appears twice in the weight_map")}
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, &tensorError{name, indexJSONError(err)}
		}
		file, ok := tok.(string)
		if !ok {
			return nil, &tensorError{name, fmt.Errorf("weight_map value %s, want a file name string", tokenString(tok))}
		}
		if err := checkShardFile(file); err != nil {
			return nil, &tensorError{name, err}
		}
		m[name] = file
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, indexJSONError(err)
	}
	return m, nil
}

// wantDelim reads the next token of dec, which must open a JSON object; what names it.
func wantDelim(dec *json.Decoder, d json.Delim, what string) error {
	tok, err := dec.Token()
	if err != nil {
		return indexJSONError(err)
	}
	if tok != d {
		return fmt.Errorf("invalid index JSON: %s is %v, want an object", what, tokenString(tok))
	}
	return nil
}

// tokenString describes a JSON token in an error.
func tokenString(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		return "'" + t.String() + "'"
	case string:
		return strconv.Quote(t)
	case nil:
		return "null"
	}
	return fmt.Sprint(tok)
}

// indexJSONError describes a JSON decoding error of the index, with its byte position when
// known.
func indexJSONError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid index JSON at byte %d: %w", se.Offset, err)
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errors.New("invalid index JSON: unexpected end of file")
	}
	return fmt.Errorf("invalid index JSON: %w", err)
}

// buildIndex returns the index file of a sharded checkpoint byte for byte as transformers'
// save_pretrained writes it: json.dumps(index, indent=2, sort_keys=True) + "\n", where
// index = {"metadata": {"total_parameters": params, "total_size": size}, "weight_map":
// {name: file}}. names must be sorted; file(name) gives each one's shard.
func buildIndex(names []string, file func(string) string, params, size int64) []byte {
	b := []byte("{\n  \"metadata\": {\n")
	b = fmt.Appendf(b, "    \"total_parameters\": %d,\n    \"total_size\": %d\n", params, size)
	b = append(b, "  },\n  \"weight_map\": {"...)
	for i, name := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n    "...)
		b = appendPyString(b, name)
		b = append(b, ": "...)
		b = appendPyString(b, file(name))
	}
	if len(names) > 0 {
		b = append(b, "\n  "...)
	}
	return append(b, "}\n}\n"...)
}

// appendPyString appends s as Python's json.dumps writes a string by default
// (ensure_ascii=True): '"' and '\\' escaped, \n \r \t \b \f by name, and every other
// character outside ' '..'~' (control characters, DEL, non-ASCII) as \uXXXX in lower-case
// hex, with UTF-16 surrogate pairs above U+FFFF. s must be valid UTF-8.
func appendPyString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	u := func(b []byte, r rune) []byte {
		return append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
	}
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r == '\t':
			b = append(b, `\t`...)
		case r == '\b':
			b = append(b, `\b`...)
		case r == '\f':
			b = append(b, `\f`...)
		case r < 0x20 || r > 0x7e:
			if r > 0xffff {
				r -= 0x10000
				b = u(b, 0xd800+r>>10)
				b = u(b, 0xdc00+r&0x3ff)
			} else {
				b = u(b, r)
			}
		default:
			b = append(b, byte(r))
		}
	}
	return append(b, '"')
}

// splitShards assigns tensors of the given byte sizes, in order, to shards as
// huggingface_hub's split_state_dict_into_shards_factory does: a tensor joins the open
// shard unless that would take it over max bytes, in which case the open shard is closed
// and a new one begun; a tensor bigger than max gets a shard of its own at once, while
// the open shard stays open (so it lands before the tensors around it, which share one
// shard). max <= 0 means no limit: one shard. It returns the indices of each shard's
// tensors; no shard is empty, and no tensors give one empty shard.
func splitShards(sizes []int64, max int64) [][]int {
	if max <= 0 {
		all := make([]int, len(sizes))
		for i := range all {
			all[i] = i
		}
		return [][]int{all}
	}
	var (
		shards  [][]int
		open    []int
		openLen int64
	)
	for i, size := range sizes {
		if size > max {
			shards = append(shards, []int{i})
			continue
		}
		if openLen+size > max {
			shards = append(shards, open)
			open, openLen = nil, 0
		}
		open = append(open, i)
		openLen += size
	}
	if len(open) > 0 || len(shards) == 0 {
		shards = append(shards, open)
	}
	return shards
}
