package dataset

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/llmtune/llmtune/internal/reftest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// byteTok is a byte-level tokenizer: one id per byte, EOS = 256.
type byteTok = reftest.ByteTokenizer

const eos = reftest.ByteEOS

// writeData writes content to name in a fresh temporary directory and returns its path.
func writeData(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

// dataConfig returns the data settings of a dataset in format f.
func dataConfig(f Format, template string) Config {
	return Config{Format: f, Template: template, MaxSeqLen: 64, ShuffleBuffer: 1}
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
			d, err := New(writeData(t, tt.file, tt.content), dataConfig(tt.format, tt.template), byteTok{})
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
			d, err := New(path, dataConfig(tt.format, template), byteTok{})
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

func TestNewErrors(t *testing.T) {
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
		_, err := New(tt.path, dataConfig(tt.format, tt.template), byteTok{})
		assert.ErrorContains(t, err, tt.want, "New(%q, %s, %q)", tt.path, tt.format, tt.template)
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
		cfg := DefaultConfig()
		cfg.Train, cfg.ValSetSize = path, size
		tr, ev, err := Open(cfg, seed, byteTok{})
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
		cfg := DefaultConfig()
		cfg.Train, cfg.ValSetSize = path, tt.size
		_, ev, err := Open(cfg, 42, byteTok{})
		require.NoError(t, err)
		s, err := ev.ScanEpoch(LoaderConfig{BatchSize: 8, Seed: 42, Epochs: 1}, 0)
		require.NoError(t, err)
		assert.Equal(t, tt.wantEval, s.Examples, "val_set_size %g: examples the eval Loader reads", tt.size)
		train2, eval2 := split(42, tt.size)
		assert.Equal(t, eval, eval2, "val_set_size %g: split differs for the same seed", tt.size)
		assert.Equal(t, train, train2)
	}
	_, eval1 := split(1, 20)
	_, eval2 := split(2, 20)
	assert.NotEqual(t, eval1, eval2, "the split is the same for seeds 1 and 2")

	cfg := DefaultConfig()
	cfg.Train, cfg.ValSetSize = path, 200
	_, _, err := Open(cfg, 42, byteTok{})
	assert.ErrorContains(t, err, "val_set_size 200 holds out 200 of the 200 examples, leaving none to train on")

	cfg.ValSetSize = 0
	_, ev, err := Open(cfg, 42, byteTok{})
	require.NoError(t, err)
	assert.Nil(t, ev, "Open without eval data")
}

// FuzzParse feeds arbitrary lines to the JSONL parser of each format: it must return an
// Example or an error naming the file and line, never panic; go test runs the awkward
// lines below, go test -fuzz FuzzParse searches for more.
func FuzzParse(f *testing.F) {
	for _, line := range []string{
		`{}`,
		`null`,
		`[1, 2]`,
		`"text"`,
		`{"text": "plain"}`,
		` { "text" : "a \"quoted\" word" , "n": -1.5e3, "b": true, "z": null } `,
		`{"text": "ends in a backslash \\", "next": "x"}`,
		`{"te\u0078t": "escaped key", "u": "caf\u00e9 \ud83d\ude00 \n\t/"}`,
		`{"text": "first", "text": "last"}`,
		"{\"text\": \"bad utf-8 \xff here\"}",
		`{"source": "a", "target": 3}`,
		`{"prompt": "p", "completion": "c"`,
	} {
		f.Add(line)
	}
	ds := map[Format]*Dataset{}
	for _, c := range []struct {
		f    Format
		tmpl string
	}{{FormatText, ""}, {FormatPromptCompletion, ""}, {FormatSourceTarget, "{source} = {target}"}} {
		d, err := New(writeData(f, "d.jsonl", ""), dataConfig(c.f, c.tmpl), byteTok{})
		require.NoError(f, err)
		ds[c.f] = d
	}
	f.Fuzz(func(t *testing.T, line string) {
		for format, d := range ds {
			ex, err := d.parse([]byte(line), 7)
			if err != nil {
				assert.Contains(t, err.Error(), d.Path+":7: ", "parse(%q) as %s: the error names file and line", line, format)
				continue
			}
			var obj map[string]any
			require.NoError(t, json.Unmarshal([]byte(line), &obj), "parse(%q) as %s accepted a line that is not a JSON object", line, format)
			assert.Equal(t, 7, ex.Line)
		}
	})
}

// BenchmarkExamples reads the demo's 17k translation pairs (3.5 MB of JSONL): the parsing
// cost that a resumed run pays again when it replays the data up to its position.
func BenchmarkExamples(b *testing.B) {
	cfg := dataConfig(FormatSourceTarget, "English: {source}\nSpanish: {target}")
	d, err := New(filepath.Join("..", "..", "testdata", "demo", "translate", "train.jsonl"), cfg, byteTok{})
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for _, err := range d.Examples() {
			require.NoError(b, err)
			n++
		}
		b.ReportMetric(float64(n), "examples")
	}
}

// bosTok is byteTok whose model expects a BOS (300) before every text, as Llama's.
type bosTok struct{ byteTok }

func (bosTok) EncodeForModel(text string) []int { return append([]int{300}, byteTok{}.Encode(text)...) }

// TestModelPrefix: with a tokenizer whose model expects a BOS, every example starts with
// it, as part of the prompt (never a target; the first real token is predicted from it).
func TestModelPrefix(t *testing.T) {
	for _, tt := range []struct {
		format   Format
		template string
		content  string
		ids      []int
		prompt   int
	}{
		{FormatText, "", `{"text": "ab"}`, []int{300, 'a', 'b', eos}, 1},
		{FormatSourceTarget, "{source}={target}", `{"source": "a", "target": "b"}`, []int{300, 'a', '=', 'b', eos}, 3},
	} {
		d, err := New(writeData(t, "d.jsonl", tt.content), dataConfig(tt.format, tt.template), bosTok{})
		require.NoError(t, err)
		exs := examples(t, d)
		require.Len(t, exs, 1)
		tk, ok := d.tokenize(exs[0])
		require.True(t, ok)
		got := make([]int, len(tk.ids))
		for i, id := range tk.ids {
			got[i] = int(id)
		}
		assert.Equal(t, tt.ids, got, "%s: ids", tt.format)
		assert.Equal(t, tt.prompt, tk.prompt, "%s: prompt tokens", tt.format)
	}
}
