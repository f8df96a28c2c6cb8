package jinja2

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/tokenizer/chat/internal/pyvalue"
)

// TestTranslationCallsScope pins the seam between the two packages: every function a translation calls is
// one that pyvalue.Scope registers (the real templates of tokenizer/chat/testdata, and one template that
// uses each kind of expression).
func TestTranslationCallsScope(t *testing.T) {
	files, err := filepath.Glob("../../testdata/*.jinja")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	srcs := []string{"{{ -x + +y ~ z[1:2] ~ z[0] ~ z.a }}{% set n = namespace(a=1) %}{{ dict(b=2) }}{{ range(3)|list }}" +
		"{{ x is defined }}{{ (1, 2) }}{{ {'a': 1} }}{{ 1.5 }}{{ 'a' if b }}{{ raise_exception('x') }}{{ strftime_now('%Y') }}" +
		"{% for a, b in c if a %}{% break %}{% endfor %}{{ x.strip() }}{{ x < y }}"}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		srcs = append(srcs, string(b))
	}
	scope := pyvalue.Scope(time.Now, func(string) error { return nil })
	called := map[string]bool{}
	for _, src := range srcs {
		text, err := Translate(src)
		require.NoError(t, err)
		for _, m := range regexp.MustCompile(`\b__[a-z_]+\(`).FindAllString(text, -1) {
			called[strings.TrimSuffix(m, "(")] = true
		}
	}
	assert.Greater(t, len(called), 20)
	for name := range called {
		assert.Contains(t, scope, name)
	}
}
