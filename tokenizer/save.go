package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
)

// Save writes the tokenizer to path as a Hugging Face tokenizer.json that Load and Hugging Face tokenizers read
// back to the same ids. GPT-2-style byte-level BPE (vocab.json and merges.txt, Train's) is written as a BPE model,
// ByteLevel pre-tokenizer without prefix space, ByteLevel decoder, and merges as "a b" strings, which every
// version of tokenizers reads; a tokenizer read from any other tokenizer.json is written as the file it was read
// from, byte for byte. The error names path.
func (t *BPE) Save(path string) error {
	data := t.source
	if data == nil {
		data = t.marshalJSON()
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("save tokenizer %s: %w", path, err)
	}
	return nil
}

// marshalJSON returns tokenizer.json, with the vocabulary in id order and one merge a line.
func (t *BPE) marshalJSON() []byte {
	var b bytes.Buffer
	str := func(s string) {
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(s) // a string always encodes
		b.Truncate(b.Len() - 1)
	}
	b.WriteString("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [")
	for i, a := range t.added.tokens {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "\n    {\"id\": %d, \"content\": ", a.ID)
		str(a.Content)
		fmt.Fprintf(&b, ", \"single_word\": %t, \"lstrip\": %t, \"rstrip\": %t, \"normalized\": %t, "+
			"\"special\": %t}", a.SingleWord, a.LStrip, a.RStrip, a.Normalized, a.Special)
	}
	b.WriteString("\n  ],\n  \"normalizer\": null,\n" +
		`  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, ` +
		`"use_regex": true},` + "\n" +
		`  "post_processor": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, ` +
		`"use_regex": true},` + "\n" +
		`  "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},` +
		"\n" +
		"  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n" +
		"    \"continuing_subword_prefix\": \"\",\n    \"end_of_word_suffix\": \"\",\n    \"fuse_unk\": false,\n" +
		"    \"byte_fallback\": false,\n")
	fmt.Fprintf(&b, "    \"ignore_merges\": %t,\n    \"vocab\": {", t.ignoreMerges)
	name := make([]string, len(t.names)) // id → vocabulary key; t.names has added tokens' content instead
	ids := make([]int, 0, len(t.vocab))
	for tok, id := range t.vocab {
		name[id] = tok
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n      ")
		str(name[id])
		fmt.Fprintf(&b, ": %d", id)
	}
	b.WriteString("\n    },\n    \"merges\": [")
	for i, m := range t.mergeList {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n      ")
		str(name[m[0]] + " " + name[m[1]])
	}
	b.WriteString("\n    ]\n  }\n}\n")
	return b.Bytes()
}
