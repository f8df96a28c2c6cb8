package dataset

import (
	"errors"
	"fmt"
	"strings"

	"github.com/llmtune/llmtune/transformer/generate"
)

// parseTemplate checks data.template s for format f and parses it: the zero Template for
// text, else a generate.Template whose input and output are the format's two fields
// (prompt and completion, or source and target). prompt_completion defaults to
// "{prompt}{completion}"; source_target has no default.
func parseTemplate(f Format, s string) (generate.Template, error) {
	var in, out string
	switch f {
	case FormatText, FormatMessages:
		if s != "" {
			return generate.Template{}, errors.New("applies only to formats prompt_completion and source_target")
		}
		return generate.Template{}, nil
	case FormatPromptCompletion:
		in, out = "prompt", "completion"
		if s == "" {
			s = "{prompt}{completion}"
		}
	case FormatSourceTarget:
		in, out = "source", "target"
		if s == "" {
			return generate.Template{}, errors.New(`is required for format source_target, e.g. "English: {source}\nSpanish: {target}"`)
		}
	default:
		return generate.Template{}, fmt.Errorf("unknown format %q", f)
	}
	for _, name := range []string{"prompt", "completion", "source", "target"} {
		if name != in && name != out && strings.Contains(s, "{"+name+"}") {
			return generate.Template{}, fmt.Errorf("{%s} is not a placeholder of format %s (use {%s} and {%s})", name, f, in, out)
		}
	}
	return generate.ParseTemplate(s, in, out)
}

// fields describes the JSON fields that a template's format wants, for error messages.
func fields(f Format, t generate.Template) string {
	if f == FormatMessages {
		return `"messages"`
	}
	if t.Input == "" {
		return `"text"`
	}
	return fmt.Sprintf("%q and %q", t.Input, t.Output)
}
