package main

import (
	"context"
	"fmt"

	"github.com/llmtune/llmtune/trainer"
)

const runArgs = "RECIPE [key.path=value ...] [~key ...]"

// cmdRun is llmtune run: fine-tuning as a recipe says (trainer.Run).
func cmdRun(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "run", runArgs,
		`Fine-tunes as the YAML recipe says: prints the merged recipe, evaluates the untouched
model, trains, evaluates, and saves the adapter (or model), checkpoints, metrics.jsonl
and loss.png under output_dir. Overrides after the recipe change it by dot path
(train.learning_rate=1e-3); ~key removes a key (~adapter: full fine-tuning).
Ctrl-C saves a checkpoint and exits; train.resume_from_checkpoint=auto resumes.
One run at a time uses an output_dir, and one that already holds a run is refused
unless the run resumes it or sets overwrite_output_dir=true.`)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("run: missing RECIPE (e.g. llmtune run recipes/translate.yaml)")
	}
	path, overrides := fs.Arg(0), fs.Args()[1:]
	if _, err := trainer.LoadRecipe(path); err != nil {
		return err
	}
	rec, err := trainer.LoadRecipe(path, overrides...)
	if err != nil {
		return usageError{err.Error()} // the recipe alone was fine: an override is wrong
	}
	y, err := rec.YAML()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "# %s, merged with the command line\n%s\n", path, y)
	res, err := trainer.Run(ctx, rec, trainer.WithProgress(e.stderr))
	if err != nil {
		return err
	}
	if n := len(res.Evals); n > 0 {
		first, last := res.Evals[0], res.Evals[n-1]
		fmt.Fprintf(e.stdout, "eval_loss %.4f → %.4f, eval_perplexity %.3f → %.3f (step %d → %d)\n",
			first.EvalLoss, last.EvalLoss, first.EvalPerplexity, last.EvalPerplexity, first.Step, last.Step)
		if first.EvalBLEU != nil && last.EvalBLEU != nil {
			fmt.Fprintf(e.stdout, "eval_bleu %.2f → %.2f\n", *first.EvalBLEU, *last.EvalBLEU)
		}
		if first.EvalChrF != nil && last.EvalChrF != nil {
			fmt.Fprintf(e.stdout, "eval_chrf %.2f → %.2f\n", *first.EvalChrF, *last.EvalChrF)
		}
	}
	fmt.Fprintf(e.stdout, "trained %d steps; saved %s (last checkpoint %s)\n", res.Steps, res.Output, res.Checkpoint)
	return nil
}
