package chat

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParseRender: Parse and Render never panic, and the template the engine gets from Parse always
// compiles (an internal error would say it does not).
func FuzzParseRender(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.jinja")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	for _, s := range []string{"{{ x }}", "{% for a, b in x.items() %}{{ a ~ b }}{% endfor %}", "{%- raw -%} {{ }} {% endraw %}",
		"{{ 'a' if b else c|d(1, e=2) }}", "{% set ns = namespace(a=[]) %}{{ ns.a + [1] }}", "{# c #}\n  {%+ if 1 %}{% endif +%}"} {
		f.Add(s)
	}
	msgs := []Message{{Role: "system", Content: " s "}, {Role: "user", Content: "u"}, {Role: "assistant", Content: "a"}}
	f.Fuzz(func(t *testing.T, src string) {
		tmpl, err := Parse(src)
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("Parse(%q): %v", src, err)
			}
			return
		}
		_, err = tmpl.Render(msgs, Options{BOS: "<s>", EOS: "</s>", Tools: []byte(`[{"name": "f"}]`), Now: func() time.Time { return clock }})
		var te *TemplateError
		var pe *pyError
		if err != nil && !errors.As(err, &te) && !errors.As(err, &pe) && !errors.Is(err, ErrUnsupported) && !strings.HasPrefix(err.Error(), "chat: rendering: ") {
			t.Fatalf("Render(%q): unexpected error %v", src, err)
		}
	})
}
