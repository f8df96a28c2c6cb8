package pipeline

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func component(t *testing.T, s string) *Component {
	t.Helper()
	if s == "null" {
		return nil
	}
	var c Component
	require.NoError(t, json.Unmarshal([]byte(s), &c))
	return &c
}

func TestPreTokenizerName(t *testing.T) {
	bl := `{"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}`
	for s, want := range map[string]string{
		`null`: "",
		`{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}`: "gpt2",
		`{"type": "ByteLevel", "add_prefix_space": true, "use_regex": true}`:  "other",
		bl: "bytes",
		`{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": ` + jsonString(llama3Pattern) + `}, "behavior": "Isolated"}, ` + bl + `]}`:      "llama3",
		`{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": ` + jsonString(qwen2Pattern) + `}, "behavior": "Isolated"}, ` + bl + `]}`:       "qwen2",
		`{"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true}, {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}]}`:  "digits+gpt2",
		`{"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": false}, {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}]}`: "other",
		`{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}`:                                                                         "metaspace",
		`{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "never", "split": false}`:                                                                         "other",
		`{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true}`:                                                                         "other",
	} {
		p, err := BuildPreTokenizer(component(t, s), "pre_tokenizer")
		require.NoError(t, err, s)
		assert.Equal(t, want, p.Name(), s)
	}
}

func TestNormalizerName(t *testing.T) {
	for s, want := range map[string]string{
		`null`:             "",
		`{"type": "NFC"}`:  "nfc",
		`{"type": "NFKC"}`: "other",
		`{"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}`: "metaspace",
		`{"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": "x"}, "content": "▁"}]}`: "other",
	} {
		n, err := BuildNormalizer(component(t, s), "normalizer")
		require.NoError(t, err, s)
		assert.Equal(t, want, NormalizerName(n), s)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
