package main

import (
	"context"
	"os"
	"slices"
	"strings"

	"github.com/llmtune/llmtune/cmd/llmtune/internal/sweep"
)

const sweepArgs = "SWEEP.yaml [--only NAME] [--dry-run]"

// cmdSweep is llmtune sweep: the flags; package sweep does the rest.
func cmdSweep(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "sweep", sweepArgs,
		`Runs a sweep file (e.g. sweeps/lora-vs-full.yaml): every variant (overrides such as
adapter.r=8 or ~adapter) at every learning rate of its grid, on every recipe, each as
its own "llmtune run" process so that its peak memory is its own. Phase 1 trains each
run and evaluates it on the validation split (the recipe's validation overrides); the
learning rate with the lowest validation loss is picked, and phase 2 evaluates that
run's adapter (or model) on the recipe's own evaluation split. It writes run.json per
run, test.json per recipe × variant, and summary.json, summary.md (a Markdown table)
and loss-vs-params.png under the sweep's output_dir. A run whose run.json exists is
skipped and an interrupted one resumes from its checkpoint, so running the sweep again
continues it. Ctrl-C checkpoints the run in progress and stops. Two sweep processes of
the same file share its runs (on Unix): each skips the runs the other holds, and the
one that finishes a variant's last run evaluates its pick. With GOMAXPROCS=1 each, two
runs at a time use two cores better than one run on both.`)
	only := fs.String("only", "", "run only the recipe or variant `NAME` (the summary covers every finished run)")
	dry := fs.Bool("dry-run", false, "print the planned runs with their overrides, and run nothing")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("sweep: missing SWEEP.yaml (e.g. llmtune sweep sweeps/lora-vs-full.yaml)")
	}
	path, rest := fs.Arg(0), fs.Args()[1:]
	if err := parse(fs, rest); err != nil { // flags after the file
		return err
	}
	if fs.NArg() > 0 {
		return usagef("sweep: unexpected argument %q", fs.Arg(0))
	}
	sw, err := sweep.Load(path)
	if err != nil {
		return err
	}
	groups, err := sw.Plan()
	if err != nil {
		return err
	}
	if *only != "" {
		var names []string
		for _, g := range groups {
			r, v := g.Names()
			names = append(names, r, v)
		}
		if !slices.Contains(names, *only) {
			slices.Sort(names)
			return usagef("sweep: --only %q names no recipe or variant of %s (%s)", *only, path, strings.Join(slices.Compact(names), ", "))
		}
	}
	selected := func(g *sweep.Group) bool {
		r, v := g.Names()
		return *only == "" || r == *only || v == *only
	}
	if *dry {
		return sw.PrintPlan(e.stdout, groups, selected)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	return sweep.Run(ctx, sw, groups, selected, self, loadModel, e.stdout, e.stderr)
}
