package generate

import (
	"fmt"
	"strings"
)

// Template is a parsed prompt template: text with an input placeholder and, usually, an
// output placeholder after it, e.g. "English: {source}\nSpanish: {target}" (input source,
// output target) or "{prompt}{completion}". The prompt is the template up to where the
// output begins: "English: " + input + "\nSpanish: ". The zero value renders the input
// as it is.
type Template struct {
	Input, Output          string // the placeholder names, without braces
	before, between, after string // before{Input}between{Output}after
}

// ParseTemplate parses s with the placeholders {input} and {output}, each exactly once,
// input first: the templates of prompt/completion and source/target data.
func ParseTemplate(s, input, output string) (Template, error) {
	for _, name := range []string{input, output} {
		if n := strings.Count(s, "{"+name+"}"); n != 1 {
			return Template{}, fmt.Errorf("%q must contain {%s} exactly once, found %d", s, name, n)
		}
	}
	i, j := strings.Index(s, "{"+input+"}"), strings.Index(s, "{"+output+"}")
	if i > j {
		return Template{}, fmt.Errorf("%q must put {%s} before {%s}", s, input, output)
	}
	return Template{
		Input: input, Output: output,
		before:  s[:i],
		between: s[i+len(input)+2 : j],
		after:   s[j+len(output)+2:],
	}, nil
}

// ParsePromptTemplate parses a template for generation: the input is {prompt} or
// {source}; {completion} or {target}, with everything after it, is dropped, so a data
// template of a recipe serves as it is ("English: {source}\nSpanish: {target}" prompts
// with "English: " + input + "\nSpanish: "), and so does a template that ends where the
// output would begin ("Q: {prompt}\nA:").
func ParsePromptTemplate(s string) (Template, error) {
	full := s
	for _, end := range []string{"{completion}", "{target}"} {
		if i := strings.Index(s, end); i >= 0 {
			s = s[:i]
		}
	}
	for _, in := range []string{"prompt", "source"} {
		if before, between, ok := strings.Cut(s, "{"+in+"}"); ok {
			return Template{Input: in, before: before, between: between}, nil
		}
	}
	return Template{}, fmt.Errorf("%q has no {prompt} or {source} for the input", full)
}

// Prompt returns the prompt for input: the template up to where the output begins.
func (t Template) Prompt(input string) string {
	return t.before + input + t.between
}

// Render returns the prompt for input (as Prompt) and the rest of the rendered
// template: output and what follows it.
func (t Template) Render(input, output string) (prompt, rest string) {
	return t.Prompt(input), output + t.after
}

// String returns the template as text, its placeholders in braces ("" for the zero
// Template); a prompt template ends where its output would begin.
func (t Template) String() string {
	if t.Input == "" {
		return ""
	}
	s := t.before + "{" + t.Input + "}" + t.between
	if t.Output != "" {
		s += "{" + t.Output + "}" + t.after
	}
	return s
}
