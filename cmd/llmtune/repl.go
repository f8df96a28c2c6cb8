package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/peterh/liner"
)

// The interactive session of llmtune generate, on a terminal.
//
// Keys: liner's line editing; Up/Down walk the history, which persists in historyPath.
// Ctrl-C at the prompt clears the line (liner's reset; it never quits). Ctrl-D on an
// empty line, or /bye, quits.
//
// Signals: while a prompt is being read the terminal is in raw mode, so Ctrl-C is a key
// and not a signal. While a completion is generated the terminal sends SIGINT, which
// stops that generation only. The session handles SIGINT and SIGTERM itself, on its own
// signal.Notify channel, and ignores the cancellation of the ctx it is given: main's
// signal.NotifyContext cancels that ctx for good at the first Ctrl-C, which must not end
// the session. SIGTERM ends the session (at once during a generation, else when the
// current line is entered).

const replPrompt = ">>> "

const replHelp = `Type a prompt and press Enter: its completion is printed as it is generated.
  /set NAME VALUE  change a setting: temperature, top_k, top_p, repetition_penalty,
                   max_new_tokens, seed (restarts the sampler), stop (replaces the stop
                   strings; escapes such as \n work; /set stop alone clears them)
  /show            show the settings
  /system [TEXT]   chat mode: set the system message and start a new conversation
                   (/system alone shows it; /system "" removes it)
  /reset           go back to the settings the session started with (and reseed);
                   in chat mode, also start a new conversation
  /help            this text
  /bye             quit (as does Ctrl-D on an empty line)
Ctrl-C stops a generation; at the prompt it clears the line. Up and Down recall
earlier lines. A line starting with // is a prompt starting with /.
`

// historyPath returns where the REPL keeps its history: $XDG_STATE_HOME/llmtune/history
// when XDG_STATE_HOME is set (to an absolute path, as the XDG spec requires), else
// ~/.llmtune_history.
func historyPath() (string, error) {
	if x := os.Getenv("XDG_STATE_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "llmtune", "history"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".llmtune_history"), nil
}

// repl runs the interactive session on the terminal of os.Stdin and os.Stdout (liner
// uses those), until Ctrl-D, /bye or SIGTERM. desc names the model in the banner.
// Problems with the history file are reported once on e.stderr and are not fatal.
func (g *generator) repl(ctx context.Context, e *env, desc string) error {
	line := liner.NewLiner()
	defer line.Close()
	line.SetCtrlCAborts(false)
	line.SetCompleter(completeCommand)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	g.keep = true
	s := &session{g: g, start: g.cfg, in: line, out: e.stdout, signals: sigs}
	hist, err := historyPath()
	warned := false
	warn := func(err error) {
		if !warned {
			fmt.Fprintf(e.stderr, "llmtune: history not saved: %v\n", oneLine(err.Error()))
			warned = true
		}
	}
	if err != nil {
		warn(err)
	} else {
		s.histPath = hist
		if f, err := os.Open(hist); err == nil {
			_, err := line.ReadHistory(f)
			f.Close()
			if err != nil {
				warn(fmt.Errorf("read %s: %w", hist, err))
			}
		}
		s.saveHistory = func() {
			if err := writeHistory(line, hist); err != nil {
				warn(err)
			}
		}
	}
	fmt.Fprintf(e.stdout, "llmtune generate: %s\n%s. /help for help; Ctrl-D or /bye quits.\n", desc, s.summary())
	return s.run(context.WithoutCancel(ctx))
}

// writeHistory replaces the history file at path by the history of line (atomically,
// creating its directory).
func writeHistory(line *liner.State, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".history-*")
	if err != nil {
		return err
	}
	_, err = line.WriteHistory(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// completeCommand completes the REPL's commands and the names after /set.
func completeCommand(line string) []string {
	var out []string
	if rest, ok := strings.CutPrefix(line, "/set "); ok {
		for _, s := range settings {
			if strings.HasPrefix(s.name, rest) {
				out = append(out, "/set "+s.name+" ")
			}
		}
		return out
	}
	for _, c := range []string{"/set ", "/show", "/system ", "/reset", "/help", "/bye"} {
		if strings.HasPrefix(c, line) && strings.HasPrefix(line, "/") {
			out = append(out, c)
		}
	}
	return out
}

// lineReader is what a session needs of liner.State.
type lineReader interface {
	Prompt(prompt string) (string, error)
	AppendHistory(item string)
}

// session is the state of one interactive session.
type session struct {
	g           *generator
	start       genSettings // for /reset
	in          lineReader
	out         io.Writer
	signals     <-chan os.Signal // SIGINT stops a generation, SIGTERM the session
	histPath    string           // shown by /show; "" if unknown
	saveHistory func()           // called after each line; nil: none
	terminated  bool             // SIGTERM seen
}

// run reads and handles lines until EOF, /bye or SIGTERM.
func (s *session) run(ctx context.Context) error {
	for !s.terminated {
		text, err := s.in.Prompt(replPrompt)
		if errors.Is(err, io.EOF) {
			fmt.Fprintln(s.out)
			return nil
		}
		if err != nil {
			return fmt.Errorf("generate: read prompt: %w", err)
		}
		if s.pending() == syscall.SIGTERM {
			return nil
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		s.in.AppendHistory(text)
		if s.saveHistory != nil {
			s.saveHistory()
		}
		if quit := s.handle(ctx, text); quit {
			return nil
		}
	}
	return nil
}

// pending drains the signals received while no generation ran and returns SIGTERM if
// it was among them (a SIGINT then is stale), else nil.
func (s *session) pending() os.Signal {
	var got os.Signal
	for {
		select {
		case sig := <-s.signals:
			if sig == syscall.SIGTERM {
				s.terminated = true
				got = sig
			}
		default:
			return got
		}
	}
}

// handle runs one command or completes one prompt, and reports whether to quit.
func (s *session) handle(ctx context.Context, text string) (quit bool) {
	if !strings.HasPrefix(text, "/") || strings.HasPrefix(text, "//") {
		s.generate(ctx, strings.TrimPrefix(text, "/"))
		return s.terminated
	}
	cmd, arg, _ := strings.Cut(strings.TrimSpace(text), " ")
	arg = strings.TrimSpace(arg)
	switch cmd {
	case "/bye", "/exit", "/quit":
		return true
	case "/help", "/?":
		fmt.Fprint(s.out, replHelp)
	case "/show":
		s.show()
	case "/reset":
		s.g.cfg = s.start
		s.g.reseed()
		if s.g.chat != nil {
			s.g.chat.reset()
			fmt.Fprintf(s.out, "settings reset, new conversation: %s\n", s.summary())
			break
		}
		fmt.Fprintf(s.out, "settings reset: %s\n", s.summary())
	case "/system":
		switch {
		case s.g.chat == nil:
			fmt.Fprintln(s.out, "/system works in chat mode only (a model with a chat template, without --raw)")
		case arg == "":
			fmt.Fprintf(s.out, "system: %q\n", s.g.chat.system)
		default:
			if arg == `""` {
				arg = ""
			}
			s.g.chat.system = arg
			s.g.chat.reset()
			fmt.Fprintf(s.out, "system: %q; new conversation\n", arg)
		}
	case "/set":
		if arg == "" {
			s.show()
			break
		}
		name, val, _ := strings.Cut(arg, " ")
		st, ok := findSetting(name)
		if !ok {
			fmt.Fprintf(s.out, "unknown setting %q; /show lists them\n", name)
			break
		}
		val = strings.TrimSpace(val)
		if val == "" && st.name != "stop" {
			fmt.Fprintf(s.out, "usage: /set %s VALUE\n", st.name)
			break
		}
		cur := s.g.cfg
		if st.name == "stop" {
			cur.Stop = nil
		}
		next, err := cur.set(st, val)
		if err != nil {
			fmt.Fprintln(s.out, oneLine(err.Error())) // e.g. "top_p: must be in (0, 1], got 0"
			break
		}
		s.g.cfg = next
		if st.name == "seed" {
			s.g.reseed()
		}
		fmt.Fprintf(s.out, "%s = %s\n", st.name, st.get(&s.g.cfg))
	default:
		fmt.Fprintf(s.out, "unknown command %s; /help lists the commands\n", cmd)
	}
	return false
}

// generate completes input, streaming it to s.out, until it ends or a signal stops it.
func (s *session) generate(ctx context.Context, input string) {
	if s.pending() == syscall.SIGTERM {
		return
	}
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done, got := make(chan struct{}), make(chan os.Signal, 1)
	go func() {
		select {
		case sig := <-s.signals:
			cancel()
			got <- sig
		case <-done:
			got <- nil
		}
	}()
	_, err := s.g.complete(gctx, s.out, input)
	close(done)
	sig := <-got
	switch {
	case sig == syscall.SIGTERM:
		s.terminated = true
		fmt.Fprintln(s.out)
	case sig != nil && errors.Is(err, context.Canceled):
		fmt.Fprintln(s.out, "^C")
	case err != nil:
		fmt.Fprintf(s.out, "\nerror: %s\n", oneLine(err.Error()))
	default:
		fmt.Fprintln(s.out)
	}
}

// show prints the settings, one a line.
func (s *session) show() {
	for _, st := range settings {
		fmt.Fprintf(s.out, "  %-18s %s\n", st.name, st.get(&s.g.cfg))
	}
	if c := s.g.chat; c != nil {
		fmt.Fprintf(s.out, "  %-18s %s, %d turns so far\n", "chat", c.source, len(c.turns))
		fmt.Fprintf(s.out, "  %-18s %q\n", "system", c.system)
	}
	if t := s.g.tmpl.String(); t != "" {
		fmt.Fprintf(s.out, "  %-18s %q\n", "template", t)
	}
	if s.histPath != "" {
		fmt.Fprintf(s.out, "  %-18s %s\n", "history", s.histPath)
	}
}

// summary describes the settings in a few words.
func (s *session) summary() string {
	c := s.g.cfg
	mode := "greedy"
	if c.Temperature > 0 {
		mode = fmt.Sprintf("sampling at temperature %g, seed %d", c.Temperature, c.Seed)
	}
	if s.g.chat != nil {
		return fmt.Sprintf("chat mode (%s), %s, max_new_tokens %d", s.g.chat.source, mode, c.MaxNewTokens)
	}
	return fmt.Sprintf("%s, max_new_tokens %d", mode, c.MaxNewTokens)
}
