package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	"github.com/llmtune/llmtune/tokenizer"
	"github.com/llmtune/llmtune/trainer/dataset"
	"github.com/llmtune/llmtune/transformer"
	"github.com/llmtune/llmtune/transformer/generate"
)

const generateArgs = "--model DIR [--adapter DIR] [--dtype f32|bf16|q8_0|bf16_amx] [--recipe FILE] [--prompt TEXT]\n" +
	"            [--raw | --system TEXT | --chat-template T] [--template TEMPLATE]\n" +
	"            [--temperature F] [--top-k N] [--top-p F]\n" +
	"            [--repetition-penalty F] [--max-new-tokens N] [--stop S]... [--seed N]"

// cmdGenerate is llmtune generate: one completion (--prompt), an interactive session (a
// terminal), or one completion per line of stdin.
func cmdGenerate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "generate", generateArgs,
		`Completes prompts with the model (and adapter). The completion is printed as it is
produced, without the prompt; generation ends at EOS, at a stop string (not printed) or
after max_new_tokens.

  --prompt TEXT      print the completion of TEXT and a newline.
  on a terminal      an interactive session: type a prompt, see its completion; /help
                     lists the commands (/set NAME VALUE, /show, /reset, /bye). Ctrl-C
                     stops the current generation; Ctrl-D quits.
  piped stdin        one completion per input line, each on its own line.

A model whose tokenizer_config.json has a chat_template (an Instruct or chat model) is
talked to in chat mode: each input is a user message, rendered with the conversation
so far by the model's template (--chat-template chatml or a Jinja template for a model
without one; a recipe with data.format messages gives its data.chat_template), and the
reply ends at the end-of-turn token. The session keeps the conversation (/system TEXT
sets the system message, /reset starts over); --prompt and piped lines are one
conversation each. --raw (or --template) completes the text as it is instead.

With --recipe, each input is wrapped in the recipe's data.template as its evaluation
wraps it (e.g. "English: {source}\nSpanish: "), unless --template or --raw is given.
Settings come from the flags, else from the recipe's generation: section (--recipe),
else from the defaults below: greedy (temperature 0), 64 new tokens. Sampling uses a
generator seeded with --seed (the recipe's seed with --recipe), so a run is
reproducible; its stream continues across the prompts of one session. --stop accepts
escapes such as \n; given once or more it replaces the recipe's stop list.`)
	src := modelFlags(fs, "take the generation settings (and seed, base_model) of this recipe `FILE` as defaults")
	prompt := fs.String("prompt", "", "complete this `TEXT` and exit")
	tmplFlag := fs.String("template", "", "wrap each input in this `TEMPLATE`: {prompt} or {source} stands for the input, and\n"+
		"everything from {completion} or {target} on is dropped (e.g. \"English: {source}\\nSpanish: \")")
	raw := fs.Bool("raw", false, "complete the text as it is, even when the model has a chat template")
	system := fs.String("system", "", "chat mode: the system message `TEXT`")
	chatTmpl := fs.String("chat-template", "", "chat mode with this template `T`: chatml, or a Jinja chat template (default: the model's)")
	sets := settingFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("generate: unexpected argument %q (the prompt goes in --prompt)", fs.Arg(0))
	}
	tmpl, err := parseGenTemplate(*tmplFlag)
	if err != nil {
		return usagef("generate: --template: %v", err)
	}
	rec, err := src.loadRecipe()
	if err != nil {
		return err
	}
	if rec != nil && !isFlagSet(fs, "template") && rec.Data.Template != "" && !*raw {
		// The recipe's prompts, as its evaluation writes them: the input in its data.template.
		if tmpl, err = generate.ParsePromptTemplate(rec.Data.Template); err != nil {
			return fmt.Errorf("generate: %s: data.template: %w", *src.recipe, err)
		}
	}
	cfg := defaultSettings()
	if rec != nil {
		cfg = genSettings{Options: rec.Generation, Seed: rec.Seed}
	}
	if err := sets.apply(&cfg); err != nil {
		return usagef("generate: %v", err)
	}
	model, tok, err := src.load()
	if err != nil {
		return err
	}
	g := &generator{model: model, tok: tok, tmpl: tmpl, cfg: cfg}
	g.reseed()
	if src := *chatTmpl; !*raw && *tmplFlag == "" {
		if src == "" && rec != nil && rec.Data.Format == dataset.FormatMessages {
			src = rec.Data.ChatTemplate
		}
		if g.chat, err = newConversation(tok, src, *system); err != nil {
			return err
		}
	}
	if g.chat == nil && (*system != "" || *chatTmpl != "") {
		return usagef("generate: --system and --chat-template need chat mode (not --raw or --template, and a chat template)")
	}
	switch {
	case isFlagSet(fs, "prompt"):
		return g.print(ctx, e.stdout, *prompt)
	case isTerminal(e.stdin) && isTerminal(e.stdout):
		return g.repl(ctx, e, src.String())
	default:
		return g.lines(ctx, e.stdin, e.stdout)
	}
}

// generator completes prompts with one model and the current settings.
type generator struct {
	model *transformer.Model
	tok   *tokenizer.BPE
	tmpl  generate.Template
	cfg   genSettings
	rng   *rand.Rand
	chat  *conversation // chat mode; nil: plain completion
	keep  bool          // chat mode: keep the conversation going (a session)
}

// reseed restarts the sampling generator from cfg.Seed. generate.NewRand is the
// trainer's too, so a recipe's evaluation samples are reproduced by generate --recipe.
func (g *generator) reseed() {
	g.rng = generate.NewRand(g.cfg.Seed)
}

// complete writes the completion of input (in chat mode, the reply to it) to w as it is
// produced and returns it.
func (g *generator) complete(ctx context.Context, w io.Writer, input string) (string, error) {
	var werr error
	write := func(piece string) {
		if werr == nil {
			_, werr = io.WriteString(w, piece)
		}
	}
	var s string
	var err error
	if g.chat == nil {
		s, err = generate.Complete(ctx, g.model, g.tok, g.tmpl.Prompt(input), g.cfg.Options, g.rng, write)
	} else {
		var text string
		if text, err = g.chat.prompt(input); err != nil {
			return "", err
		}
		o := g.cfg.Options
		o.Stop = g.chat.stops(o.Stop)
		s, err = generate.CompleteIDs(ctx, g.model, g.tok, g.tok.EncodeWithSpecial(text), o, g.rng, write)
		if err == nil && g.keep {
			g.chat.add(input, s)
		}
	}
	if err == nil {
		err = werr
	}
	return s, err
}

// print writes the completion of prompt and a newline (after an error, only if a part
// of the completion was written).
func (g *generator) print(ctx context.Context, w io.Writer, prompt string) error {
	cw := &countWriter{w: w}
	_, err := g.complete(ctx, cw, prompt)
	if err == nil || cw.n > 0 {
		fmt.Fprintln(w)
	}
	if errors.Is(err, context.Canceled) {
		return errors.New("generate: interrupted")
	}
	return err
}

// lines completes every line of r (without its line ending; an empty line starts from
// EOS), each completion on its own line of w.
func (g *generator) lines(ctx context.Context, r io.Reader, w io.Writer) error {
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		line, err := br.ReadString('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("generate: read input: %w", err)
		}
		if err == io.EOF && line == "" {
			return nil
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if perr := g.print(ctx, w, line); perr != nil {
			return fmt.Errorf("input line %d: %w", n, perr)
		}
		if err == io.EOF {
			return nil
		}
	}
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += n
	return n, err
}
