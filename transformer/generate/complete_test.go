package generate

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/tokenizer"
)

// TestComplete: stop strings end the completion and are not part of it; the streamed
// pieces add up to the result.
func TestComplete(t *testing.T) {
	m := loadTiny(t)
	tok, err := tokenizer.Load("../../testdata/tiny")
	require.NoError(t, err)
	g := opts(30)
	var streamed strings.Builder
	full, err := Complete(context.Background(), m, tok, "red cat = ", g, nil, func(s string) { streamed.WriteString(s) })
	require.NoError(t, err)
	assert.Equal(t, full, streamed.String())
	i := strings.IndexFunc(full[1:], func(r rune) bool { return r >= 'a' && r <= 'z' }) + 1
	require.Positive(t, i, "no ASCII letter in %q", full)
	stop := full[i : i+1]
	g.Stop = []string{"zzzz", stop}
	cut, err := Complete(context.Background(), m, tok, "red cat = ", g, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, full[:strings.Index(full, stop)], cut)
}

// TestCompleteStreamsNoStopStart: a multi-character stop string is never streamed in
// part, whichever token it starts in; what streams is exactly the result.
func TestCompleteStreamsNoStopStart(t *testing.T) {
	m := loadTiny(t)
	tok, err := tokenizer.Load("../../testdata/tiny")
	require.NoError(t, err)
	g := opts(30)
	full, err := Complete(context.Background(), m, tok, "red cat = ", g, nil, nil)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(full), 8)
	for i := 1; i+3 <= len(full); i++ {
		g.Stop = []string{full[i:i+3] + "never"} // starts in the text, never completes
		var streamed strings.Builder
		got, err := Complete(context.Background(), m, tok, "red cat = ", g, nil, func(s string) { streamed.WriteString(s) })
		require.NoError(t, err)
		assert.Equal(t, full, got)
		assert.Equal(t, got, streamed.String(), "a stop string's start is streamed once it is known not to stop")
		g.Stop = []string{full[i : i+3]} // completes: streamed text stops before it
		streamed.Reset()
		got, err = Complete(context.Background(), m, tok, "red cat = ", g, nil, func(s string) { streamed.WriteString(s) })
		require.NoError(t, err)
		assert.Equal(t, full[:strings.Index(full, g.Stop[0])], got)
		assert.Equal(t, got, streamed.String(), "stop %q", g.Stop[0])
	}
}

func TestStopPrefix(t *testing.T) {
	stop := []string{"<|im_end|>", "\n\n"}
	for s, want := range map[string]int{"": 0, "abc": 0, "ab<": 1, "ab<|im_end|": 9, "a\n": 1, "<|i": 3, "<|im_end|>": 0} {
		assert.Equal(t, want, stopPrefix(s, stop), "stopPrefix(%q)", s)
	}
}

func TestCompleteRunes(t *testing.T) {
	for _, c := range []struct {
		s    string
		want int
	}{{"", 0}, {"abc", 3}, {"a\xc3", 1}, {"aé", 3}, {"a\xe2\x82", 1}, {"a€", 4}, {"\xff\xfeab", 4}, {"ab\xf0\x9f\x98", 2}} {
		assert.Equal(t, c.want, completeRunes(c.s), "completeRunes(%q)", c.s)
	}
}

// TestCompleteStopsAtConfigEOS: when config.json lists several end-of-sequence ids, each
// ends the completion like the tokenizer's EOS, and none is part of the text.
func TestCompleteStopsAtConfigEOS(t *testing.T) {
	m := loadTiny(t)
	tok, err := tokenizer.Load("../../testdata/tiny")
	require.NoError(t, err)
	ids, err := Generate(context.Background(), m, Request{Prompt: tok.Encode("red cat = ")}, opts(12))
	require.NoError(t, err)
	stop := ids[4]
	at := slices.Index(ids, stop)
	m.Config.EOSTokenIDs = []int{tok.EOS(), stop}
	got, err := Complete(context.Background(), m, tok, "red cat = ", opts(12), nil, nil)
	require.NoError(t, err)
	assert.Equal(t, tok.Decode(ids[:at]), got)
}

// prefixTok is a tokenizer whose model expects id 5 before every text (as Llama's BOS).
type prefixTok struct{ *tokenizer.BPE }

func (p prefixTok) EncodeForModel(text string) []int { return append([]int{5}, p.Encode(text)...) }

// TestCompleteModelPrefix: the prompt starts with the tokenizer's model prefix.
func TestCompleteModelPrefix(t *testing.T) {
	m := loadTiny(t)
	tok, err := tokenizer.Load("../../testdata/tiny")
	require.NoError(t, err)
	ids, err := Generate(context.Background(), m, Request{Prompt: append([]int{5}, tok.Encode("red cat = ")...), StopIDs: []int{tok.EOS()}}, opts(10))
	require.NoError(t, err)
	if i := slices.Index(ids, tok.EOS()); i >= 0 {
		ids = ids[:i]
	}
	got, err := Complete(context.Background(), m, prefixTok{tok}, "red cat = ", opts(10), nil, nil)
	require.NoError(t, err)
	assert.Equal(t, tok.Decode(ids), got)
	plain, err := Complete(context.Background(), m, tok, "red cat = ", opts(10), nil, nil)
	require.NoError(t, err)
	assert.NotEqual(t, plain, got, "the prefix changed nothing: the test proves nothing")
}
