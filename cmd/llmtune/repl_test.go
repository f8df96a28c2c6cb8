package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/llmtune/llmtune/transformer/generate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestMain makes the test binary act as llmtune itself when LLMTUNE_TEST_AS_MAIN=1, so
// that a test can run the real program (main, its signal handling, liner) on a
// pseudo-terminal without building it.
func TestMain(m *testing.M) {
	if os.Getenv("LLMTUNE_TEST_AS_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// script is a lineReader that returns its lines, then io.EOF; before each line it
// calls before, if set, with the line.
type script struct {
	lines   []string
	history []string
	before  func(line string)
}

func (s *script) Prompt(string) (string, error) {
	if len(s.lines) == 0 {
		return "", io.EOF
	}
	l := s.lines[0]
	s.lines = s.lines[1:]
	if s.before != nil {
		s.before(l)
	}
	return l, nil
}

func (s *script) AppendHistory(item string) { s.history = append(s.history, item) }

// newSession returns a session on the tiny model, greedy with max_new_tokens n, that
// reads lines and writes to out.
func newSession(t *testing.T, n int, lines []string, out io.Writer) (*session, *script, chan os.Signal) {
	t.Helper()
	m, tok, err := loadModel(tinyDir, "")
	require.NoError(t, err)
	g := &generator{model: m, tok: tok, cfg: defaultSettings()}
	g.cfg.MaxNewTokens = n
	g.reseed()
	in := &script{lines: lines}
	sigs := make(chan os.Signal, 1)
	return &session{g: g, start: g.cfg, in: in, out: out, signals: sigs}, in, sigs
}

func TestSessionCommands(t *testing.T) {
	var out bytes.Buffer
	s, in, _ := newSession(t, 8, []string{
		"/help",
		"/set temperature 0.5",
		"/set top_k many",
		"/set top_p 0",
		"/set top-p 0.9",
		"/set top_p 1",
		"/set bogus 1",
		"/set max_new_tokens",
		`/set stop \n`,
		"red cat",
		"/show",
		"/reset",
		"/set",
		"  ",
		"//red cat",
		"/frobnicate",
		"/bye",
		"never read",
	}, &out)
	require.NoError(t, s.run(context.Background()))
	got := out.String()
	sampled := complete(t, "red cat", generate.Options{MaxNewTokens: 8, Temperature: 0.5, TopP: 1, RepetitionPenalty: 1, Stop: []string{"\n"}}, 0)
	for _, want := range []string{
		"/set NAME VALUE",
		"temperature = 0.5\n",
		`top_k: "many" is not an integer` + "\n",
		"top_p: must be in (0, 1], got 0\ntop_p = 0.9\ntop_p = 1\n", // the bad value is refused
		`unknown setting "bogus"`,
		"usage: /set max_new_tokens VALUE",
		`stop = ["\n"]` + "\n",
		"\n" + sampled + "\n",
		"  temperature        0.5\n",
		`  stop               ["\n"]` + "\n",
		"settings reset: greedy, max_new_tokens 8\n",
		"  temperature        0\n  top_k              0\n",
		"\n" + complete(t, "/red cat", greedy(8), 0) + "\n",
		"unknown command /frobnicate",
	} {
		assert.Contains(t, got, want)
	}
	assert.Equal(t, []string{"never read"}, in.lines, "/bye quits")
	assert.NotContains(t, in.history, "  ", "blank lines are not history")
	assert.Contains(t, in.history, "red cat")
}

// interrupter is an output that, armed, sends sig on the next write and then gives the
// session's signal handling time to act.
type interrupter struct {
	buf   bytes.Buffer // not embedded: its WriteString would bypass Write
	sigs  chan os.Signal
	sig   os.Signal
	armed bool
}

func (w *interrupter) Write(p []byte) (int, error) {
	if w.armed {
		w.armed = false
		w.sigs <- w.sig
		time.Sleep(100 * time.Millisecond)
	}
	return w.buf.Write(p)
}

func (w *interrupter) String() string { return w.buf.String() }

func TestSessionInterrupt(t *testing.T) {
	full := complete(t, "red cat", greedy(100), 0)
	w := &interrupter{sig: os.Interrupt}
	s, in, sigs := newSession(t, 100, []string{"red cat", "/show"}, w)
	w.sigs = sigs
	in.before = func(l string) { w.armed = l == "red cat" }
	require.NoError(t, s.run(context.Background()))
	got, _, ok := strings.Cut(w.String(), "^C\n")
	require.True(t, ok, "Ctrl-C stops the generation: %q", w.String())
	assert.Less(t, len(got), len(full), "the completion was cut short")
	assert.True(t, strings.HasPrefix(full, got), "%q starts the completion %q", got, full)
	assert.Contains(t, w.String(), "max_new_tokens     100", "the session goes on")

	// A SIGINT left over from while the prompt was read is ignored.
	var out bytes.Buffer
	s, _, sigs = newSession(t, 100, []string{"red cat"}, &out)
	sigs <- os.Interrupt
	require.NoError(t, s.run(context.Background()))
	assert.Equal(t, full+"\n\n", out.String())

	// SIGTERM ends the session.
	w = &interrupter{sig: syscall.SIGTERM}
	s, in, sigs = newSession(t, 100, []string{"red cat", "/show"}, w)
	w.sigs = sigs
	in.before = func(l string) { w.armed = l == "red cat" }
	require.NoError(t, s.run(context.Background()))
	assert.NotContains(t, w.String(), "max_new_tokens")
	assert.Equal(t, []string{"/show"}, in.lines)
}

func TestHistoryPath(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/state")
	p, err := historyPath()
	require.NoError(t, err)
	assert.Equal(t, "/state/llmtune/history", p)
	t.Setenv("XDG_STATE_HOME", "relative") // not absolute: ignored, as the XDG spec says
	t.Setenv("HOME", "/home/u")
	p, err = historyPath()
	require.NoError(t, err)
	assert.Equal(t, "/home/u/.llmtune_history", p)
}

// openPTY returns the two ends of a new pseudo-terminal of 24×100.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	require.NoError(t, err, "open /dev/ptmx: the REPL test needs pseudo-terminals")
	t.Cleanup(func() { master.Close() })
	raw, err := master.SyscallConn()
	require.NoError(t, err)
	var n int
	var ierr error
	require.NoError(t, raw.Control(func(fd uintptr) {
		if ierr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ierr == nil {
			n, ierr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
		}
	}))
	require.NoError(t, ierr, "unlock the pseudo-terminal")
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	require.NoError(t, err)
	require.NoError(t, unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 100}))
	return master, slave
}

// screen collects what a program writes to a pseudo-terminal.
type screen struct {
	t    *testing.T
	mu   sync.Mutex
	buf  bytes.Buffer
	mark int // expect looks after this offset
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// text returns the output after the mark, without carriage returns.
func (s *screen) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.ReplaceAll(s.buf.String()[s.mark:], "\r", "")
}

// expect waits until want appears after the mark, moves the mark past it, and returns
// what it passed over, without carriage returns.
func (s *screen) expect(want string) string {
	s.t.Helper()
	want = strings.ReplaceAll(want, "\r", "")
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		s.mu.Lock()
		all := s.buf.String()
		seen := strings.ReplaceAll(all[s.mark:], "\r", "")
		if i := strings.Index(seen, want); i >= 0 {
			// Move the mark past the match in the raw output.
			end := i + len(want)
			for j, k := s.mark, 0; j < len(all); j++ {
				if all[j] != '\r' {
					k++
				}
				if k == end {
					s.mark = j + 1
					break
				}
			}
			s.mu.Unlock()
			return seen[:end]
		}
		s.mu.Unlock()
	}
	s.t.Fatalf("waited 10s for %q; the terminal shows %q", want, s.text())
	return ""
}

// TestREPLTerminal runs llmtune generate on a pseudo-terminal and types into it: a
// prompt (its completion appears), Up (the line comes back) and Enter, a SIGINT at the
// prompt (main's context is then cancelled; the session goes on), Ctrl-C during a
// generation and at the prompt, and Ctrl-D, which quits with status 0.
func TestREPLTerminal(t *testing.T) {
	master, slave := openPTY(t)
	state := t.TempDir()
	cmd := exec.Command(os.Args[0], "generate", "--model", tinyDir, "--max-new-tokens", "8")
	cmd.Env = append(os.Environ(), "LLMTUNE_TEST_AS_MAIN=1", "TERM=xterm", "XDG_STATE_HOME="+state)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	require.NoError(t, cmd.Start())
	slave.Close()
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	})
	scr := &screen{t: t}
	go io.Copy(scr, master) // ends with EIO when the program exits
	typing := func(s string) {
		t.Helper()
		_, err := master.Write([]byte(s))
		require.NoError(t, err)
	}

	scr.expect("/help for help")
	scr.expect(">>> ")
	typing("red cat\r")
	want := complete(t, "red cat", greedy(8), 0)
	scr.expect("red cat\n" + want + "\n")
	scr.expect(">>> ")
	typing("\x1b[A") // Up
	scr.expect("red cat")
	typing("\r")
	scr.expect("\n" + want + "\n")
	scr.expect(">>> ")

	// A SIGINT while the prompt is read (not from the keyboard: the terminal is raw then)
	// cancels main's context, which must not stop the next generation.
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	time.Sleep(200 * time.Millisecond)
	typing("sea big\r")
	scr.expect("\n" + complete(t, "sea big", greedy(8), 0) + "\n")
	scr.expect(">>> ")

	// Ctrl-C during a generation stops it (if it is still running when the key arrives:
	// the tiny model is fast); the session goes on either way.
	typing("/set max_new_tokens 100\r")
	scr.expect("max_new_tokens = 100\n")
	scr.expect(">>> ")
	typing("green bird\r")
	scr.expect("green bird\n")
	typing("\x03")
	got := scr.expect(">>> ")
	t.Logf("Ctrl-C during the generation: %q (interrupted: %v)", got, strings.Contains(got, "^C\n"))
	typing("/show\r")
	scr.expect("max_new_tokens     100")
	scr.expect(">>> ")

	// Ctrl-C at the prompt clears the line; Ctrl-D on the empty line quits.
	typing("abc")
	scr.expect("abc")
	typing("\x03")
	scr.expect("^C\n>>> ")
	typing("\x04")
	select {
	case <-exited:
		require.NoError(t, waitErr, "exit status; the terminal shows %q", scr.text())
	case <-time.After(10 * time.Second):
		t.Fatalf("Ctrl-D did not end the session; the terminal shows %q", scr.text())
	}

	hist, err := os.ReadFile(filepath.Join(state, "llmtune", "history"))
	require.NoError(t, err)
	assert.Equal(t, "red cat\nsea big\n/set max_new_tokens 100\ngreen bird\n/show\n", string(hist))
}
