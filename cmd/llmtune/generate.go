package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	"golang.org/x/term"

	"github.com/llmtune/llmtune/lora"
	"github.com/llmtune/llmtune/tokenizer"
	"github.com/llmtune/llmtune/trainer"
	"github.com/llmtune/llmtune/transformer"
	"github.com/llmtune/llmtune/transformer/generate"
)

const generateArgs = "--model DIR [--adapter DIR] [--prompt TEXT] [--recipe R] [--template T]\n" +
	"            [--temperature F] [--top-k N] [--top-p F] [--repetition-penalty F]\n" +
	"            [--max-new-tokens N] [--stop S]... [--seed N]"

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

Settings come from the flags, else from the recipe's generation: section (--recipe),
else from the defaults below: greedy (temperature 0), 64 new tokens. Sampling uses a
generator seeded with --seed (the recipe's seed with --recipe), so a run is
reproducible; its stream continues across the prompts of one session. --stop accepts
escapes such as \n; given once or more it replaces the recipe's stop list.`)
	model := fs.String("model", "", "model `DIR` (HF GPT-2 checkpoint with tokenizer files; default: the recipe's base_model)")
	adapter := fs.String("adapter", "", "LoRA adapter `DIR` to apply (PEFT format, from llmtune or PEFT; a run saves OUTPUT_DIR/adapter)")
	prompt := fs.String("prompt", "", "complete this `TEXT` and exit")
	recipePath := fs.String("recipe", "", "take the generation settings (and seed, base_model) of this recipe `FILE` as defaults")
	tmplFlag := fs.String("template", "", "wrap each input in this `TEMPLATE`: {prompt} or {source} stands for the input, and\n"+
		"everything from {completion} or {target} on is dropped (e.g. \"English: {source}\\nSpanish: \")")
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
	cfg := defaultSettings()
	if *recipePath != "" {
		rec, err := trainer.LoadRecipe(*recipePath)
		if err != nil {
			return err
		}
		cfg = genSettings{Options: rec.Generation, Seed: rec.Seed}
		if *model == "" {
			*model = rec.BaseModel
		}
	}
	if err := sets.apply(&cfg); err != nil {
		return usagef("generate: %v", err)
	}
	if *model == "" {
		return usagef("generate: missing --model")
	}
	m, tok, err := loadModel(*model, *adapter)
	if err != nil {
		return err
	}
	g := &generator{model: m, tok: tok, tmpl: tmpl, cfg: cfg}
	g.reseed()
	switch {
	case isFlagSet(fs, "prompt"):
		return g.print(ctx, e.stdout, *prompt)
	case isTerminal(e.stdin) && isTerminal(e.stdout):
		desc := *model
		if *adapter != "" {
			desc += " + " + *adapter
		}
		return g.repl(ctx, e, desc)
	default:
		return g.lines(ctx, e.stdin, e.stdout)
	}
}

// loadModel loads the model in dir, its tokenizer, and the adapter in adapterDir unless
// it is "".
func loadModel(dir, adapterDir string) (*transformer.Model, *tokenizer.BPE, error) {
	m, err := transformer.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	if tok.VocabSize() > m.Config.VocabSize {
		return nil, nil, fmt.Errorf("model %s: the tokenizer has %d tokens, the model's vocab_size is %d", dir, tok.VocabSize(), m.Config.VocabSize)
	}
	if adapterDir != "" {
		if _, err := lora.Load(m, adapterDir); err != nil {
			return nil, nil, err
		}
	}
	return m, tok, nil
}

// isTerminal reports whether r is an *os.File open on a terminal.
func isTerminal(r any) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// isFlagSet reports whether the flag name was given on the command line.
func isFlagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// genSettings are what generate's flags and the REPL's /set change: the recipe's
// generation settings and the sampling seed.
type genSettings struct {
	generate.Options
	Seed uint64
}

// defaultSettings returns the settings without a recipe: the recipe defaults (greedy,
// 64 new tokens, no stop string) and seed 0.
func defaultSettings() genSettings {
	return genSettings{Options: generate.DefaultOptions()}
}

// setting is one generation setting: name is its recipe key and the REPL's /set NAME,
// flag its command-line flag. set parses and checks a value, the error saying what is
// allowed; for stop it appends a stop string, and an empty value clears the list.
type setting struct {
	name, flag, usage string
	get               func(*genSettings) string
	set               func(*genSettings, string) error
}

// settings lists the generation settings in the order /show prints them.
var settings = []setting{
	{"temperature", "temperature", "sampling temperature `F`; 0 is greedy decoding",
		func(g *genSettings) string { return fmtFloat(g.Temperature) },
		func(g *genSettings, v string) error {
			return setFloat(&g.Temperature, v, func(x float64) bool { return x >= 0 }, "≥ 0 (0 = greedy)")
		}},
	{"top_k", "top-k", "sample among the `N` most likely tokens; 0 is off",
		func(g *genSettings) string { return strconv.Itoa(g.TopK) },
		func(g *genSettings, v string) error { return setInt(&g.TopK, v, 0, "≥ 0 (0 = off)") }},
	{"top_p", "top-p", "nucleus sampling: the most likely tokens holding probability `F`, in (0, 1]; 1 is off",
		func(g *genSettings) string { return fmtFloat(g.TopP) },
		func(g *genSettings, v string) error {
			return setFloat(&g.TopP, v, func(x float64) bool { return x > 0 && x <= 1 }, "in (0, 1] (1 = off)")
		}},
	{"repetition_penalty", "repetition-penalty", "divide the logits of tokens already seen by `F` (CTRL); 1 is off",
		func(g *genSettings) string { return fmtFloat(g.RepetitionPenalty) },
		func(g *genSettings, v string) error {
			return setFloat(&g.RepetitionPenalty, v, func(x float64) bool { return x > 0 }, "> 0 (1 = off)")
		}},
	{"max_new_tokens", "max-new-tokens", "generate at most `N` tokens per prompt",
		func(g *genSettings) string { return strconv.Itoa(g.MaxNewTokens) },
		func(g *genSettings, v string) error { return setInt(&g.MaxNewTokens, v, 1, "≥ 1") }},
	{"seed", "seed", "seed `N` of the sampling generator",
		func(g *genSettings) string { return strconv.FormatUint(g.Seed, 10) },
		func(g *genSettings, v string) error {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return fmt.Errorf("%q is not a seed (an integer ≥ 0)", v)
			}
			g.Seed = n
			return nil
		}},
	{"stop", "stop", "stop at string `S` (repeatable; escapes such as \\n work; \"\" clears the recipe's)",
		func(g *genSettings) string {
			q := make([]string, len(g.Stop))
			for i, s := range g.Stop {
				q[i] = strconv.Quote(s)
			}
			return "[" + strings.Join(q, ", ") + "]"
		},
		func(g *genSettings, v string) error {
			if v == "" {
				g.Stop = nil
				return nil
			}
			s, err := unescape(v)
			if err != nil {
				return err
			}
			g.Stop = append(g.Stop, s)
			return nil
		}},
}

// findSetting returns the setting called name (a recipe key like top_k; the flag
// spelling top-k is accepted too).
func findSetting(name string) (*setting, bool) {
	for i := range settings {
		if s := &settings[i]; s.name == name || s.flag == name {
			return s, true
		}
	}
	return nil, false
}

func fmtFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

func setFloat(dst *float64, v string, ok func(float64) bool, want string) error {
	x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return fmt.Errorf("%q is not a number", v)
	}
	if !ok(x) {
		return fmt.Errorf("%s must be %s", v, want)
	}
	*dst = x
	return nil
}

func setInt(dst *int, v string, lo int, want string) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("%q is not an integer", v)
	}
	if n < lo {
		return fmt.Errorf("%d must be %s", n, want)
	}
	*dst = n
	return nil
}

// unescape interprets Go escapes (\n, \t, \\, \u00e9, …) in s.
func unescape(s string) (string, error) {
	var b strings.Builder
	for rest := s; rest != ""; {
		r, multi, tail, err := strconv.UnquoteChar(rest, 0)
		if err != nil {
			return "", fmt.Errorf("bad escape in %q (use \\n, \\t, \\\\ …)", s)
		}
		if multi || r >= 0x80 {
			b.WriteRune(r)
		} else {
			b.WriteByte(byte(r))
		}
		rest = tail
	}
	return b.String(), nil
}

// settingValues collects the generation-setting flags in command-line order, checked as
// they are parsed; apply sets them over defaults that are known only after parsing (the
// recipe's).
type settingValues struct {
	given []settingValue
}

type settingValue struct {
	s   *setting
	val string
}

// flagValue is the flag.Value of one setting.
type flagValue struct {
	s    *setting
	vals *settingValues
	def  string
}

func (f *flagValue) String() string {
	if f == nil || f.s == nil {
		return ""
	}
	return f.def
}

func (f *flagValue) Set(v string) error {
	scratch := defaultSettings()
	if err := f.s.set(&scratch, v); err != nil {
		return err
	}
	f.vals.given = append(f.vals.given, settingValue{f.s, v})
	return nil
}

// settingFlags defines a flag for every setting on fs.
func settingFlags(fs *flag.FlagSet) *settingValues {
	vals := &settingValues{}
	def := defaultSettings()
	for i := range settings {
		s := &settings[i]
		d := s.get(&def)
		if s.name == "stop" {
			d = "" // none
		}
		fs.Var(&flagValue{s: s, vals: vals, def: d}, s.flag, s.usage)
	}
	return vals
}

// apply sets the collected values on g in order; the first --stop replaces g's stop list.
func (sv *settingValues) apply(g *genSettings) error {
	stopGiven := false
	for _, v := range sv.given {
		if v.s.name == "stop" && !stopGiven {
			g.Stop, stopGiven = nil, true
		}
		if err := v.s.set(g, v.val); err != nil {
			return fmt.Errorf("--%s: %v", v.s.flag, err)
		}
	}
	return nil
}

// parseGenTemplate parses --template: escapes are interpreted, then it is a prompt
// template (generate.ParsePromptTemplate); "" renders each input as it is.
func parseGenTemplate(t string) (generate.Template, error) {
	if t == "" {
		return generate.Template{}, nil
	}
	s, err := unescape(t)
	if err != nil {
		return generate.Template{}, err
	}
	return generate.ParsePromptTemplate(s)
}

// generator completes prompts with one model and the current settings.
type generator struct {
	model *transformer.Model
	tok   *tokenizer.BPE
	tmpl  generate.Template
	cfg   genSettings
	rng   *rand.Rand
}

// reseed restarts the sampling generator from cfg.Seed. The stream constant is the
// trainer's, so a recipe's evaluation samples are reproduced by generate --recipe.
func (g *generator) reseed() {
	g.rng = generate.NewRand(g.cfg.Seed)
}

// complete writes the completion of input to w as it is produced and returns it.
func (g *generator) complete(ctx context.Context, w io.Writer, input string) (string, error) {
	var werr error
	s, err := generate.Complete(ctx, g.model, g.tok, g.tmpl.Prompt(input), g.cfg.Options, g.rng, func(piece string) {
		if werr == nil {
			_, werr = io.WriteString(w, piece)
		}
	})
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
