package chat

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clock is gen_golden.py's CLOCK.
var clock = time.Date(2025, 3, 7, 14, 5, 9, 0, time.Local)

type goldenRecord struct {
	Template            string                     `json:"template"`
	Source              *string                    `json:"source"`
	SHA256              string                     `json:"sha256"`
	Case                string                     `json:"case"`
	Messages            []json.RawMessage          `json:"messages"`
	AddGenerationPrompt bool                       `json:"add_generation_prompt"`
	Tools               json.RawMessage            `json:"tools"`
	Special             map[string]string          `json:"special"`
	Vars                map[string]json.RawMessage `json:"vars"`
	Output              *string                    `json:"output"`
	Error               *string                    `json:"error"`
	ErrorType           *string                    `json:"error_type"`
}

// goldenTemplates are the templates of gen_golden.py: file and sha256; a file under module: is read from
// the module github.com/ardanlabs/jinja's testdata/templates.
var goldenTemplates = map[string][2]string{
	"qwen3":                         {"qwen3.jinja", "87a2728cb8dc9fe424d624542f6060ec05a1d285ebbec578bb078900e33396b5"},
	"qwen2-audio-7b":                {"qwen2-audio-7b.jinja", "793202280c0910ab26bc6eb57c8212c2417324c6d8c4efd0d10d59092ab3e3eb"},
	"ministral-3-14b-instruct-2512": {"ministral-3-14b-instruct-2512.jinja", "87e109c99619246a45ca19ab968d7de9834f8cd124ff772124f846bcd40e60f4"},
	"mistral-7b-instruct-v0.1":      {"mistral-7b-instruct-v0.1.jinja", "7e995b379ec01747807246483647cd99030abf331653f1119e16d7ac041a3495"},
	"zephyr-7b-beta":                {"zephyr-7b-beta.jinja", "66291cf0045c2425a3a667cf3cbb7af2b11f09e025c02f97245323ab79119362"},
	"llama-3.2-1b-instruct":         {"module:Llama-3.2-1B-Instruct-GGUF.jinja", "5816fce10444e03c2e9ee1ef8a4a1ea61ae7e69e438613f3b17b69d0426223a4"},
}

// moduleDir is where Go keeps the module github.com/ardanlabs/jinja, which holds the Llama 3.2 template.
var moduleDir = sync.OnceValue(func() string {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goTool, "list", "-m", "-f", "{{.Dir}}", "github.com/ardanlabs/jinja").Output()
	if err != nil {
		panic("go list -m github.com/ardanlabs/jinja: " + err.Error())
	}
	return strings.TrimSpace(string(out))
})

func readModuleTemplate(t *testing.T, file, sha string) string {
	t.Helper()
	path := filepath.Join(moduleDir(), "testdata", "templates", file)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	sum := sha256.Sum256(b)
	require.Equal(t, sha, hex.EncodeToString(sum[:]), "sha256 of %s", path)
	return string(b)
}

func readTemplate(t *testing.T, name string) string {
	t.Helper()
	spec, ok := goldenTemplates[name]
	require.True(t, ok, "unknown template %s", name)
	path := filepath.Join("testdata", spec[0])
	if file, ok := strings.CutPrefix(spec[0], "module:"); ok {
		path = filepath.Join(moduleDir(), "testdata", "templates", file)
	}
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	sum := sha256.Sum256(b)
	require.Equal(t, spec[1], hex.EncodeToString(sum[:]), "sha256 of %s", path)
	return string(b)
}

// goldenMessage turns a message dict of the golden file into a Message, keeping its key order.
func goldenMessage(t *testing.T, raw json.RawMessage) Message {
	t.Helper()
	v, err := fromJSON(raw)
	require.NoError(t, err)
	d := v.AsDict()
	var m Message
	var extra []string
	for _, k := range d.Keys {
		s, isS := isStr(d.Data[k])
		switch {
		case k == "role" && isS:
			m.Role = s
		case k == "content" && isS:
			m.Content = s
		case k == "reasoning_content" && isS && s != "":
			m.ReasoningContent = s
		default:
			j, err := pyDumps(d.Data[k], dumpOptions{itemSep: ",", keySep: ":"})
			require.NoError(t, err)
			kj, _ := json.Marshal(k)
			extra = append(extra, string(kj)+":"+j)
		}
	}
	if extra != nil {
		m.Extra = json.RawMessage("{" + strings.Join(extra, ",") + "}")
	}
	return m
}

var reference = flag.String("reference", "", "a JSONL file of gen_golden.py --random to compare with, as TestGolden does")

// TestGolden renders every record of testdata/golden.jsonl (Jinja2 3.1.2 with transformers' settings,
// written by gen_golden.py) and compares byte for byte; a raise_exception must give the same message and
// any other exception an error of the same Python class. Of the templates read from the module
// github.com/ardanlabs/jinja (other than Llama 3.2's), Parse may refuse some; it refuses none of the others.
func TestGolden(t *testing.T) { compareFile(t, "testdata/golden.jsonl") }

// TestReferenceFile compares with a larger file that gen_golden.py --random writes outside the repository
// (random conversations); it runs only with -reference FILE.
func TestReferenceFile(t *testing.T) {
	if *reference == "" {
		t.Skip("no -reference file")
	}
	compareFile(t, *reference)
}

func compareFile(t *testing.T, path string) {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	parsed := map[string]*Template{}
	refused := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	n, outputs, errs := 0, 0, 0
	for sc.Scan() {
		var r goldenRecord
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		tmpl, ok := parsed[r.Template]
		if !ok {
			var src string
			switch {
			case r.Source != nil:
				src = *r.Source
			case strings.HasPrefix(r.Template, "module/"):
				src = readModuleTemplate(t, strings.TrimPrefix(r.Template, "module/"), r.SHA256)
			default:
				src = readTemplate(t, r.Template)
			}
			tmpl, err = Parse(src)
			if err != nil && strings.HasPrefix(r.Template, "module/") && errors.Is(err, ErrUnsupported) {
				t.Logf("%s refused: %v", r.Template, err)
				refused[r.Template] = true
			} else {
				require.NoError(t, err, "Parse %s", r.Template)
			}
			parsed[r.Template] = tmpl
		}
		if refused[r.Template] {
			continue
		}
		var msgs []Message
		for _, m := range r.Messages {
			msgs = append(msgs, goldenMessage(t, m))
		}
		opts := Options{AddGenerationPrompt: r.AddGenerationPrompt, BOS: r.Special["bos_token"], EOS: r.Special["eos_token"],
			UNK: r.Special["unk_token"], PAD: r.Special["pad_token"], Now: func() time.Time { return clock }}
		if string(r.Tools) != "null" {
			opts.Tools = r.Tools
		}
		if len(r.Vars) > 0 {
			opts.Vars = map[string]any{}
			for k, v := range r.Vars {
				opts.Vars[k] = v
			}
		}
		got, err := tmpl.Render(msgs, opts)
		where := r.Template + "/" + r.Case
		if r.AddGenerationPrompt {
			where += "+gen"
		}
		n++
		switch {
		case r.Output != nil:
			outputs++
			if assert.NoError(t, err, where) {
				assert.Equal(t, *r.Output, got, where)
			}
		case r.Error != nil:
			errs++
			var te *TemplateError
			if assert.True(t, errors.As(err, &te), "%s: want raise_exception(%q), got %v", where, *r.Error, err) {
				assert.Equal(t, *r.Error, te.Message, where)
			}
		default:
			errs++
			var pe *pyError
			if assert.True(t, errors.As(err, &pe), "%s: want %s, got %v (output %q)", where, *r.ErrorType, err, got) {
				assert.Equal(t, *r.ErrorType, pe.Kind, where)
			}
		}
	}
	require.NoError(t, sc.Err())
	t.Logf("%d records: %d outputs and %d errors compared", n, outputs, errs)
}
