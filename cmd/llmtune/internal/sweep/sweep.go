// Package sweep runs llmtune's sweep files (see sweeps/lora-vs-full.yaml): every variant
// of a recipe at every learning rate of its grid, each as its own "llmtune run" process,
// the rate picked on validation loss and the pick evaluated on the recipe's own split,
// with a JSON record per run, a summary table and a loss-against-parameters plot. The
// llmtune sweep command parses the flags; this package does the rest.
package sweep

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/llmtune/llmtune/internal/atomicfile"
	"github.com/llmtune/llmtune/lora"
	"github.com/llmtune/llmtune/tokenizer"
	"github.com/llmtune/llmtune/trainer"
	"github.com/llmtune/llmtune/trainer/chart"
	"github.com/llmtune/llmtune/trainer/dataset"
	"github.com/llmtune/llmtune/transformer"
)

// The files a sweep writes under its output_dir: per run RECIPE/VARIANT/lr-LR/ (the
// run's own output_dir, with RunFile and logFile), per recipe × variant
// RECIPE/VARIANT/TestFile, and at the top the summary, table and plot.
const (
	RunFile     = "run.json"
	logFile     = "log.txt"
	sweepLock   = "sweep.lock" // held by the sweep process running the run (or evaluating the group)
	TestFile    = "test.json"
	SummaryJSON = "summary.json"
	SummaryMD   = "summary.md"
	SummaryPNG  = "loss-vs-params.png"
)

// File is a sweep's YAML file (see sweeps/lora-vs-full.yaml): every variant at
// every learning rate of its grid, on every recipe.
type File struct {
	// OutputDir receives the runs, their JSON, the summary, the table and the plot.
	OutputDir string        `yaml:"output_dir"`
	Recipes   []sweepRecipe `yaml:"recipes"`
	Variants  []sweepVar    `yaml:"variants"`

	path string // the file, for messages
}

// sweepRecipe is a recipe of the sweep.
type sweepRecipe struct {
	Name string `yaml:"name"`
	Path string `yaml:"recipe"`
	// Overrides apply to every run of the recipe (llmtune run's key=value and ~key).
	Overrides []string `yaml:"overrides"`
	// Validation applies to the training runs only (phase 1), to evaluate them on a
	// validation split instead of the recipe's own evaluation split.
	Validation []string `yaml:"validation"`

	line int
}

// sweepVar is a variant: overrides applied to every recipe, and its learning rates.
type sweepVar struct {
	Name          string    `yaml:"name"`
	Overrides     []string  `yaml:"overrides"`
	LearningRates []float64 `yaml:"learning_rates"`
	// RecipeLearningRates replaces LearningRates on the recipes it names.
	RecipeLearningRates map[string][]float64 `yaml:"recipe_learning_rates"`

	line int
}

// Group is one recipe × variant: a training run at each learning rate (phase 1,
// evaluated on the validation split), then the run with the lowest validation loss
// evaluated on the recipe's own evaluation split (phase 2).
type Group struct {
	recipe  *sweepRecipe
	variant *sweepVar
	dir     string
	runs    []*sweepRun
	test    *trainer.Recipe // the recipe with the variant's overrides, as phase 2 evaluates
	valData string          // what phase 1 evaluates on, in words
}

// sweepRun is one training run of phase 1.
type sweepRun struct {
	group *Group
	lr    float64
	dir   string
	args  []string // after llmtune run RECIPE
}

// Record is one JSON file of a sweep: a training run (phase "validation", run.json)
// or the picked run evaluated on the recipe's evaluation split (phase "test",
// test.json, which repeats the picked run's training figures).
type Record struct {
	Recipe       string  `json:"recipe"`
	Variant      string  `json:"variant"`
	Phase        string  `json:"phase"`
	LearningRate float64 `json:"learning_rate"`
	EvalData     string  `json:"eval_data"`
	Steps        int     `json:"steps"`

	EvalLoss       *float64 `json:"eval_loss"`
	EvalPerplexity *float64 `json:"eval_perplexity"`
	EvalBLEU       *float64 `json:"eval_bleu,omitempty"`
	EvalChrF       *float64 `json:"eval_chrf,omitempty"`
	EvalTokens     int      `json:"eval_tokens"`
	// StartEvalLoss is the untouched model's loss on the same split (phase validation).
	StartEvalLoss *float64 `json:"start_eval_loss,omitempty"`
	// ValidationLoss is the picked run's validation loss, ValidationLosses every learning
	// rate's (phase test); PickedAtEdge says the pick is the grid's smallest or largest.
	ValidationLoss   *float64 `json:"validation_loss,omitempty"`
	ValidationLosses []lrLoss `json:"validation_losses,omitempty"`
	PickedAtEdge     bool     `json:"picked_at_edge,omitempty"`
	TrainableParams  int      `json:"trainable_params"`
	ModelParams      int      `json:"model_params"`
	TrainablePercent float64  `json:"trainable_percent"` // of ModelParams (the base model's)
	WallS            float64  `json:"wall_s"`            // the whole `llmtune run`: load, evaluations, training, saving
	TokensPerS       float64  `json:"tokens_per_s"`      // training only: the median of metrics.jsonl's windows
	PeakRSSMB        *float64 `json:"peak_rss_mb"`       // MiB, the run's process (getrusage), null where unknown
	AdapterBytes     int64    `json:"adapter_bytes"`     // adapter/*.safetensors, or model/*.safetensors without an adapter
	Resumed          bool     `json:"resumed,omitempty"` // continued from a checkpoint: WallS is the last part's
	Diverged         string   `json:"diverged,omitempty"`
	RunDir           string   `json:"run_dir"`
	Command          []string `json:"command,omitempty"` // llmtune run … (phase validation)
}

// lrLoss is one learning rate's validation loss (nil: the run diverged).
type lrLoss struct {
	LearningRate float64  `json:"learning_rate"`
	EvalLoss     *float64 `json:"eval_loss"`
}

// cmdSweep is llmtune sweep: every variant × learning rate of a sweep file on every
// recipe, each run a child `llmtune run`, the learning rate picked on validation loss.

// Load reads and strictly decodes a sweep file: an unknown or duplicate key, or a
// value of the wrong type, is an error naming the file and line.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load sweep: %w", err)
	}
	sw := &File{path: path}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(sw); err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("%s: the sweep file is empty", path)
		}
		return nil, yamlError(path, err)
	}
	var root yaml.Node // for the line of each recipe and variant
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(path, err)
	}
	for _, sec := range []struct {
		key   string
		lines func(i int) *int
	}{
		{"recipes", func(i int) *int { return &sw.Recipes[i].line }},
		{"variants", func(i int) *int { return &sw.Variants[i].line }},
	} {
		if n := mappingNode(&root, sec.key); n != nil {
			for i, item := range n.Content {
				*sec.lines(i) = item.Line
			}
		}
	}
	return sw, sw.validate()
}

// mappingNode returns the value of key in the document's top mapping, or nil.
func mappingNode(doc *yaml.Node, key string) *yaml.Node {
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

var (
	yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)
	yamlType = regexp.MustCompile(` in type main\.\w+`)
)

// yamlError rewrites a YAML decoding error as one problem a line, "FILE:LINE: what".
func yamlError(path string, err error) error {
	msgs := []string{err.Error()}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for i, m := range msgs {
		m = yamlType.ReplaceAllString(strings.TrimSpace(m), "")
		if sm := yamlLine.FindStringSubmatch(m); sm != nil {
			msgs[i] = path + ":" + sm[1] + ": " + m[len(sm[0]):]
		} else {
			msgs[i] = path + ": " + strings.TrimPrefix(m, "yaml: ")
		}
	}
	return errors.New(strings.Join(msgs, "\n"))
}

// nameRE is what a recipe's or variant's name may be: it names directories.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// validate checks the file's own values (the recipes and overrides are checked by plan).
func (sw *File) validate() error {
	var errs []error
	bad := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s", sw.path, line, fmt.Sprintf(format, args...)))
	}
	if sw.OutputDir == "" {
		errs = append(errs, fmt.Errorf("%s: output_dir is required", sw.path))
	}
	if len(sw.Recipes) == 0 || len(sw.Variants) == 0 {
		errs = append(errs, fmt.Errorf("%s: recipes and variants must each list at least one", sw.path))
	}
	seen := map[string]int{}
	name := func(kind, n string, line int) {
		switch {
		case !nameRE.MatchString(n):
			bad(line, "%s name %q must be letters, digits, '.', '_' or '-' (it names a directory)", kind, n)
		case seen[n] > 0:
			bad(line, "%s name %q is already used at line %d", kind, n, seen[n])
		default:
			seen[n] = line
		}
	}
	for _, r := range sw.Recipes {
		name("recipe", r.Name, r.line)
		if r.Path == "" {
			bad(r.line, "recipe %s: recipe (the recipe file) is required", r.Name)
		}
	}
	grid := func(v sweepVar, key string, lrs []float64) {
		if len(lrs) == 0 {
			bad(v.line, "variant %s: %s must list at least one", v.Name, key)
		}
		for i, lr := range lrs {
			if !(lr > 0) || math.IsInf(lr, 0) {
				bad(v.line, "variant %s: %s: %g must be > 0", v.Name, key, lr)
			} else if slices.Index(lrs, lr) < i {
				bad(v.line, "variant %s: %s: %g is listed twice", v.Name, key, lr)
			}
		}
	}
	for _, v := range sw.Variants {
		name("variant", v.Name, v.line)
		grid(v, "learning_rates", v.LearningRates)
		for _, r := range slices.Sorted(maps.Keys(v.RecipeLearningRates)) {
			if !slices.ContainsFunc(sw.Recipes, func(sr sweepRecipe) bool { return sr.Name == r }) {
				bad(v.line, "variant %s: recipe_learning_rates: %q names no recipe of the sweep", v.Name, r)
			}
			grid(v, "recipe_learning_rates: "+r, v.RecipeLearningRates[r])
		}
	}
	return errors.Join(errs...)
}

// plan returns every recipe × variant with its runs, having loaded each run's recipe
// with its overrides (so that a wrong override stops the sweep before it starts) and
// checked that all runs of a recipe share data, seed, training budget and evaluation,
// and that phase 1 evaluates on a split other than the recipe's own.
func (sw *File) Plan() ([]*Group, error) {
	var groups []*Group
	var errs []error
	for ri := range sw.Recipes {
		sr := &sw.Recipes[ri]
		if _, err := trainer.LoadRecipe(sr.Path); err != nil {
			return nil, fmt.Errorf("%s:%d: recipe %s: %w", sw.path, sr.line, sr.Name, err)
		}
		var first *trainer.Recipe
		for vi := range sw.Variants {
			v := &sw.Variants[vi]
			fail := func(err error) {
				errs = append(errs, fmt.Errorf("%s:%d: variant %s on recipe %s: %w", sw.path, v.line, v.Name, sr.Name, err))
			}
			g := &Group{recipe: sr, variant: v, dir: filepath.Join(sw.OutputDir, sr.Name, v.Name)}
			common := slices.Concat(sr.Overrides, v.Overrides)
			test, err := trainer.LoadRecipe(sr.Path, common...)
			if err != nil {
				fail(err)
				continue
			}
			g.test = test
			lrs := v.LearningRates
			if l, ok := v.RecipeLearningRates[sr.Name]; ok {
				lrs = l
			}
			for _, lr := range lrs {
				dir := filepath.Join(g.dir, "lr-"+strconv.FormatFloat(lr, 'g', -1, 64))
				run := &sweepRun{group: g, lr: lr, dir: dir, args: slices.Concat(common,
					[]string{"train.learning_rate=" + strconv.FormatFloat(lr, 'g', -1, 64)}, sr.Validation,
					[]string{"output_dir=" + dir, "train.resume_from_checkpoint=auto", "overwrite_output_dir=true"})}
				rec, err := trainer.LoadRecipe(sr.Path, run.args...)
				if err != nil {
					fail(err)
					break
				}
				if err := sameBudget(first, rec); err != nil {
					fail(err)
					break
				}
				if first == nil {
					first = rec
				}
				if err := distinctSplits(rec, test); err != nil {
					fail(fmt.Errorf("%w (set the recipe's validation overrides: data.eval=VALID.jsonl, or ~data.eval and data.val_set_size=N)", err))
					break
				}
				g.valData = splitName(rec)
				g.runs = append(g.runs, run)
			}
			groups = append(groups, g)
		}
	}
	return groups, errors.Join(errs...)
}

// sameBudget returns an error naming what b changes from a (nil a: none) among the
// seed, data, training settings other than the learning rate, and evaluation.
func sameBudget(a, b *trainer.Recipe) error {
	if a == nil {
		return nil
	}
	ta, tb := a.Train, b.Train
	ta.LearningRate, tb.LearningRate = 0, 0
	for _, d := range []struct {
		key  string
		x, y any
	}{{"base_model", a.BaseModel, b.BaseModel}, {"seed", a.Seed, b.Seed}, {"data", a.Data, b.Data},
		{"train", ta, tb}, {"eval", a.Eval, b.Eval}} {
		if !reflect.DeepEqual(d.x, d.y) {
			return fmt.Errorf("it changes the recipe's %s from the first variant's: every run of a recipe has the same data, seed, steps and evaluation", d.key)
		}
	}
	return nil
}

// distinctSplits checks that val (phase 1) has an evaluation split and that it is not
// test's (phase 2), which must have one too.
func distinctSplits(val, test *trainer.Recipe) error {
	switch {
	case test.Data.Eval == "" && test.Data.ValSetSize == 0:
		return errors.New("the recipe has no evaluation split (data.eval or data.val_set_size) to report")
	case val.Data.Eval == "" && val.Data.ValSetSize == 0:
		return errors.New("the training runs have no validation split to pick the learning rate on")
	case val.Data.Eval == test.Data.Eval && val.Data.ValSetSize == test.Data.ValSetSize && val.Data.Train == test.Data.Train:
		return fmt.Errorf("the training runs would pick the learning rate on the recipe's own evaluation split (%s)", splitName(val))
	}
	return nil
}

// splitName says what a recipe evaluates on.
func splitName(r *trainer.Recipe) string {
	if r.Data.Eval != "" {
		return r.Data.Eval
	}
	return fmt.Sprintf("%s (val_set_size %g)", r.Data.Train, r.Data.ValSetSize)
}

// printPlan writes the planned runs with their overrides, as llmtune run commands, and
// whether each is done.
func (sw *File) PrintPlan(w io.Writer, groups []*Group, selected func(*Group) bool) error {
	n := 0
	for _, g := range groups {
		if !selected(g) {
			continue
		}
		fmt.Fprintf(w, "# %s × %s: learning rate picked on %s, reported on %s\n", g.recipe.Name, g.variant.Name, g.valData, splitName(g.test))
		for _, r := range g.runs {
			n++
			state := "to run"
			if exists(filepath.Join(r.dir, RunFile)) {
				state = "done"
			} else if exists(filepath.Join(r.dir, "checkpoints")) {
				state = "to resume"
			}
			fmt.Fprintf(w, "%s (%s)\n  llmtune run %s %s\n", r.dir, state, g.recipe.Path, shellJoin(r.args))
		}
	}
	fmt.Fprintf(w, "%d runs; results in %s\n", n, sw.OutputDir)
	return nil
}

// shellJoin quotes each argument that a shell would split or expand.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-=/+:,") == "" {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// sweeper runs a sweep's groups.
type sweeper struct {
	sw          *File
	stdout      io.Writer
	stderr      io.Writer
	load        LoadFunc
	self        string            // this executable, for the child runs
	params      map[*Group][2]int // trainable, model
	total, done int
}

// group runs a recipe × variant: its training runs, then the test evaluation of the one
// with the lowest validation loss.
func (s *sweeper) group(ctx context.Context, g *Group) error {
	var busy []*sweepRun
	for _, r := range g.runs {
		s.done++
		_, err := s.train(ctx, r)
		if errors.Is(err, errBusy) {
			busy = append(busy, r)
			continue
		}
		if err != nil {
			return err
		}
	}
	recs := make([]*Record, len(g.runs)) // in the grid's order, finished by either process
	for i, r := range g.runs {
		rec, err := ReadRecord(filepath.Join(r.dir, RunFile))
		if errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(s.stderr, "sweep %s %s: %d run(s) still in another sweep process, which evaluates the pick\n", g.recipe.Name, g.variant.Name, len(busy))
			return nil
		}
		if err != nil {
			return err
		}
		recs[i] = rec
	}
	unlock, ok, err := tryLock(filepath.Join(g.dir, sweepLock))
	if err != nil || !ok {
		return err // another sweep process is evaluating this group's pick
	}
	defer unlock()
	return s.evalTest(ctx, g, recs)
}

// errBusy is train's error for a run that another sweep process holds.
var errBusy = errors.New("run held by another sweep process")

// countParams returns the trainable parameters of g's runs and the base model's, from
// a model built from base_model/config.json (no weights read).
func (s *sweeper) countParams(g *Group) (trainable, model int, err error) {
	if p, ok := s.params[g]; ok {
		return p[0], p[1], nil
	}
	r := g.test
	cfg, err := transformer.LoadConfig(filepath.Join(r.BaseModel, transformer.ConfigFile))
	if err != nil {
		return 0, 0, err
	}
	m, err := transformer.New(cfg, rand.New(rand.NewPCG(r.Seed, 0)))
	if err != nil {
		return 0, 0, err
	}
	model = m.NumParams()
	trainable = model
	if r.Adapter != nil {
		ad, err := lora.Apply(m, r.Adapter.Config, rand.New(rand.NewPCG(r.Seed, 0)))
		if err != nil {
			return 0, 0, err
		}
		trainable = ad.NumTrainable()
	}
	s.params[g] = [2]int{trainable, model}
	return trainable, model, nil
}

// train runs r as a child `llmtune run` (unless its run.json exists) and returns its
// record, written to run.json. A run that stops on a non-finite loss is recorded as
// diverged; any other failure stops the sweep.
func (s *sweeper) train(ctx context.Context, r *sweepRun) (*Record, error) {
	g := r.group
	label := fmt.Sprintf("sweep [%d/%d] %s %s lr %g", s.done, s.total, g.recipe.Name, g.variant.Name, r.lr)
	path := filepath.Join(r.dir, RunFile)
	if rec, err := ReadRecord(path); err == nil {
		fmt.Fprintf(s.stderr, "%s: done (%s)\n", label, path)
		return rec, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return nil, err
	}
	// Two sweep processes of the same file share its runs: each takes a run's lock
	// before starting it and skips the runs the other holds.
	unlock, ok, err := tryLock(filepath.Join(r.dir, sweepLock))
	if err != nil {
		return nil, err
	}
	if !ok {
		fmt.Fprintf(s.stderr, "%s: running in another sweep process\n", label)
		return nil, errBusy
	}
	defer unlock()
	if rec, err := ReadRecord(path); err == nil { // finished by the other process meanwhile
		fmt.Fprintf(s.stderr, "%s: done (%s)\n", label, path)
		return rec, nil
	}
	trainable, model, err := s.countParams(g)
	if err != nil {
		return nil, err
	}
	resumed := exists(filepath.Join(r.dir, "checkpoints"))
	logPath := filepath.Join(r.dir, logFile)
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	fmt.Fprintf(s.stderr, "%s: running (log %s)\n", label, logPath)
	args := slices.Concat([]string{"run", g.recipe.Path}, r.args)
	cmd := exec.CommandContext(ctx, s.self, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) } // it checkpoints, then exits
	cmd.WaitDelay = 2 * time.Minute
	start := time.Now()
	runErr := cmd.Run()
	wall := time.Since(start).Seconds()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s: %w (its checkpoint is in %s; run the sweep again to continue)", label, ctx.Err(), r.dir)
	}
	rec := &Record{Recipe: g.recipe.Name, Variant: g.variant.Name, Phase: "validation", LearningRate: r.lr,
		EvalData: g.valData, TrainableParams: trainable, ModelParams: model,
		TrainablePercent: 100 * float64(trainable) / float64(model), WallS: wall, Resumed: resumed,
		RunDir: r.dir, Command: append([]string{"llmtune"}, args...)}
	if cmd.ProcessState != nil {
		if rss := maxRSS(cmd.ProcessState); rss > 0 {
			mb := float64(rss) / (1 << 20) // MiB, as llmtune bench's peak_rss_mb
			rec.PeakRSSMB = &mb
		}
	}
	if runErr != nil {
		// A loss that became NaN or Inf stops a run with ErrNonFinite; one that is finite
		// but above ~709 has an infinite perplexity, which metrics.jsonl cannot hold
		// (encoding/json refuses +Inf) and which ends the run too. Both are divergence.
		last := lastLine(logPath)
		if !strings.Contains(last, trainer.ErrNonFinite.Error()) && !strings.Contains(last, "json: unsupported value: +Inf") {
			return nil, fmt.Errorf("%s: %v: %s (log %s)", label, runErr, last, logPath)
		}
		rec.Diverged = strings.TrimPrefix(last, "llmtune: ")
	}
	if err := readMetrics(filepath.Join(r.dir, "metrics.jsonl"), rec); err != nil {
		return nil, err
	}
	if rec.Diverged == "" {
		if rec.AdapterBytes, err = weightsBytes(r.dir); err != nil {
			return nil, err
		}
		fmt.Fprintf(s.stderr, "%s: validation eval_loss %.4f in %s\n", label, deref(rec.EvalLoss), time.Duration(wall*float64(time.Second)).Round(time.Second))
	} else {
		rec.EvalLoss, rec.EvalPerplexity, rec.EvalBLEU, rec.EvalChrF, rec.EvalTokens = nil, nil, nil, nil, 0
		fmt.Fprintf(s.stderr, "%s: diverged: %s\n", label, rec.Diverged)
	}
	return rec, writeRecord(path, rec)
}

// deref returns *p, or NaN for nil.
func deref(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// readMetrics fills rec's steps, evaluation (the last) and start loss (the first
// evaluation) and tokens/s (the median of the training windows) from a metrics.jsonl.
func readMetrics(path string, rec *Record) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var tps []float64
	first := true
	for line := range bytes.Lines(b) {
		var l struct {
			Step           int      `json:"step"`
			TokensPerS     *float64 `json:"tokens_per_s"`
			EvalLoss       *float64 `json:"eval_loss"`
			EvalPerplexity *float64 `json:"eval_perplexity"`
			EvalBLEU       *float64 `json:"eval_bleu"`
			EvalChrF       *float64 `json:"eval_chrf"`
			EvalTokens     int      `json:"eval_tokens"`
		}
		if json.Unmarshal(line, &l) != nil {
			continue // a torn line (trainer drops them on resume too)
		}
		rec.Steps = max(rec.Steps, l.Step)
		if l.TokensPerS != nil {
			tps = append(tps, *l.TokensPerS)
		}
		if l.EvalLoss != nil {
			if first && l.Step == 0 {
				rec.StartEvalLoss = l.EvalLoss
			}
			first = false
			rec.EvalLoss, rec.EvalPerplexity, rec.EvalBLEU, rec.EvalChrF, rec.EvalTokens =
				l.EvalLoss, l.EvalPerplexity, l.EvalBLEU, l.EvalChrF, l.EvalTokens
		}
	}
	if len(tps) > 0 {
		slices.Sort(tps)
		rec.TokensPerS = (tps[(len(tps)-1)/2] + tps[len(tps)/2]) / 2
	}
	if rec.Diverged == "" && rec.EvalLoss == nil {
		return fmt.Errorf("%s: no evaluation logged", path)
	}
	return nil
}

// weightsBytes returns the size of the run's saved weights: adapter/*.safetensors, or
// model/*.safetensors after full fine-tuning.
func weightsBytes(dir string) (int64, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "adapter", "*.safetensors"))
	if len(files) == 0 {
		files, _ = filepath.Glob(filepath.Join(dir, "model", "*.safetensors"))
	}
	if len(files) == 0 {
		return 0, fmt.Errorf("%s: no adapter/ or model/ safetensors", dir)
	}
	var n int64
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return 0, err
		}
		n += st.Size()
	}
	return n, nil
}

// lastLine returns the last non-empty line of a file ("" if none).
func lastLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	last := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			last = l
		}
	}
	return last
}

func ReadRecord(path string) (*Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &rec, nil
}

func writeRecord(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'))
}

// pick returns the run with the lowest validation loss (the first of equals) and every
// learning rate's loss; nil when every run diverged.
func pick(recs []*Record) (*Record, []lrLoss, bool) {
	var best *Record
	var losses []lrLoss
	bestAt := 0
	for i, r := range recs {
		losses = append(losses, lrLoss{r.LearningRate, r.EvalLoss})
		if r.EvalLoss != nil && (best == nil || *r.EvalLoss < *best.EvalLoss) {
			best, bestAt = r, i
		}
	}
	lrs := make([]float64, len(recs))
	for i, r := range recs {
		lrs[i] = r.LearningRate
	}
	edge := best != nil && len(recs) > 1 &&
		(recs[bestAt].LearningRate == slices.Min(lrs) || recs[bestAt].LearningRate == slices.Max(lrs))
	return best, losses, edge
}

// evalTest evaluates the picked run's adapter (or model) on the recipe's own
// evaluation split, with trainer.Evaluate as `llmtune run` and `llmtune eval` do, and
// writes test.json; one already written for the same run is kept.
func (s *sweeper) evalTest(ctx context.Context, g *Group, recs []*Record) error {
	best, losses, edge := pick(recs)
	label := fmt.Sprintf("sweep %s %s", g.recipe.Name, g.variant.Name)
	if best == nil {
		fmt.Fprintf(s.stderr, "%s: every learning rate diverged; nothing to evaluate\n", label)
		return nil
	}
	path := filepath.Join(g.dir, TestFile)
	if old, err := ReadRecord(path); err == nil && old.RunDir == best.RunDir {
		same := slices.EqualFunc(old.ValidationLosses, losses, func(a, b lrLoss) bool {
			return a.LearningRate == b.LearningRate && (a.EvalLoss == nil) == (b.EvalLoss == nil) &&
				(a.EvalLoss == nil || *a.EvalLoss == *b.EvalLoss)
		})
		if same && old.PickedAtEdge == edge {
			return nil
		}
		// The same pick from a grid that has grown since: its evaluation stands, the
		// grid's losses and whether the pick is at its edge are updated.
		old.ValidationLosses, old.PickedAtEdge = losses, edge
		return writeRecord(path, old)
	}
	rec := *g.test
	rec.Train.LearningRate = best.LearningRate
	rec.Eval.Samples = 0
	modelDir, adapterDir := rec.BaseModel, filepath.Join(best.RunDir, "adapter")
	if rec.Adapter == nil {
		modelDir, adapterDir = filepath.Join(best.RunDir, "model"), ""
	}
	fmt.Fprintf(s.stderr, "%s: lr %g picked (validation eval_loss %.4f); evaluating on %s\n", label, best.LearningRate, *best.EvalLoss, splitName(&rec))
	m, tok, err := s.load(modelDir, adapterDir)
	if err != nil {
		return err
	}
	_, ds, err := dataset.Open(rec.Data, rec.Seed, tok)
	if err != nil {
		return err
	}
	ev, err := trainer.Evaluate(ctx, &rec, m, tok, ds, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", label, err)
	}
	t := *best
	t.Phase, t.EvalData, t.Command, t.StartEvalLoss = "test", splitName(&rec), nil, nil
	t.EvalLoss, t.EvalPerplexity, t.EvalBLEU, t.EvalChrF, t.EvalTokens = &ev.EvalLoss, &ev.EvalPerplexity, ev.EvalBLEU, ev.EvalChrF, ev.EvalTokens
	t.ValidationLoss, t.ValidationLosses, t.PickedAtEdge = best.EvalLoss, losses, edge
	fmt.Fprintf(s.stderr, "%s: eval_loss %.4f on %s\n", label, ev.EvalLoss, t.EvalData)
	return writeRecord(path, &t)
}

// summarize writes summary.json, summary.md and loss-vs-params.png from every run.json
// and test.json of the sweep that exists.
func (s *sweeper) summarize(groups []*Group) error {
	var runs, tests []*Record
	for _, g := range groups {
		for _, r := range g.runs {
			if rec, err := ReadRecord(filepath.Join(r.dir, RunFile)); err == nil {
				runs = append(runs, rec)
			}
		}
		if rec, err := ReadRecord(filepath.Join(g.dir, TestFile)); err == nil {
			tests = append(tests, rec)
		}
	}
	out := s.sw.OutputDir
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := writeRecord(filepath.Join(out, SummaryJSON), map[string]any{
		"sweep": s.sw.path, "results": tests, "runs": runs}); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(out, SummaryMD), []byte(sweepTable(tests))); err != nil {
		return err
	}
	var series []chart.ParamSeries
	for _, t := range tests {
		i := slices.IndexFunc(series, func(ps chart.ParamSeries) bool { return ps.Name == t.Recipe })
		if i < 0 {
			series = append(series, chart.ParamSeries{Name: t.Recipe})
			i = len(series) - 1
		}
		series[i].Points = append(series[i].Points, chart.ParamPoint{Params: float64(t.TrainableParams), Loss: *t.EvalLoss, Label: t.Variant})
	}
	img, err := chart.LossParams("Evaluation loss against trainable parameters", series)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(out, SummaryPNG), img); err != nil {
		return err
	}
	fmt.Fprintf(s.stdout, "%d runs, %d results: %s, %s, %s\n", len(runs), len(tests),
		filepath.Join(out, SummaryJSON), filepath.Join(out, SummaryMD), filepath.Join(out, SummaryPNG))
	return nil
}

// sweepTable returns the results as a Markdown table, one row per recipe × variant,
// with each one's eval loss against full fine-tuning's (the variant whose trainable
// parameters are the whole model) on the same recipe.
func sweepTable(tests []*Record) string {
	var b strings.Builder
	b.WriteString("| recipe | variant | trainable params | % of model | learning rate | validation loss | eval loss | vs full | perplexity | BLEU | chrF | wall time | tokens/s | peak RSS | adapter file |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	full := map[string]float64{}
	for _, t := range tests {
		if _, ok := full[t.Recipe]; !ok && t.TrainableParams == t.ModelParams {
			full[t.Recipe] = *t.EvalLoss
		}
	}
	opt := func(p *float64, format string) string {
		if p == nil {
			return "–"
		}
		return fmt.Sprintf(format, *p)
	}
	for _, t := range tests {
		lr := strconv.FormatFloat(t.LearningRate, 'g', -1, 64)
		if t.PickedAtEdge {
			lr += " (edge)"
		}
		vs := "–"
		if f, ok := full[t.Recipe]; ok && t.TrainableParams != t.ModelParams {
			vs = fmt.Sprintf("%+.1f%%", 100*(*t.EvalLoss-f)/f)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %.2f%% | %s | %s | %.4f | %s | %.2f | %s | %s | %s | %.0f | %s | %.2f MB |\n",
			t.Recipe, t.Variant, commas(t.TrainableParams), t.TrainablePercent, lr, opt(t.ValidationLoss, "%.4f"),
			*t.EvalLoss, vs, *t.EvalPerplexity, opt(t.EvalBLEU, "%.1f"), opt(t.EvalChrF, "%.1f"),
			time.Duration(t.WallS*float64(time.Second)).Round(time.Second), t.TokensPerS,
			opt(t.PeakRSSMB, "%.0f MB"), float64(t.AdapterBytes)/1e6)
	}
	b.WriteString("\nEach learning rate was picked from its variant's grid by the lowest loss on the validation split;" +
		" \"(edge)\" marks a pick at the grid's smallest or largest rate. The eval loss, perplexity, BLEU and chrF are" +
		" the picked run's on the recipe's own evaluation split; the wall time, tokens/s and peak RSS are its training run's.\n")
	return b.String()
}

// commas writes n with thousands separators.
func commas(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Names returns the recipe's and the variant's names of g.
func (g *Group) Names() (recipe, variant string) { return g.recipe.Name, g.variant.Name }

// LoadFunc loads a model directory with its tokenizer and, unless adapterDir is "", a
// LoRA adapter, as llmtune eval does.
type LoadFunc func(dir, adapterDir string) (*transformer.Model, *tokenizer.BPE, error)

// Run runs the selected groups of sw (their training runs, then each one's pick on the
// recipe's split, loaded with load), skipping finished runs, and writes the summary over
// every finished run. self is the llmtune executable the runs are started with; progress
// goes to stderr and the summary's one line to stdout.
func Run(ctx context.Context, sw *File, groups []*Group, selected func(*Group) bool, self string, load LoadFunc, stdout, stderr io.Writer) error {
	s := &sweeper{sw: sw, stdout: stdout, stderr: stderr, load: load, self: self, params: map[*Group][2]int{}}
	var todo []*Group
	for _, g := range groups {
		if selected(g) {
			todo = append(todo, g)
			s.total += len(g.runs)
		}
	}
	for _, g := range todo {
		if err := s.group(ctx, g); err != nil {
			return err
		}
	}
	return s.summarize(groups)
}
