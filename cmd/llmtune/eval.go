package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/llmtune/llmtune/trainer"
	"github.com/llmtune/llmtune/trainer/dataset"
)

const evalArgs = "--model DIR [--adapter DIR] [--dtype f32|bf16|q8_0|bf16_amx] --data FILE [--recipe FILE] [--format FORMAT]\n" +
	"            [--template TEMPLATE] [--chat-template T] [--metrics LIST] [--max-examples N] [--json]"

// evalResult is what eval prints; metrics not asked for are left out.
type evalResult struct {
	EvalLoss       *float64 `json:"eval_loss,omitempty"`
	EvalPerplexity *float64 `json:"eval_perplexity,omitempty"`
	EvalTokens     int      `json:"eval_tokens,omitempty"` // target tokens behind the loss
	EvalBLEU       *float64 `json:"eval_bleu,omitempty"`
	EvalChrF       *float64 `json:"eval_chrf,omitempty"`
	Examples       int      `json:"examples"`
}

// cmdEval is llmtune eval: loss, perplexity, BLEU and chrF of the model (and adapter) on
// a data file.
func cmdEval(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "eval", evalArgs,
		`Evaluates the model (and adapter) on a data file, as llmtune run evaluates:
  loss, perplexity  mean cross-entropy of the target tokens, weighted by token over the
                    file, and its exp (examples cut to min(max_seq_len, n_positions));
  bleu, chrf        corpus BLEU and chrF (0-100, as sacreBLEU) of the completions of the
                    examples' prompts against their references (prompt_completion or
                    source_target data only), generated with the recipe's generation
                    settings (--recipe), else greedily with at most 64 new tokens.
Data (format, template, chat_template, train_on_inputs, max_seq_len), eval and
generation settings come from --recipe, else are the defaults; --format, --template,
--chat-template, --metrics and --max-examples override them. Without --data the recipe's evaluation data is used
(data.eval, or the val_set_size split of data.train).`)
	src := modelFlags(fs, "take data, eval and generation settings (and seed, base_model) from this recipe `FILE`")
	data := fs.String("data", "", "evaluation `FILE` (.txt or .jsonl; default: the recipe's evaluation data)")
	df := newDataFlags(fs)
	metricsFlag := fs.String("metrics", "", "comma-separated `LIST` of loss, perplexity, bleu, chrf (default: the recipe's eval.metrics, else all that the format allows)")
	maxExamples := fs.Int("max-examples", 0, "evaluate the first `N` examples only; 0 uses them all (default: the recipe's eval.max_examples)")
	asJSON := fs.Bool("json", false, "print one JSON object: eval_loss, eval_perplexity, eval_tokens, eval_bleu, eval_chrf, examples")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("eval: unexpected argument %q", fs.Arg(0))
	}
	r, err := src.loadRecipe()
	if err != nil {
		return err
	}
	rec := trainer.DefaultRecipe()
	rec.Data.Packing = true // packing leaves each example's loss unchanged, and is faster
	if r != nil {
		rec = *r
	} else if *data == "" {
		return usagef("eval: missing --data")
	}
	if err := df.apply(&rec.Data); err != nil {
		return err
	}
	if isFlagSet(fs, "max-examples") {
		if *maxExamples < 0 {
			return usagef("eval: --max-examples %d must be ≥ 0 (0 = all)", *maxExamples)
		}
		rec.Eval.MaxExamples = *maxExamples
	}
	metrics, err := evalMetrics(*metricsFlag, &rec, r != nil)
	if err != nil {
		return err
	}

	m, tok, err := src.load()
	if err != nil {
		return err
	}
	rec.Data.MaxSeqLen = min(rec.Data.MaxSeqLen, m.Config.MaxPositions)
	var ds *dataset.Dataset
	if *data != "" {
		ds, err = dataset.New(*data, rec.Data, tok)
	} else {
		_, ds, err = dataset.Open(rec.Data, rec.Seed, tok)
		if err == nil && ds == nil {
			err = usagef("eval: the recipe %s has no evaluation data (data.eval or data.val_set_size): give --data", *src.recipe)
		}
	}
	if err != nil {
		return err
	}

	rec.Eval.Metrics, rec.Eval.Samples = metrics, 0
	ev, err := trainer.Evaluate(ctx, &rec, m, tok, ds, nil)
	if err != nil {
		return err
	}
	if math.IsNaN(ev.EvalLoss) || math.IsInf(ev.EvalPerplexity, 0) {
		return fmt.Errorf("eval %s: the loss is %g, its perplexity %g", ds.Path, ev.EvalLoss, ev.EvalPerplexity)
	}
	res := evalResult{EvalBLEU: ev.EvalBLEU, EvalChrF: ev.EvalChrF, Examples: ev.Examples}
	if slices.Contains(metrics, trainer.MetricLoss) {
		res.EvalLoss, res.EvalTokens = &ev.EvalLoss, ev.EvalTokens
	}
	if slices.Contains(metrics, trainer.MetricPerplexity) {
		res.EvalPerplexity, res.EvalTokens = &ev.EvalPerplexity, ev.EvalTokens
	}
	return writeEval(e.stdout, res, *asJSON)
}

// evalMetrics returns the metrics eval reports: those of list (--metrics) if given, else
// the recipe's eval.metrics (fromRecipe), else all that rec's data format allows. BLEU
// and chrF need references.
func evalMetrics(list string, rec *trainer.Recipe, fromRecipe bool) ([]trainer.Metric, error) {
	hasRefs := rec.Data.Format != dataset.FormatText
	metrics := rec.Eval.Metrics
	switch {
	case list != "":
		metrics = nil
		for _, name := range strings.Split(list, ",") {
			var m trainer.Metric
			if err := m.UnmarshalText([]byte(strings.TrimSpace(name))); err != nil {
				return nil, usagef("eval: --metrics: %v", err)
			}
			if !slices.Contains(metrics, m) {
				metrics = append(metrics, m)
			}
		}
	case !fromRecipe:
		metrics = []trainer.Metric{trainer.MetricLoss, trainer.MetricPerplexity}
		if hasRefs {
			metrics = append(metrics, trainer.MetricBLEU, trainer.MetricChrF)
		}
	}
	for _, m := range metrics {
		if (m == trainer.MetricBLEU || m == trainer.MetricChrF) && !hasRefs {
			return nil, usagef("eval: %s compares completions with references: it needs --format prompt_completion or source_target (the data is %s)", m, rec.Data.Format)
		}
	}
	return metrics, nil
}

// writeEval prints res as one JSON object, or one "name value" line per metric.
func writeEval(w io.Writer, res evalResult, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(res)
	}
	line := func(name, format string, v *float64) {
		if v != nil {
			fmt.Fprintf(w, "%-16s "+format+"\n", name, *v)
		}
	}
	line("eval_loss", "%.4f", res.EvalLoss)
	line("eval_perplexity", "%.3f", res.EvalPerplexity)
	line("eval_bleu", "%.2f", res.EvalBLEU)
	line("eval_chrf", "%.2f", res.EvalChrF)
	if res.EvalTokens > 0 {
		fmt.Fprintf(w, "%-16s %d (%d target tokens)\n", "examples", res.Examples, res.EvalTokens)
	} else {
		fmt.Fprintf(w, "%-16s %d\n", "examples", res.Examples)
	}
	return nil
}
