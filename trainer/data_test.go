package trainer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// byteTok is a byte-level fake tokenizer: one id per byte, EOS = 256.
type byteTok struct{}

func (byteTok) Encode(s string) []int {
	ids := make([]int, len(s))
	for i := range len(s) {
		ids[i] = int(s[i])
	}
	return ids
}

func (byteTok) EOS() int { return 256 }

func (byteTok) Decode(ids []int) string {
	b := make([]byte, 0, len(ids))
	for _, id := range ids {
		if id < 256 {
			b = append(b, byte(id))
		}
	}
	return string(b)
}

const eos = 256

// writeData writes content to name in a fresh temporary directory and returns its path.
func writeData(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

// dataConfig returns the data settings of a dataset in format f.
func dataConfig(f Format, template string) DataConfig {
	return DataConfig{Format: f, Template: template, MaxSeqLen: 64, ShuffleBuffer: 1}
}

// examples collects every example of d, failing on an error.
func examples(t *testing.T, d *Dataset) []Example {
	t.Helper()
	var out []Example
	for ex, err := range d.Examples() {
		require.NoError(t, err)
		out = append(out, ex)
	}
	return out
}

func TestExamples(t *testing.T) {
	tests := []struct {
		name, file, content string
		format              Format
		template            string
		want                []Example
	}{
		{"txt paragraphs", "a.txt", "\ufeffone\ntwo\n\n\n  \nthree\r\nfour\r\n\nfive", FormatText, "", []Example{
			{Line: 1, Completion: "one\ntwo"}, {Line: 6, Completion: "three\nfour"}, {Line: 9, Completion: "five"},
		}},
		{"jsonl text", "a.jsonl", "{\"text\": \"hi\", \"id\": 7}\n\n{\"text\": \"a\\nb\"}\n", FormatText, "", []Example{
			{Line: 1, Completion: "hi"}, {Line: 3, Completion: "a\nb"},
		}},
		{"prompt_completion default template", "a.jsonl", `{"prompt": "Q? ", "completion": "A."}`, FormatPromptCompletion, "", []Example{
			{Line: 1, Prompt: "Q? ", Completion: "A.", Reference: "A."},
		}},
		{"prompt_completion template", "a.jsonl", `{"completion": "A.", "prompt": "Q?"}`, FormatPromptCompletion, "<{prompt}> {completion}!", []Example{
			{Line: 1, Prompt: "<Q?> ", Completion: "A.!", Reference: "A."},
		}},
		{"source_target", "a.jsonl", `{"source": "cat {target}", "target": "gato"}` + "\n" + `{"source": "dog", "target": "perro"}`,
			FormatSourceTarget, "English: {source}\nSpanish: {target}", []Example{
				{Line: 1, Prompt: "English: cat {target}\nSpanish: ", Completion: "gato", Reference: "gato"},
				{Line: 2, Prompt: "English: dog\nSpanish: ", Completion: "perro", Reference: "perro"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewDataset(writeData(t, tt.file, tt.content), dataConfig(tt.format, tt.template), byteTok{})
			require.NoError(t, err)
			assert.Equal(t, tt.want, examples(t, d), "Examples of %q", tt.content)
		})
	}
}

func TestDataErrors(t *testing.T) {
	long := `{"text": "` + strings.Repeat("x", MaxLineBytes) + `"}`
	tests := []struct {
		name, file, content string
		format              Format
		want                string // the whole error after the file path
	}{
		{"missing field", "x.jsonl", "{\"source\": \"a\", \"target\": \"b\"}\n\n{\"source\": \"a\", \"tgt\": \"b\"}\n", FormatSourceTarget,
			`:3: missing field "target" (data.format source_target wants "source" and "target"; the line has "source", "tgt")`},
		{"invalid JSON", "x.jsonl", "{\"text\": \"a\"}\n{\"text\": \"a\",}\n", FormatText, `:2: invalid JSON: invalid character '}' looking for beginning of object key string`},
		{"wrong type", "x.jsonl", `{"text": 3}`, FormatText, `:1: field "text" is a number, want a string`},
		{"null field", "x.jsonl", `{"prompt": null, "completion": "b"}`, FormatPromptCompletion, `:1: field "prompt" is null, want a string`},
		{"not an object", "x.jsonl", `["text"]`, FormatText, `:1: want a JSON object, got an array`},
		{"not JSON", "x.jsonl", "hello", FormatText, `:1: invalid JSON: invalid character 'h' looking for beginning of value`},
		{"empty jsonl", "x.jsonl", "", FormatText, `: empty file: no examples`},
		{"blank txt", "x.txt", "\n \n\t\n", FormatText, `: empty file: no examples`},
		{"line too long", "x.jsonl", "{\"text\": \"a\"}\n" + long, FormatText, `:2: line longer than 16 MiB`},
		{"paragraph too long", "x.txt", "a\n\n" + strings.Repeat(strings.Repeat("y", 1<<20)+"\n", 17), FormatText,
			`:3: paragraph longer than 16 MiB: separate examples with blank lines`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeData(t, tt.file, tt.content)
			template := ""
			if tt.format == FormatSourceTarget {
				template = "{source} = {target}"
			}
			d, err := NewDataset(path, dataConfig(tt.format, template), byteTok{})
			require.NoError(t, err)
			var got error
			for _, err := range d.Examples() {
				if err != nil {
					got = err
				}
			}
			require.Error(t, got, "Examples of %s", tt.name)
			assert.Equal(t, path+tt.want, got.Error())
			// The Loader reports the same error.
			l, err := d.Loader(LoaderConfig{BatchSize: 2}, DataState{})
			if err == nil {
				defer l.Close()
				for err == nil {
					_, err = l.Next()
				}
			}
			assert.EqualError(t, err, path+tt.want, "Loader.Next")
		})
	}
}

func TestNewDatasetErrors(t *testing.T) {
	dir := t.TempDir()
	jsonl := filepath.Join(dir, "a.jsonl")
	require.NoError(t, os.WriteFile(jsonl, []byte(`{"text":"a"}`), 0o644))
	tests := []struct {
		path     string
		format   Format
		template string
		want     string
	}{
		{filepath.Join(dir, "a.csv"), FormatText, "", "want a .txt or .jsonl file"},
		{filepath.Join(dir, "a.txt"), FormatSourceTarget, "{source}{target}", "data.format must be text"},
		{filepath.Join(dir, "missing.jsonl"), FormatText, "", "no such file"},
		{jsonl, FormatSourceTarget, "", "template: is required for format source_target"},
		{jsonl, FormatText, "{text}", "template: applies only to formats prompt_completion and source_target"},
	}
	for _, tt := range tests {
		_, err := NewDataset(tt.path, dataConfig(tt.format, tt.template), byteTok{})
		assert.ErrorContains(t, err, tt.want, "NewDataset(%q, %s, %q)", tt.path, tt.format, tt.template)
	}
}

func TestParseTemplate(t *testing.T) {
	tests := []struct {
		format   Format
		template string
		want     string // error substring, "" for none
	}{
		{FormatSourceTarget, "English: {source}\nSpanish: {target}", ""},
		{FormatSourceTarget, "{target} <- {source}", "must put {source} before {target}"},
		{FormatSourceTarget, "{source} {source} {target}", "exactly once, found 2"},
		{FormatSourceTarget, "{source}", "{target} exactly once, found 0"},
		{FormatSourceTarget, "{prompt} {source} {target}", "{prompt} is not a placeholder of format source_target"},
		{FormatPromptCompletion, "", ""},
		{FormatPromptCompletion, "{prompt}\n{completion}\n", ""},
		{FormatPromptCompletion, "{source} {target}", "{source} is not a placeholder"},
		{FormatText, "", ""},
	}
	for _, tt := range tests {
		_, err := parseTemplate(tt.format, tt.template)
		if tt.want == "" {
			assert.NoError(t, err, "parseTemplate(%s, %q)", tt.format, tt.template)
		} else {
			assert.ErrorContains(t, err, tt.want, "parseTemplate(%s, %q)", tt.format, tt.template)
		}
	}
}

// TestValSetSplit checks that val_set_size holds out exactly the right number of
// examples, deterministically for a seed, disjoint from training, and differently for
// another seed.
func TestValSetSplit(t *testing.T) {
	var b strings.Builder
	for i := range 200 {
		fmt.Fprintf(&b, "{\"text\": \"example %d\"}\n", i)
	}
	path := writeData(t, "all.jsonl", b.String())
	split := func(seed uint64, size float64) (train, eval []string) {
		r := DefaultRecipe()
		r.Seed, r.Data.Train, r.Data.ValSetSize = seed, path, size
		tr, ev, err := OpenData(&r, byteTok{})
		require.NoError(t, err)
		require.NotNil(t, ev)
		for _, ex := range examples(t, tr) {
			train = append(train, ex.Completion)
		}
		for _, ex := range examples(t, ev) {
			eval = append(eval, ex.Completion)
		}
		return train, eval
	}
	tests := []struct {
		size     float64
		wantEval int
	}{{0.05, 10}, {0.051, 11}, {0.5, 100}, {1, 1}, {17, 17}, {199, 199}}
	for _, tt := range tests {
		train, eval := split(42, tt.size)
		assert.Len(t, eval, tt.wantEval, "val_set_size %g: eval examples", tt.size)
		assert.Len(t, train, 200-tt.wantEval, "val_set_size %g: train examples", tt.size)
		all := append(slices.Clone(train), eval...)
		slices.Sort(all)
		assert.Len(t, slices.Compact(all), 200, "val_set_size %g: train and eval overlap or miss examples", tt.size)
		r := DefaultRecipe()
		r.Seed, r.Data.Train, r.Data.ValSetSize = 42, path, tt.size
		_, ev, err := OpenData(&r, byteTok{})
		require.NoError(t, err)
		s, err := ev.ScanEpoch(r.EvalLoaderConfig(), 0)
		require.NoError(t, err)
		assert.Equal(t, tt.wantEval, s.Examples, "val_set_size %g: examples the eval Loader reads", tt.size)
		train2, eval2 := split(42, tt.size)
		assert.Equal(t, eval, eval2, "val_set_size %g: split differs for the same seed", tt.size)
		assert.Equal(t, train, train2)
	}
	_, eval1 := split(1, 20)
	_, eval2 := split(2, 20)
	assert.NotEqual(t, eval1, eval2, "the split is the same for seeds 1 and 2")

	r := DefaultRecipe()
	r.Data.Train, r.Data.ValSetSize = path, 200
	_, _, err := OpenData(&r, byteTok{})
	assert.ErrorContains(t, err, "val_set_size 200 holds out 200 of the 200 examples, leaving none to train on")

	r.Data.ValSetSize = 0
	_, ev, err := OpenData(&r, byteTok{})
	require.NoError(t, err)
	assert.Nil(t, ev, "OpenData without eval data")
}

// FuzzJSONObject compares the fast field splitter with encoding/json; go test runs the
// awkward lines below, go test -fuzz FuzzJSONObject searches for more.
func FuzzJSONObject(f *testing.F) {
	for _, line := range []string{
		`{}`,
		`{"text": "plain"}`,
		` { "text" : "a \"quoted\" word" , "n": -1.5e3, "b": true, "z": null } `,
		`{"text": "ends in a backslash \\", "next": "x"}`,
		`{"text": "\\\"", "k": "v"}`,
		`{"nested": {"text": "inner", "a": [1, "}", {"b": "]"}]}, "text": "outer"}`,
		`{"te\u0078t": "escaped key", "u": "caf\u00e9 \ud83d\ude00 \n\t/"}`,
		`{"text": "first", "text": "last"}`,
		"{\"text\": \"bad utf-8 \xff here\"}",
		`{"arr":[[],[[]],{}],"text":""}`,
	} {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, line string) {
		rec := bytes.TrimSpace([]byte(line))
		var want map[string]json.RawMessage
		if !json.Valid(rec) || rec[0] != '{' || json.Unmarshal(rec, &want) != nil {
			return
		}
		fields := jsonObject(rec)
		got := map[string]string{}
		for _, f := range fields {
			got[f.key] = string(f.raw)
		}
		require.Len(t, got, len(want), "jsonObject(%s) keys", line)
		for k, raw := range want {
			g, ok := fields.get(k)
			require.True(t, ok, "jsonObject(%s).get(%q)", line, k)
			require.Equal(t, string(raw), string(g), "jsonObject(%s).get(%q)", line, k)
			if raw[0] == '"' {
				var s string
				require.NoError(t, json.Unmarshal(raw, &s))
				require.Equal(t, s, jsonString(g), "jsonString of %q in %s", k, line)
			}
		}
	})
}
