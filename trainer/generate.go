package trainer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"unicode/utf8"

	"github.com/llmtune/llmtune/trainer/sacrebleu"
	"github.com/llmtune/llmtune/transformer"
)

// Complete generates a continuation of prompt with the model and the generation settings
// (max_new_tokens, temperature, top_k, top_p, repetition_penalty, stop) and returns it as
// text: generation stops at EOS or at the first stop string, neither of which is part of
// the result. rng draws the samples when temperature > 0. onText, if not nil, receives
// the new text piece by piece as it is produced (streaming); it may be called with text
// that a stop string later cuts off the result.
func Complete(ctx context.Context, m *transformer.Model, tok Tokenizer, prompt string, g GenerationConfig, rng *rand.Rand, onText func(string)) (string, error) {
	ids := tok.Encode(prompt)
	if len(ids) == 0 {
		ids = []int{tok.EOS()} // an empty prompt starts from the end-of-text token, as GPT-2 does
	}
	var out []int
	shown := 0
	stopped := false
	text := func() string { return tok.Decode(out) }
	opt := transformer.GenerateOptions{
		MaxNewTokens: g.MaxNewTokens, Temperature: g.Temperature, TopK: g.TopK, TopP: g.TopP,
		RepetitionPenalty: g.RepetitionPenalty, StopIDs: []int{tok.EOS()}, Rand: rng,
		OnToken: func(id int) bool {
			if id == tok.EOS() {
				return false
			}
			out = append(out, id)
			s := text()
			if cut := stopIndex(s, g.Stop); cut >= 0 {
				stopped = true
				if onText != nil && cut > shown {
					onText(s[shown:cut])
				}
				return false
			}
			// Hold back an incomplete rune at the end: the next token may complete it.
			if end := completeRunes(s); onText != nil && end > shown {
				onText(s[shown:end])
				shown = end
			}
			return true
		},
	}
	if room := m.Config.MaxPositions - len(ids); opt.MaxNewTokens > room {
		if room <= 0 {
			return "", fmt.Errorf("generate: the prompt has %d tokens, the model at most %d", len(ids), m.Config.MaxPositions)
		}
		opt.MaxNewTokens = room // the prompt fits, but not max_new_tokens after it
	}
	_, err := m.Generate(ctx, ids, opt)
	s := text()
	if cut := stopIndex(s, g.Stop); cut >= 0 {
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

// Sample is one generated evaluation completion next to its reference.
type Sample struct {
	Prompt, Hypothesis, Reference string
}

// modelGenerator is the default Generator: the run's model with the recipe's generation
// settings, greedy unless the recipe samples (then seeded by the recipe's seed).
type modelGenerator struct {
	t *run
}

func (g modelGenerator) Complete(ctx context.Context, prompt string) (string, error) {
	rng := rand.New(rand.NewPCG(g.t.recipe.Seed, 0x6e6))
	return Complete(ctx, g.t.model, g.t.tok, prompt, g.t.recipe.Generation, rng, nil)
}

// generationMetrics adds BLEU and chrF to e when the recipe asks for them: it completes
// the prompt of each evaluation example (at most eval.max_examples) and scores the
// completions against the references, corpus-level, as sacreBLEU does.
func (t *run) generationMetrics(ctx context.Context, e *EvalLog) error {
	var bleu, chrf bool
	for _, m := range t.recipe.Eval.Metrics {
		bleu = bleu || m == MetricBLEU
		chrf = chrf || m == MetricChrF
	}
	if !bleu && !chrf {
		return nil
	}
	gen := t.s.gen
	if gen == nil {
		gen = modelGenerator{t}
	}
	if t.adapter != nil {
		t.adapter.SetTraining(false)
	}
	var hyps, refs []string
	var samples []Sample
	limit := t.recipe.Eval.MaxExamples
	for ex, err := range t.eval.Examples() {
		if err != nil {
			return err
		}
		if limit > 0 && len(hyps) >= limit {
			break
		}
		h, err := gen.Complete(ctx, ex.Prompt)
		if err != nil {
			return fmt.Errorf("eval: generate for %s:%d: %w", t.eval.Path, ex.Line, err)
		}
		h = strings.TrimSpace(h)
		hyps, refs = append(hyps, h), append(refs, ex.Reference)
		if len(samples) < t.recipe.Eval.Samples {
			samples = append(samples, Sample{Prompt: ex.Prompt, Hypothesis: h, Reference: ex.Reference})
		}
	}
	if len(hyps) == 0 {
		return errors.New("eval: no example to generate for")
	}
	if bleu {
		s, err := sacrebleu.CorpusBLEU(hyps, [][]string{refs})
		if err != nil {
			return fmt.Errorf("eval: bleu: %w", err)
		}
		e.EvalBLEU = &s.Score
	}
	if chrf {
		s, err := sacrebleu.CorpusChrF(hyps, [][]string{refs})
		if err != nil {
			return fmt.Errorf("eval: chrf: %w", err)
		}
		e.EvalChrF = &s.Score
	}
	e.Samples = samples
	return nil
}

// samples completes the first eval.samples evaluation examples: their prompt, or for
// text the first 8 words, whose continuation is then the reference.
func (t *run) samples(ctx context.Context) ([]Sample, error) {
	n := t.recipe.Eval.Samples
	if n <= 0 || t.s.progress == nil {
		return nil, nil
	}
	gen := t.s.gen
	if gen == nil {
		gen = modelGenerator{t}
	}
	var out []Sample
	for ex, err := range t.eval.Examples() {
		if err != nil {
			return nil, err
		}
		if len(out) == n {
			break
		}
		prompt, ref := ex.Prompt, ex.Reference
		if prompt == "" {
			// The first 8 words, without the space after them: GPT-2's tokens carry their
			// leading space, so the continuation starts with one.
			words := strings.SplitAfter(ex.Completion, " ")
			k := min(8, len(words)-1)
			prompt, ref = strings.TrimRight(strings.Join(words[:k], ""), " "), strings.Join(words[k:], "")
		}
		h, err := gen.Complete(ctx, prompt)
		if err != nil {
			return nil, fmt.Errorf("eval: generate for %s:%d: %w", t.eval.Path, ex.Line, err)
		}
		out = append(out, Sample{Prompt: prompt, Hypothesis: strings.TrimSpace(h), Reference: ref})
	}
	return out, nil
}

// writeSamples prints samples, one block each.
func writeSamples(w io.Writer, samples []Sample) {
	for _, s := range samples {
		fmt.Fprintf(w, "  prompt:    %q\n  generated: %q\n  reference: %q\n", s.Prompt, s.Hypothesis, s.Reference)
	}
}
