package trainer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/llmtune/llmtune/trainer/dataset"
	"github.com/llmtune/llmtune/trainer/sacrebleu"
	"github.com/llmtune/llmtune/transformer"
	"github.com/llmtune/llmtune/transformer/generate"
)

// Generator completes an evaluation prompt, for BLEU, chrF and samples.
type Generator interface {
	Complete(ctx context.Context, prompt string) (string, error)
}

// Sample is one generated evaluation completion next to its reference.
type Sample struct {
	Prompt, Hypothesis, Reference string
}

// Evaluate measures m on ds as a run evaluates, with the recipe's settings:
//   - eval_loss, the mean cross-entropy of the target tokens weighted by token over the
//     batches of r.EvalLoaderConfig() (at most eval.max_examples examples), and
//     eval_perplexity, its exp; always, since they cost one forward pass;
//   - eval_bleu and eval_chrf when eval.metrics asks: corpus BLEU and chrF (sacreBLEU's
//     defaults) of the completions of each example's prompt (at most eval.max_examples)
//     against its reference;
//   - eval.samples Samples: with BLEU or chrF the first of those completions, else
//     completions of the first examples' prompts (of a text example, its first 8 words).
//
// Completions come from gen, or when gen is nil from m with the recipe's generation
// settings, each seeded afresh with generate.NewRand(r.Seed). A LoRA adapter on m should
// be in evaluation mode (no dropout). The returned EvalLog has no Step or ElapsedS.
func Evaluate(ctx context.Context, r *Recipe, m *transformer.Model, tok generate.Tokenizer, ds *dataset.Dataset, gen Generator) (EvalLog, error) {
	var e EvalLog
	var err error
	if e.EvalLoss, e.EvalTokens, e.Examples, err = evalLoss(ctx, m, ds, r.EvalLoaderConfig()); err != nil {
		return e, err
	}
	e.EvalPerplexity = math.Exp(e.EvalLoss)
	if gen == nil {
		gen = modelGenerator{m, tok, r.Generation, r.Seed, ds.Format == dataset.FormatMessages}
	}
	bleu, chrf := slices.Contains(r.Eval.Metrics, MetricBLEU), slices.Contains(r.Eval.Metrics, MetricChrF)
	if bleu || chrf {
		hyps, refs, samples, err := completeAll(ctx, ds, gen, r.Eval.MaxExamples, r.Eval.Samples)
		if err != nil {
			return e, err
		}
		if bleu {
			s, err := sacrebleu.CorpusBLEU(hyps, [][]string{refs})
			if err != nil {
				return e, fmt.Errorf("eval: bleu: %w", err)
			}
			e.EvalBLEU = &s.Score
		}
		if chrf {
			s, err := sacrebleu.CorpusChrF(hyps, [][]string{refs})
			if err != nil {
				return e, fmt.Errorf("eval: chrf: %w", err)
			}
			e.EvalChrF = &s.Score
		}
		e.Samples = samples
		return e, nil
	}
	e.Samples, err = samples(ctx, ds, gen, r.Eval.Samples)
	return e, err
}

// evalLoss returns the token-weighted mean cross-entropy over the batches of ds, the
// number of target tokens and of examples behind it.
func evalLoss(ctx context.Context, m *transformer.Model, ds *dataset.Dataset, cfg dataset.LoaderConfig) (loss float64, tokens, examples int, err error) {
	l, err := ds.Loader(cfg, dataset.DataState{})
	if err != nil {
		return 0, 0, 0, err
	}
	defer l.Close()
	var sum float64
	for {
		if err := ctx.Err(); err != nil {
			return 0, 0, 0, fmt.Errorf("eval: %w", err)
		}
		b, err := l.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, 0, 0, err
		}
		s, n, err := m.EvalLoss(b)
		if errors.Is(err, transformer.ErrNoTargets) {
			continue
		}
		if err != nil {
			return 0, 0, 0, fmt.Errorf("eval %s: %w", ds.Path, err)
		}
		sum += s
		tokens += n
	}
	if tokens == 0 {
		return 0, 0, 0, fmt.Errorf("eval %s: no target token to evaluate", ds.Path)
	}
	return sum / float64(tokens), tokens, l.Stats().Examples, nil
}

// modelGenerator is the default Generator: a model with generation settings, greedy
// unless they sample (then seeded afresh for every prompt, so each completion depends
// only on its prompt). With chat, prompts are conversations rendered by a chat template,
// encoded with their special tokens (dataset.ChatTokenizer) and nothing added.
type modelGenerator struct {
	m    *transformer.Model
	tok  generate.Tokenizer
	opt  generate.Options
	seed uint64
	chat bool
}

func (g modelGenerator) Complete(ctx context.Context, prompt string) (string, error) {
	if ct, ok := g.tok.(dataset.ChatTokenizer); ok && g.chat {
		return generate.CompleteIDs(ctx, g.m, g.tok, ct.EncodeWithSpecial(prompt), g.opt, generate.NewRand(g.seed), nil)
	}
	return generate.Complete(ctx, g.m, g.tok, prompt, g.opt, generate.NewRand(g.seed), nil)
}

// completeAll completes the prompt of each example of ds (at most limit; 0 = all) with
// gen and returns the completions, trimmed of surrounding space, their references, and
// the first nSamples as Samples.
func completeAll(ctx context.Context, ds *dataset.Dataset, gen Generator, limit, nSamples int) (hyps, refs []string, samples []Sample, err error) {
	for ex, err := range ds.Examples() {
		if err != nil {
			return nil, nil, nil, err
		}
		if limit > 0 && len(hyps) >= limit {
			break
		}
		h, err := gen.Complete(ctx, ex.Prompt)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("eval: generate for %s:%d: %w", ds.Path, ex.Line, err)
		}
		h = strings.TrimSpace(h)
		hyps, refs = append(hyps, h), append(refs, ex.Reference)
		if len(samples) < nSamples {
			samples = append(samples, Sample{Prompt: ex.Prompt, Hypothesis: h, Reference: ex.Reference})
		}
	}
	if len(hyps) == 0 {
		return nil, nil, nil, fmt.Errorf("eval %s: no example to generate for", ds.Path)
	}
	return hyps, refs, samples, nil
}

// samples completes the prompts of the first n examples of ds: their prompt, or for text
// the first 8 words, whose continuation is then the reference.
func samples(ctx context.Context, ds *dataset.Dataset, gen Generator, n int) ([]Sample, error) {
	if n <= 0 {
		return nil, nil
	}
	var out []Sample
	for ex, err := range ds.Examples() {
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
			return nil, fmt.Errorf("eval: generate for %s:%d: %w", ds.Path, ex.Line, err)
		}
		out = append(out, Sample{Prompt: prompt, Hypothesis: strings.TrimSpace(h), Reference: ref})
	}
	return out, nil
}
