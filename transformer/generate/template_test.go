package generate

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTemplate(t *testing.T) {
	tests := []struct {
		s, in, out string
		prompt     string // Prompt("X")
		rest       string // the rest of Render("X", "Y")
		err        string
	}{
		{"English: {source}\nSpanish: {target}", "source", "target", "English: X\nSpanish: ", "Y", ""},
		{"{prompt}{completion}", "prompt", "completion", "X", "Y", ""},
		{"<{prompt}|{completion}>", "prompt", "completion", "<X|", "Y>", ""},
		{"{target} {source}", "source", "target", "", "", "must put {source} before {target}"},
		{"{source}", "source", "target", "", "", "must contain {target} exactly once, found 0"},
		{"{source}{source}{target}", "source", "target", "", "", "must contain {source} exactly once, found 2"},
	}
	for _, tt := range tests {
		tm, err := ParseTemplate(tt.s, tt.in, tt.out)
		if tt.err != "" {
			assert.ErrorContains(t, err, tt.err, "ParseTemplate(%q)", tt.s)
			continue
		}
		require.NoError(t, err, "ParseTemplate(%q)", tt.s)
		prompt, rest := tm.Render("X", "Y")
		assert.Equal(t, tt.prompt, prompt, "ParseTemplate(%q).Render prompt", tt.s)
		assert.Equal(t, tt.rest, rest, "ParseTemplate(%q).Render rest", tt.s)
		assert.Equal(t, prompt, tm.Prompt("X"))
		assert.Equal(t, tt.s, tm.String())
	}
}

func TestParsePromptTemplate(t *testing.T) {
	tests := []struct{ s, want, str, err string }{
		{"English: {source}\nSpanish: {target}", "English: X\nSpanish: ", "English: {source}\nSpanish: ", ""},
		{"Q: {prompt}\nA:", "Q: X\nA:", "Q: {prompt}\nA:", ""},
		{"{prompt}{completion} and more", "X", "{prompt}", ""},
		{"no placeholder", "", "", `"no placeholder" has no {prompt} or {source}`},
		{"{completion} {prompt}", "", "", "has no {prompt} or {source}"},
	}
	for _, tt := range tests {
		tm, err := ParsePromptTemplate(tt.s)
		if tt.err != "" {
			assert.ErrorContains(t, err, tt.err, "ParsePromptTemplate(%q)", tt.s)
			continue
		}
		require.NoError(t, err, "ParsePromptTemplate(%q)", tt.s)
		assert.Equal(t, tt.want, tm.Prompt("X"), "ParsePromptTemplate(%q).Prompt", tt.s)
		assert.Equal(t, tt.str, tm.String(), "ParsePromptTemplate(%q).String", tt.s)
	}
	assert.Equal(t, "X", Template{}.Prompt("X"), "the zero Template renders the input as it is")
}
