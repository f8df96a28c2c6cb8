package trainer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/llmtune/llmtune/internal/atomicfile"
	"github.com/llmtune/llmtune/trainer/chart"
)

// metricsLog appends one JSON object per line to output_dir/metrics.jsonl.
type metricsLog struct {
	path string
	f    *os.File
}

// openMetrics opens the metrics log for appending. A resumed run first drops the lines
// of steps after the checkpoint it resumed from (the interrupted run's last steps are
// trained again, and logged again without duplicates), and any torn line, with a warning
// on warn (if not nil): one without its newline, or not a JSON object with a step, as a
// run killed in the middle of a write or a crash can leave at the end. A fresh run starts
// an empty log.
func openMetrics(path string, resumeStep int, resumed bool, warn io.Writer) (*metricsLog, error) {
	var keep []byte
	if resumed {
		old, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		for i, line := range bytes.SplitAfter(old, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			var v struct {
				Step *int `json:"step"`
			}
			torn := ""
			switch {
			case !bytes.HasSuffix(line, []byte("\n")):
				torn = "no newline at its end"
			case json.Unmarshal(line, &v) != nil:
				torn = "not valid JSON"
			case v.Step == nil:
				torn = "no step"
			}
			if torn != "" {
				if warn != nil {
					fmt.Fprintf(warn, "warning: ignoring line %d of %s, which is torn (%s): %.40q\n", i+1, path, torn, line)
				}
				continue
			}
			if *v.Step <= resumeStep {
				keep = append(keep, line...)
			}
		}
	}
	if err := atomicfile.WriteFile(path, keep); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &metricsLog{path: path, f: f}, nil
}

// write appends v as one line. The line and its newline go in one write to a file
// opened with O_APPEND, so lines never interleave and a kill can only cut the last one
// short, which openMetrics recognises.
func (l *metricsLog) write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", l.path, err)
	}
	return nil
}

func (l *metricsLog) close() error { return l.f.Close() }

// readMetrics reads a metrics.jsonl back: the training lines and the evaluation lines.
func readMetrics(path string) ([]StepLog, []EvalLog, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var steps []StepLog
	var evals []EvalLog
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		if bytes.Contains(line, []byte(`"eval_loss"`)) {
			var e EvalLog
			if err := json.Unmarshal(line, &e); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", path, err)
			}
			evals = append(evals, e)
		} else if len(bytes.TrimSpace(line)) > 0 {
			var s StepLog
			if err := json.Unmarshal(line, &s); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", path, err)
			}
			steps = append(steps, s)
		}
	}
	return steps, evals, sc.Err()
}

// MarshalJSON writes e as a metrics.jsonl line. JSON has no infinity: a perplexity that
// overflows (an evaluation loss above ~709, as early in a diverging run) is written as
// null, which UnmarshalJSON reads back as +Inf.
func (e EvalLog) MarshalJSON() ([]byte, error) {
	type plain EvalLog
	if !math.IsInf(e.EvalPerplexity, 1) {
		return json.Marshal(plain(e))
	}
	return json.Marshal(struct {
		plain
		EvalPerplexity *float64 `json:"eval_perplexity"` // null
	}{plain: plain(e)})
}

// UnmarshalJSON reads a metrics.jsonl evaluation line (see MarshalJSON).
func (e *EvalLog) UnmarshalJSON(b []byte) error {
	type plain EvalLog
	var v struct {
		plain
		EvalPerplexity *float64 `json:"eval_perplexity"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*e = EvalLog(v.plain)
	e.EvalPerplexity = math.Inf(1)
	if v.EvalPerplexity != nil {
		e.EvalPerplexity = *v.EvalPerplexity
	}
	return nil
}

// plot draws output_dir/loss.png from metrics.jsonl (see chart.Loss).
func (t *run) plot() error {
	dir := t.recipe.OutputDir
	steps, evals, err := readMetrics(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		return err
	}
	var train, eval, lr []chart.Point
	for _, s := range steps {
		train = append(train, chart.Point{Step: s.Step, Value: s.Loss})
		lr = append(lr, chart.Point{Step: s.Step, Value: s.LR})
	}
	for _, e := range evals {
		eval = append(eval, chart.Point{Step: e.Step, Value: e.EvalLoss})
	}
	out := filepath.Join(dir, "loss.png")
	img, err := chart.Loss(train, eval, lr)
	if err != nil {
		return fmt.Errorf("plot %s: %w", out, err)
	}
	return atomicfile.WriteFile(out, img)
}

// progress reports training progress on a writer: a bar redrawn in place on a terminal,
// one line per logging step otherwise. A nil writer reports nothing.
type progress struct {
	w     io.Writer
	tty   bool
	total int
}

func newProgress(w io.Writer, total int) *progress {
	p := &progress{w: w, total: total}
	if f, ok := w.(*os.File); ok {
		p.tty = term.IsTerminal(int(f.Fd()))
	}
	return p
}

func (p *progress) step(l StepLog) {
	if p.w == nil {
		return
	}
	msg := fmt.Sprintf("step %d/%d  loss %.4f  lr %.3g  grad_norm %.3g  %.0f tok/s  %.0fs",
		l.Step, p.total, l.Loss, l.LR, l.GradNorm, l.TokensPerS, l.ElapsedS)
	if !p.tty {
		fmt.Fprintln(p.w, msg)
		return
	}
	const width = 24
	done := width * l.Step / max(p.total, 1)
	fmt.Fprintf(p.w, "\r\033[K[%s%s] %s", strings.Repeat("=", done), strings.Repeat(" ", width-done), msg)
}

func (p *progress) eval(e EvalLog) {
	if p.w == nil {
		return
	}
	msg := fmt.Sprintf("eval step %d  eval_loss %.4f  eval_perplexity %.3f", e.Step, e.EvalLoss, e.EvalPerplexity)
	if e.EvalBLEU != nil {
		msg += fmt.Sprintf("  eval_bleu %.2f", *e.EvalBLEU)
	}
	if e.EvalChrF != nil {
		msg += fmt.Sprintf("  eval_chrf %.2f", *e.EvalChrF)
	}
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintln(p.w, msg)
	writeSamples(p.w, e.Samples)
}

func (p *progress) done() {
	if p != nil && p.w != nil && p.tty {
		fmt.Fprintln(p.w)
	}
}

// writeSamples prints samples, one block each.
func writeSamples(w io.Writer, samples []Sample) {
	for _, s := range samples {
		fmt.Fprintf(w, "  prompt:    %q\n  generated: %q\n  reference: %q\n", s.Prompt, s.Hypothesis, s.Reference)
	}
}
