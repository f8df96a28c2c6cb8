package trainer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/llmtune/llmtune/trainer/sacrebleu"
	"github.com/llmtune/llmtune/transformer/generate"
)

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
	rng := generate.NewRand(g.t.recipe.Seed)
	return generate.Complete(ctx, g.t.model, g.t.tok, prompt, g.t.recipe.Generation, rng, nil)
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
