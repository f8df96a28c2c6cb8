package generate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/llmtune/llmtune/transformer"
)

// Tokenizer is what Complete needs of a tokenizer (tokenizer.BPE has it).
type Tokenizer interface {
	Encode(text string) []int
	Decode(ids []int) string
	EOS() int
}

// Complete generates a continuation of prompt with m and the options and returns it as
// text: generation stops at EOS or at the first of o.Stop, neither of which is part of the
// result; the end-of-sequence ids are the tokenizer's EOS and, when the model's config.json
// lists several (Llama-3.2-Instruct's 128001, 128008, 128009), each of those. The prompt
// starts with what the tokenizer's model expects before a text (EncodeForModel(""), when
// the tokenizer has that method: Llama's BOS); an empty prompt with no such prefix starts
// from EOS, as GPT-2 does. When the prompt leaves less room
// than o.MaxNewTokens in the model's n_positions, fewer tokens are generated; a prompt
// that does not fit at all is an error. rng draws the samples when o.Temperature > 0
// (NewRand). onText, if not nil, receives the new text piece by piece as it is produced
// (streaming), never splitting a UTF-8 sequence and never giving the start of a stop
// string before it knows whether the stop string follows. When ctx is done, Complete returns the text so far
// with ctx.Err().
func Complete(ctx context.Context, m *transformer.Model, tok Tokenizer, prompt string, o Options, rng *rand.Rand, onText func(string)) (string, error) {
	var ids []int
	if me, ok := tok.(interface{ EncodeForModel(string) []int }); ok {
		ids = me.EncodeForModel("") // the model's prefix: Llama's and Mistral's BOS
	}
	ids = append(ids, tok.Encode(prompt)...)
	if len(ids) == 0 {
		ids = []int{tok.EOS()}
	}
	return CompleteIDs(ctx, m, tok, ids, o, rng, onText)
}

// CompleteIDs is Complete for a prompt already encoded, such as a conversation rendered
// by a chat template and encoded with its special tokens; ids must not be empty.
func CompleteIDs(ctx context.Context, m *transformer.Model, tok Tokenizer, ids []int, o Options, rng *rand.Rand, onText func(string)) (string, error) {
	if len(ids) == 0 {
		return "", errors.New("generate: empty prompt")
	}
	if room := m.Config.MaxPositions - len(ids); o.MaxNewTokens > room {
		if room <= 0 {
			return "", fmt.Errorf("generate: the prompt has %d tokens, the model at most %d", len(ids), m.Config.MaxPositions)
		}
		o.MaxNewTokens = room // the prompt fits, but not max_new_tokens after it
	}
	eos := []int{tok.EOS()}
	for _, id := range m.Config.EOSTokenIDs {
		if !slices.Contains(eos, id) {
			eos = append(eos, id)
		}
	}
	var out []int
	shown := 0
	stopped := false
	text := func() string { return tok.Decode(out) }
	req := Request{Prompt: ids, StopIDs: eos, Rand: rng, OnToken: func(id int) bool {
		if slices.Contains(eos, id) {
			return false
		}
		out = append(out, id)
		s := text()
		if cut := stopIndex(s, o.Stop); cut >= 0 {
			stopped = true
			if onText != nil && cut > shown {
				onText(s[shown:cut])
			}
			return false
		}
		// Hold back an incomplete rune at the end, and the start of a stop string: the
		// next token may complete either.
		end := completeRunes(s)
		end -= stopPrefix(s[:end], o.Stop)
		if onText != nil && end > shown {
			onText(s[shown:end])
			shown = end
		}
		return true
	}}
	_, err := Generate(ctx, m, req, o)
	s := text()
	if cut := stopIndex(s, o.Stop); cut >= 0 {
		s = s[:cut]
	} else if onText != nil && len(s) > shown && !stopped {
		onText(s[shown:])
	}
	return s, err
}

// completeRunes returns len(s) less the bytes of an incomplete UTF-8 sequence at its end.
func completeRunes(s string) int {
	for i := 1; i <= utf8.UTFMax-1 && i <= len(s); i++ {
		if utf8.RuneStart(s[len(s)-i]) {
			if !utf8.FullRuneInString(s[len(s)-i:]) {
				return len(s) - i
			}
			break
		}
	}
	return len(s)
}

// stopPrefix returns the length of the longest end of s that a stop string starts with
// (and is longer than), or 0.
func stopPrefix(s string, stop []string) int {
	n := 0
	for _, st := range stop {
		for k := min(len(st)-1, len(s)); k > n; k-- {
			if strings.HasSuffix(s, st[:k]) {
				n = k
				break
			}
		}
	}
	return n
}

// stopIndex returns where the first of the stop strings begins in s, or −1.
func stopIndex(s string, stop []string) int {
	best := -1
	for _, st := range stop {
		if st == "" {
			continue
		}
		if i := strings.Index(s, st); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	return best
}
