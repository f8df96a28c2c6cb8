package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// usagef returns a usage error with the message fmt.Sprintf(format, args...).
func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// command is one subcommand.
type command struct {
	name, args, summary string
	run                 func(ctx context.Context, env *env, args []string) error
}

// env is what a subcommand reads and writes.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// commands are the subcommands, in the order usage lists them. Each one's args is also
// the Usage line of its --help.
var commands = []command{
	{"run", runArgs, "fine-tune (LoRA or every weight) as a YAML recipe says", cmdRun},
	{"generate", generateArgs, "complete prompts: one, each line of stdin, or interactively", cmdGenerate},
	{"eval", evalArgs, "loss, perplexity, BLEU and chrF on a data file or a recipe's evaluation data", cmdEval},
	{"merge", mergeArgs, "fold an adapter into the model (or only convert it) as an HF checkpoint", cmdMerge},
	{"export", exportArgs, "write the model (adapter merged) or the adapter as GGUF for llama.cpp and ollama", cmdExport},
	{"tokenize", tokenizeArgs, "show the first examples' tokens and which are trained", cmdTokenize},
	{"sweep", sweepArgs, "run a sweep file: variants × learning rates of recipes, picked on validation loss", cmdSweep},
	{"bench", benchArgs, "time the performance workloads that the PyTorch anchor also times", cmdBench},
}

const usageText = `llmtune fine-tunes GPT-style language models (Hugging Face GPT-2, Llama and Qwen2
checkpoints) on the CPU, with LoRA or every weight, and generates with, evaluates and
merges the result.

Usage: llmtune COMMAND [arguments]   (llmtune COMMAND --help for its flags)

Commands:
`

// usage writes the usage text and the commands to w.
func usage(w io.Writer) {
	fmt.Fprint(w, usageText)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n            %s\n", c.name, c.summary, c.args)
	}
}

// Main runs llmtune with args (without the program name) and returns the exit status:
// 0 on success, 1 for a run-time error, 2 for a usage error, 130 when interrupted
// (Ctrl-C cancels ctx; `run` saves a checkpoint first). Errors go to stderr as one line,
// "llmtune: ...".
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := run(ctx, args, &env{stdin: stdin, stdout: stdout, stderr: stderr})
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "llmtune: "+oneLine(err.Error()))
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return 130 // 128 + SIGINT, as shells report an interrupted command
	}
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// oneLine joins the lines of a multi-problem error with "; ".
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ; ")), " ")
}

// run runs the subcommand named by args[0].
func run(ctx context.Context, args []string, e *env) error {
	if len(args) == 0 {
		usage(e.stderr)
		return usagef("no command given")
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		usage(e.stdout)
		return nil
	}
	for _, c := range commands {
		if c.name == name {
			return c.run(ctx, e, args[1:])
		}
	}
	return usagef("unknown command %q (llmtune help lists them)", name)
}

// newFlags returns a flag set for a subcommand that reports to e.stderr and whose
// parse errors are usage errors.
func newFlags(e *env, name, args, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: llmtune %s %s\n\n%s\n", name, args, summary)
		var n int
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(fs.Output(), "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parse parses args, turning a flag error into a usage error.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{fmt.Sprintf("%s: %v", fs.Name(), err)}
	}
	return nil
}

// required returns a usage error naming the flags among names whose value is empty.
func required(fs *flag.FlagSet, names ...string) error {
	var missing []string
	for _, n := range names {
		if fs.Lookup(n).Value.String() == "" {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) > 0 {
		return usagef("%s: missing %s", fs.Name(), strings.Join(missing, ", "))
	}
	return nil
}

// isFlagSet reports whether the flag name was given on the command line.
func isFlagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// isTerminal reports whether r is an *os.File open on a terminal.
func isTerminal(r any) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
