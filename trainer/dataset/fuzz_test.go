package dataset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fuzzFormats are FuzzExamples' ways of reading a file: the file's extension, its format
// and template.
var fuzzFormats = []struct {
	ext    string
	format Format
	tmpl   string
}{
	{".txt", FormatText, ""},
	{".jsonl", FormatText, ""},
	{".jsonl", FormatPromptCompletion, ""},
	{".jsonl", FormatSourceTarget, "English: {source}\nSpanish: {target}"},
}

// FuzzExamples writes arbitrary bytes as a whole data file — a .txt file of paragraphs, or
// a .jsonl file of text, prompt_completion or source_target records — and reads it through
// New, Examples and a Loader, as a run does. It checks the examples against a reference
// reading of its own (lines split at "\n" with a "\r" before it and a leading BOM removed;
// blank lines skipped, or separating paragraphs; each JSON line decoded on its own), that
// the first bad record stops Examples with an error naming the file and its line (the
// Loader then gives the same error), and that the Loader's counts of examples, dropped
// examples, tokens, loss tokens and truncations over one epoch are those of the examples,
// whatever the packing, shuffling and prompt masking. Seeded with the repository's data
// files' first lines and awkward ones; go test runs the seeds, go test -fuzz FuzzExamples
// searches for more.
func FuzzExamples(f *testing.F) {
	for i, p := range []string{
		filepath.Join("..", "..", "testdata", "tiny", "reverse.jsonl"),
		filepath.Join("..", "..", "testdata", "demo", "translate", "train.jsonl"),
		filepath.Join("..", "..", "testdata", "demo", "generate", "train.txt"),
		filepath.Join("..", "..", "testdata", "demo", "pretrain", "train.txt"),
	} {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		if len(b) > 1500 {
			b = b[:1500]
		}
		for kind := range uint8(32) {
			if int(kind)%8 == i || kind == 0 {
				f.Add(b, kind)
			}
		}
	}
	for _, s := range []string{
		"", "\n \n\t\n", "\ufeffone\ntwo\n\n\n  \nthree\r\nfour\r\n\nfive",
		"{\"text\": \"hi\", \"id\": 7}\n\n{\"text\": \"a\\nb\"}\n",
		"{\"source\": \"cat {target}\", \"target\": \"gato\"}\n{\"source\": \"dog\", \"target\": \"perro\", \"n\": 1e400}",
		"{\"prompt\": \"Q? \", \"completion\": \"A.\"}\r\n{\"prompt\": null, \"completion\": \"b\"}",
		"{\"text\": \"a\",}\n", "[\"text\"]", "null", "{\"text\": 3}\n\u2028\n{\"text\": \"\xff\"}",
		"\ufeff\ufeff{\"text\": \"double BOM\"}", "{\"text\": \"\"}\n{\"text\": \"" + strings.Repeat("long ", 10) + "\"}",
	} {
		for kind := range uint8(4) {
			f.Add([]byte(s), kind|kind<<2)
		}
	}

	f.Fuzz(func(t *testing.T, content []byte, kind uint8) {
		ff := fuzzFormats[kind%4]
		cfg := Config{Format: ff.format, Template: ff.tmpl, MaxSeqLen: 16, Packing: kind&4 != 0, TrainOnInputs: kind&8 != 0}
		path := filepath.Join(t.TempDir(), "d"+ff.ext)
		require.NoError(t, os.WriteFile(path, content, 0o644))
		d, err := New(path, cfg, byteTok{})
		require.NoError(t, err)

		want, wantErr := refExamples(content, ff.ext == ".txt", d)
		var got []Example
		var gotErr error
		for ex, err := range d.Examples() {
			if err != nil {
				gotErr = err
				break
			}
			got = append(got, ex)
		}
		for i := range max(len(got), len(want)) {
			if i >= len(got) || i >= len(want) || !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("%s as %s: examples\n%+v\nwant\n%+v", ff.ext, ff.format, got, want)
			}
		}
		switch {
		case wantErr == "" && gotErr != nil:
			t.Fatalf("%s as %s: error %v, want none", ff.ext, ff.format, gotErr)
		case wantErr != "" && (gotErr == nil || !strings.HasPrefix(gotErr.Error(), path+wantErr)):
			t.Fatalf("%s as %s: error %v, want one starting %q", ff.ext, ff.format, gotErr, path+wantErr)
		case gotErr != nil && strings.Contains(gotErr.Error(), "\n"):
			t.Fatalf("%s as %s: error %q is not one line", ff.ext, ff.format, gotErr)
		}

		lc := LoaderConfig{BatchSize: 3, Packing: cfg.Packing, Seed: uint64(kind), Epochs: 1}
		if kind&16 != 0 {
			lc.ShuffleBuffer = 4
		}
		stats, err := d.ScanEpoch(lc, 0)
		if gotErr != nil {
			if err == nil || err.Error() != gotErr.Error() {
				t.Fatalf("ScanEpoch error %v, want %v", err, gotErr)
			}
			return
		}
		require.NoError(t, err)
		var ws Stats
		for _, ex := range want {
			n := len(ex.Prompt) + len(ex.Completion) + 1 // byteTok: a token a byte, and EOS
			prompt := len(ex.Prompt)
			if cfg.TrainOnInputs {
				prompt = 0
			}
			truncated := n > cfg.MaxSeqLen
			n = min(n, cfg.MaxSeqLen)
			loss := max(0, n-max(prompt, 1))
			if loss == 0 {
				ws.Dropped++
				continue
			}
			if truncated {
				ws.Truncated++ // of the examples placed in batches
			}
			ws.Examples++
			ws.Tokens += n
			ws.LossTokens += loss
		}
		if stats.Examples != ws.Examples || stats.Dropped != ws.Dropped || stats.Tokens != ws.Tokens ||
			stats.LossTokens != ws.LossTokens || stats.Truncated != ws.Truncated {
			t.Fatalf("%s as %s (%+v): epoch stats %+v, want %+v", ff.ext, ff.format, lc, stats, ws)
		}
		l, err := d.Loader(lc, DataState{})
		require.NoError(t, err)
		defer l.Close()
		batches := 0
		for {
			b, err := l.Next()
			if errors.Is(err, io.EOF) || ws.Examples == 0 && err != nil {
				break
			}
			require.NoError(t, err)
			batches++
			if len(b.IDs) > lc.BatchSize || len(b.IDs[0]) > cfg.MaxSeqLen {
				t.Fatalf("batch of %d rows of %d tokens", len(b.IDs), len(b.IDs[0]))
			}
		}
		if batches != stats.Batches {
			t.Fatalf("%d batches, ScanEpoch says %d", batches, stats.Batches)
		}
	})
}

// refExamples reads content as a data file of d's kind without the package's reader:
// the examples up to the first bad record, and for that record the start of its error
// after the path (":LINE: ..."), or ": empty file" for a file with no record.
func refExamples(content []byte, txt bool, d *Dataset) ([]Example, string) {
	lines := strings.Split(string(content), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	blank := func(s string) bool { return len(bytes.TrimSpace([]byte(s))) == 0 }
	type record struct {
		line int
		text string
	}
	var recs []record
	for i, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		if i == 0 {
			l = strings.TrimPrefix(l, "\ufeff")
		}
		switch {
		case blank(l):
			if txt && len(recs) > 0 && recs[len(recs)-1].line < 0 {
				recs[len(recs)-1].line = -recs[len(recs)-1].line // the paragraph is closed
			}
		case txt && len(recs) > 0 && recs[len(recs)-1].line < 0:
			recs[len(recs)-1].text += "\n" + l
		case txt:
			recs = append(recs, record{-(i + 1), l}) // an open paragraph
		default:
			recs = append(recs, record{i + 1, l})
		}
	}
	if len(recs) == 0 {
		return nil, ": empty file"
	}
	var out []Example
	for _, r := range recs {
		line := max(r.line, -r.line)
		if txt {
			out = append(out, Example{Line: line, Completion: r.text})
			continue
		}
		where := fmt.Sprintf(":%d: ", line)
		var obj map[string]any
		dec := json.NewDecoder(strings.NewReader(r.text))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil || obj == nil {
			return out, where
		}
		if _, err := dec.Token(); err != io.EOF {
			return out, where + "invalid JSON"
		}
		field := func(name string) (string, string) {
			v, ok := obj[name]
			if !ok {
				return "", where + fmt.Sprintf("missing field %q", name)
			}
			s, ok := v.(string)
			if !ok {
				return "", where + fmt.Sprintf("field %q is", name)
			}
			return s, ""
		}
		if d.Format == FormatText {
			s, bad := field("text")
			if bad != "" {
				return out, bad
			}
			out = append(out, Example{Line: line, Completion: s})
			continue
		}
		in, bad := field(d.tmpl.Input)
		if bad != "" {
			return out, bad
		}
		res, bad := field(d.tmpl.Output)
		if bad != "" {
			return out, bad
		}
		tmpl := "{prompt}{completion}"
		if d.Format == FormatSourceTarget {
			tmpl = fuzzFormats[3].tmpl
		}
		before, rest, _ := strings.Cut(tmpl, "{"+d.tmpl.Input+"}")
		between, after, _ := strings.Cut(rest, "{"+d.tmpl.Output+"}")
		out = append(out, Example{Line: line, Prompt: before + in + between, Completion: res + after, Reference: res})
	}
	return out, ""
}
