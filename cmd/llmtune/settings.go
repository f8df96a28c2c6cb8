package main

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/llmtune/llmtune/transformer/generate"
)

// genSettings are what generate's flags and the REPL's /set change: the generation
// options and the sampling seed.
type genSettings struct {
	generate.Options
	Seed uint64
}

// defaultSettings returns the settings without a recipe: generate.DefaultOptions and
// seed 0.
func defaultSettings() genSettings {
	return genSettings{Options: generate.DefaultOptions()}
}

// setting is one generation setting: name is its recipe key and the REPL's /set NAME,
// flag its command-line flag. parse reads a value of the setting's type (a number is a
// number) into a genSettings; whether the value is allowed is for Options.Validate to
// say (see genSettings.set).
type setting struct {
	name, flag, usage string
	get               func(*genSettings) string
	parse             func(*genSettings, string) error
}

// settings lists the generation settings in the order /show prints them.
var settings = []setting{
	floatSetting("temperature", "sampling temperature `F`; 0 is greedy decoding",
		func(g *genSettings) *float64 { return &g.Temperature }),
	intSetting("top_k", "sample among the `N` most likely tokens; 0 is off",
		func(g *genSettings) *int { return &g.TopK }),
	floatSetting("top_p", "nucleus sampling: the most likely tokens holding probability `F`, in (0, 1]; 1 is off",
		func(g *genSettings) *float64 { return &g.TopP }),
	floatSetting("repetition_penalty", "divide the logits of tokens already seen by `F` (CTRL); 1 is off",
		func(g *genSettings) *float64 { return &g.RepetitionPenalty }),
	intSetting("max_new_tokens", "generate at most `N` tokens per prompt",
		func(g *genSettings) *int { return &g.MaxNewTokens }),
	{"seed", "seed", "seed `N` of the sampling generator",
		func(g *genSettings) string { return strconv.FormatUint(g.Seed, 10) },
		func(g *genSettings, v string) error {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
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
		func(g *genSettings, v string) error { // appends v; "" clears the list
			if v == "" {
				g.Stop = nil
				return nil
			}
			s, err := unescape(v)
			if err != nil {
				return err
			}
			g.Stop = append(slices.Clip(g.Stop), s)
			return nil
		}},
}

// floatSetting is the setting name of a float64 field; its flag is name with dashes.
func floatSetting(name, usage string, field func(*genSettings) *float64) setting {
	return setting{name, strings.ReplaceAll(name, "_", "-"), usage,
		func(g *genSettings) string { return strconv.FormatFloat(*field(g), 'g', -1, 64) },
		func(g *genSettings, v string) error {
			x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return fmt.Errorf("%q is not a number", v)
			}
			*field(g) = x
			return nil
		}}
}

// intSetting is the setting name of an int field; its flag is name with dashes.
func intSetting(name, usage string, field func(*genSettings) *int) setting {
	return setting{name, strings.ReplaceAll(name, "_", "-"), usage,
		func(g *genSettings) string { return strconv.Itoa(*field(g)) },
		func(g *genSettings, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%q is not an integer", v)
			}
			*field(g) = n
			return nil
		}}
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

// set returns g with s set to v, for valid settings g. The value is parsed by s and
// judged by Options.Validate; every error starts with the key it is about (s.name), e.g.
// "top_p: must be in (0, 1], got 0".
func (g genSettings) set(s *setting, v string) (genSettings, error) {
	if err := s.parse(&g, v); err != nil {
		return g, fmt.Errorf("%s: %w", s.name, err)
	}
	return g, g.Options.Validate()
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

// settingFlags defines a flag for every setting on fs and returns the values given, in
// command-line order. A value that does not parse is a flag error at once; the values
// that do are applied and judged by settingValues.apply, over defaults known only after
// parsing (the recipe's).
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

// settingValues are the generation-setting flags given, in command-line order.
type settingValues []settingValue

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
	if err := f.s.parse(&scratch, v); err != nil {
		return err
	}
	*f.vals = append(*f.vals, settingValue{f.s, v})
	return nil
}

// apply sets the values on g, valid settings, in order; the first --stop replaces g's
// stop list. The error names the flag instead of the key, e.g. "--top-p: must be in
// (0, 1], got 0".
func (sv settingValues) apply(g *genSettings) error {
	stopGiven := false
	for _, v := range sv {
		if v.s.name == "stop" && !stopGiven {
			g.Stop, stopGiven = nil, true
		}
		next, err := g.set(v.s, v.val)
		if err != nil {
			return flagProblems(err)
		}
		*g = next
	}
	return nil
}

// flagProblems rewrites the problems of err (one a line, each starting with a setting's
// key) to start with the setting's flag, joined with "; ".
func flagProblems(err error) error {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		if key, rest, ok := strings.Cut(l, ": "); ok {
			if s, ok := findSetting(key); ok {
				lines[i] = "--" + s.flag + ": " + rest
			}
		}
	}
	return errors.New(strings.Join(lines, "; "))
}
