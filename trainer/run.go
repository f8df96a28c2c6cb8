package trainer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"time"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/llmtune/llmtune/internal/atomicfile"
	"github.com/llmtune/llmtune/lora"
	"github.com/llmtune/llmtune/tokenizer"
	"github.com/llmtune/llmtune/trainer/dataset"
	"github.com/llmtune/llmtune/trainer/optim"
	"github.com/llmtune/llmtune/transformer"
	"github.com/llmtune/llmtune/transformer/generate"
)

// ErrNonFinite is wrapped by Run's error when a loss or gradient norm is NaN or Inf.
var ErrNonFinite = errors.New("loss is not finite")

// Option configures Run.
type Option func(*settings)

type settings struct {
	model    *transformer.Model
	tok      generate.Tokenizer
	adapter  *lora.Adapter
	progress io.Writer
	onStep   func(StepLog)
	onEval   func(EvalLog)
	gen      Generator
}

// WithModel makes Run train this model, tokenizer and adapter instead of loading
// recipe.BaseModel. A nil adapter with recipe.Adapter set applies one from the recipe;
// with recipe.Adapter nil, every model parameter is trained.
func WithModel(m *transformer.Model, tok generate.Tokenizer, ad *lora.Adapter) Option {
	return func(s *settings) { s.model, s.tok, s.adapter = m, tok, ad }
}

// WithProgress makes Run report progress on w: a progress bar redrawn in place when w is
// a terminal, plain lines at each logging step otherwise.
func WithProgress(w io.Writer) Option { return func(s *settings) { s.progress = w } }

// OnStep calls f with every logged training step.
func OnStep(f func(StepLog)) Option { return func(s *settings) { s.onStep = f } }

// OnEval calls f with every evaluation.
func OnEval(f func(EvalLog)) Option { return func(s *settings) { s.onEval = f } }

// WithGenerator supplies the completions that generation-based metrics (eval.metrics
// bleu, chrf) score.
func WithGenerator(g Generator) Option { return func(s *settings) { s.gen = g } }

// StepLog is one line of metrics.jsonl for a training step.
type StepLog struct {
	Step       int     `json:"step"`
	Epoch      int     `json:"epoch"`
	Loss       float64 `json:"loss"` // mean over the steps since the last log line
	LR         float64 `json:"lr"`
	GradNorm   float64 `json:"grad_norm"` // before clipping
	TokensPerS float64 `json:"tokens_per_s"`
	ElapsedS   float64 `json:"elapsed_s"`
}

// EvalLog is one line of metrics.jsonl for an evaluation.
type EvalLog struct {
	Step           int      `json:"step"`
	EvalLoss       float64  `json:"eval_loss"`
	EvalPerplexity float64  `json:"eval_perplexity"`
	EvalTokens     int      `json:"eval_tokens"`
	EvalBLEU       *float64 `json:"eval_bleu,omitempty"`
	EvalChrF       *float64 `json:"eval_chrf,omitempty"`
	ElapsedS       float64  `json:"elapsed_s"`
	// Examples is the number of examples behind the loss.
	Examples int `json:"-"`
	// Samples are the first generated completions next to their references (with BLEU
	// or chrF); they go to the progress writer, not to metrics.jsonl.
	Samples []Sample `json:"-"`
}

// Result is what Run did.
type Result struct {
	Steps      int           // optimizer steps done, in total
	Logs       []StepLog     // the logged training steps of this invocation
	Evals      []EvalLog     // the evaluations of this invocation, the first at the start
	Checkpoint string        // the last checkpoint written
	Output     string        // output_dir/adapter (LoRA) or output_dir/model (full fine-tuning)
	Stats      dataset.Stats // the training loader's counts for the last epoch
}

// run is the state of one training run.
type run struct {
	recipe     *Recipe
	s          settings
	model      *transformer.Model
	tok        generate.Tokenizer
	adapter    *lora.Adapter
	params     []transformer.NamedParam
	opt        *optim.AdamW
	sched      optim.Schedule
	train      *dataset.Dataset
	eval       *dataset.Dataset
	resumeFrom string   // the checkpoint to resume from, or ""
	clear      []string // the previous run's files to remove (overwrite_output_dir)
	step       int      // optimizer steps done
	total      int
	dataState  dataset.DataState
	metrics    *metricsLog
	progress   *progress
	start      time.Time
	res        Result
	lastLR     float64 // of the last optimizer step
	lastNorm   float64 // gradient norm of the last optimizer step, before clipping
}

// Run fine-tunes as the recipe says: it loads base_model (or takes WithModel's), applies
// the adapter (or trains every weight), evaluates the untouched model (step 0), trains
// with AdamW and the learning-rate schedule, evaluating every eval_steps and saving a
// checkpoint every save_steps, and at the end evaluates, checkpoints and writes the
// adapter (output_dir/adapter, PEFT format) or model (output_dir/model). It writes
// output_dir/config.yaml, metrics.jsonl and loss.png as it goes.
//
// A run that starts afresh (train.resume_from_checkpoint empty, or auto finding no
// usable checkpoint) into an output_dir that already holds a run fails before touching
// anything with an error matching ErrOutputDirUsed, unless overwrite_output_dir is set:
// then the previous run's files are removed first.
//
// Run holds output_dir for its whole duration: a second Run on the same directory, in
// this process or another, fails at once with an error matching ErrOutputDirInUse that
// names the holder's pid, host and start time (see lock.go).
//
// When ctx is cancelled (Ctrl-C in the CLI), Run saves a checkpoint and returns an error
// wrapping ctx.Err() that names it. A NaN or Inf loss stops the run with an error
// wrapping ErrNonFinite, without saving the broken state: the last checkpoint is intact.
func Run(ctx context.Context, r *Recipe, opts ...Option) (*Result, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("recipe: %w", err)
	}
	t := &run{recipe: r}
	for _, o := range opts {
		o(&t.s)
	}
	lock, err := lockOutputDir(r.OutputDir)
	if err != nil {
		return nil, err
	}
	defer lock.release() // a lock file left behind blocks nobody: its lock dies with us
	if err := t.planOutputDir(); err != nil {
		return nil, err
	}
	if err := t.setup(); err != nil {
		return nil, err
	}
	defer t.metrics.close()
	if t.model.Arena() == nil {
		// the buffers of each step's graph, reused by the next step (transformer.Arena);
		// trainStep releases them after each micro-batch's backward
		t.model.SetArena(transformer.NewArena())
		defer t.model.SetArena(nil)
	}
	err = t.loop(ctx)
	t.progress.done()
	if err != nil {
		return &t.res, err
	}
	return &t.res, nil
}

func (t *run) setup() error {
	r := t.recipe
	t.model, t.tok, t.adapter = t.s.model, t.s.tok, t.s.adapter
	if t.model == nil {
		var err error
		if r.FromScratch {
			cfg, err := transformer.LoadConfig(filepath.Join(r.BaseModel, transformer.ConfigFile))
			if err != nil {
				return err
			}
			if t.model, err = transformer.NewAs(cfg, rand.New(rand.NewPCG(r.Seed, 0x5c7a7c4)), r.BaseDType); err != nil {
				return err
			}
		} else if t.model, err = transformer.LoadAs(r.BaseModel, r.BaseDType); err != nil {
			return err
		}
		tok, err := tokenizer.Load(r.BaseModel)
		if err != nil {
			return err
		}
		t.tok = tok
	}
	if t.tok == nil {
		return errors.New("trainer: WithModel needs a tokenizer")
	}
	if r.Data.MaxSeqLen > t.model.Config.MaxPositions {
		return fmt.Errorf("recipe: data.max_seq_len %d exceeds the model's n_positions %d", r.Data.MaxSeqLen, t.model.Config.MaxPositions)
	}
	rng := rand.New(rand.NewPCG(r.Seed, r.Seed^0x5eed))
	if t.adapter == nil && r.Adapter != nil {
		var err error
		t.adapter, err = lora.Apply(t.model, r.Adapter.Config, rng)
		if err != nil {
			return err
		}
	}
	var ps []*nn.Param
	if t.adapter != nil {
		t.adapter.BaseModel = r.BaseModel
		t.params = t.adapter.Params()
	} else {
		t.model.SetTrainable(true)
		t.params = t.model.Params()
	}
	for _, p := range t.params {
		ps = append(ps, p.Param)
	}
	t.opt = optim.NewAdamW(ps, r.Train.Config)

	var err error
	if t.train, t.eval, err = dataset.Open(r.Data, r.Seed, t.tok); err != nil {
		return err
	}
	if t.total, err = t.totalSteps(); err != nil {
		return err
	}
	t.sched = r.Train.Schedule(t.total)

	if err := t.clearPrevious(); err != nil {
		return err
	}
	y, err := r.YAML()
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(r.OutputDir, "config.yaml"), y); err != nil {
		return err
	}
	if dir := t.resumeFrom; dir != "" {
		if err := t.loadCheckpoint(dir); err != nil {
			return fmt.Errorf("resume from %s: %w", dir, err)
		}
		t.res.Checkpoint = dir
	}
	if t.metrics, err = openMetrics(filepath.Join(r.OutputDir, "metrics.jsonl"), t.step, t.resumeFrom != "", t.s.progress); err != nil {
		return err
	}
	t.progress = newProgress(t.s.progress, t.total)
	t.start = time.Now()
	return nil
}

// totalSteps returns the run's optimizer steps: max_steps, or epochs × the steps of
// one epoch (counted by a pass over the data without building batches).
func (t *run) totalSteps() (int, error) {
	r := t.recipe
	if r.Train.MaxSteps > 0 {
		return r.Train.MaxSteps, nil
	}
	st, err := t.train.ScanEpoch(r.TrainLoaderConfig(), 0)
	if err != nil {
		return 0, err
	}
	accum := r.Train.GradientAccumulationSteps
	perEpoch := (st.Batches + accum - 1) / accum
	if perEpoch == 0 {
		return 0, fmt.Errorf("data %s: no training batch", t.train.Path)
	}
	return r.Train.Epochs * perEpoch, nil
}

func (t *run) loop(ctx context.Context) error {
	r := t.recipe
	loader, err := t.train.Loader(r.TrainLoaderConfig(), t.dataState)
	if err != nil {
		return err
	}
	defer loader.Close()
	if t.step == 0 {
		if err := t.evaluate(ctx); err != nil {
			return err
		}
	}
	var winLoss float64
	var winSteps, winTokens int
	winStart := time.Now()
	for t.step < t.total {
		if ctx.Err() != nil {
			return t.interrupted(ctx)
		}
		loss, tokens, err := t.trainStep(loader)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		winLoss += loss
		winSteps++
		winTokens += tokens
		epoch := t.dataState.Epoch
		if t.step%max(r.Train.LogSteps, 1) == 0 || t.step == t.total {
			el := time.Since(winStart).Seconds()
			l := StepLog{Step: t.step, Epoch: epoch, Loss: winLoss / float64(winSteps), LR: t.lastLR, GradNorm: t.lastNorm,
				TokensPerS: float64(winTokens) / max(el, 1e-9), ElapsedS: time.Since(t.start).Seconds()}
			t.res.Logs = append(t.res.Logs, l)
			if err := t.metrics.write(l); err != nil {
				return err
			}
			if t.s.onStep != nil {
				t.s.onStep(l)
			}
			t.progress.step(l)
			winLoss, winSteps, winTokens, winStart = 0, 0, 0, time.Now()
		}
		if r.Train.EvalSteps > 0 && t.step%r.Train.EvalSteps == 0 && t.step < t.total {
			if err := t.evaluate(ctx); err != nil {
				return err
			}
		}
		if r.Train.SaveSteps > 0 && t.step%r.Train.SaveSteps == 0 && t.step < t.total {
			if err := t.checkpoint(); err != nil {
				return err
			}
		}
	}
	t.res.Stats = loader.Stats()
	if err := t.evaluate(ctx); err != nil {
		return err
	}
	if err := t.checkpoint(); err != nil {
		return err
	}
	return t.finish()
}

// trainStep runs one optimizer step over gradient_accumulation_steps micro-batches and
// returns the mean loss and the tokens seen; io.EOF when the data ran out first.
func (t *run) trainStep(loader *dataset.Loader) (float64, int, error) {
	r := t.recipe
	accum := r.Train.GradientAccumulationSteps
	t.opt.ZeroGrad()
	defer t.model.ReleaseStep() // on every return: nothing of a step's graph outlives it
	if t.adapter != nil {
		t.adapter.SetTraining(true)
		defer t.adapter.SetTraining(false)
	}
	var sum float64
	var tokens, done int
	for range accum {
		b, err := loader.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, 0, err
		}
		loss, err := t.model.Loss(b)
		if errors.Is(err, transformer.ErrNoTargets) {
			continue
		}
		if err != nil {
			return 0, 0, err
		}
		v := float64(loss.Value().Item().F64())
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, 0, t.nonFinite(t.step+1, "loss", v)
		}
		// Each micro-batch contributes its mean loss / accum (as HF Trainer).
		loss.AccGrad(mat.Scalar(float32(1) / float32(accum)))
		if err := ag.Backward(loss); err != nil {
			return 0, 0, err
		}
		// the graph is spent (its loss read, the parameters' gradients are their own):
		// its buffers serve the next micro-batch
		t.model.ReleaseStep()
		sum += v
		done++
		for _, row := range b.IDs {
			tokens += len(row)
		}
	}
	t.dataState = loader.State()
	if done == 0 {
		return 0, 0, io.EOF
	}
	norm := optim.GradNorm(t.opt.Params)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return 0, 0, t.nonFinite(t.step+1, "gradient norm", norm)
	}
	optim.ClipGrads(t.opt.Params, norm, r.Train.MaxGradNorm)
	t.lastLR = t.sched.LR(t.step)
	t.lastNorm = norm
	t.opt.Step(t.lastLR)
	t.step++
	return sum / float64(done), tokens, nil
}

// nonFinite is the error that stops a run at step when what is v (NaN or Inf).
func (t *run) nonFinite(step int, what string, v float64) error {
	last := "no checkpoint was written"
	if t.res.Checkpoint != "" {
		last = "the last good checkpoint is " + t.res.Checkpoint
	}
	return fmt.Errorf("step %d: %s is %v; stopping (%s): %w", step, what, v, last, ErrNonFinite)
}

// interrupted saves a checkpoint and returns the error that says so.
func (t *run) interrupted(ctx context.Context) error {
	if err := t.checkpoint(); err != nil {
		return fmt.Errorf("interrupted at step %d, and the checkpoint failed: %w (cause: %w)", t.step, err, ctx.Err())
	}
	return fmt.Errorf("interrupted at step %d: checkpoint saved to %s: %w", t.step, t.res.Checkpoint, ctx.Err())
}

func (t *run) checkpoint() error {
	dir, err := t.saveCheckpoint()
	if err != nil {
		return err
	}
	t.res.Checkpoint = dir
	return nil
}

// finish writes the final adapter or model into output_dir and the loss plot.
func (t *run) finish() error {
	t.res.Steps = t.step
	if err := t.export(t.recipe.OutputDir); err != nil {
		return err
	}
	t.res.Output = filepath.Join(t.recipe.OutputDir, "adapter")
	if t.adapter == nil {
		t.res.Output = filepath.Join(t.recipe.OutputDir, "model")
	}
	return t.plot()
}

// evaluate computes the evaluation metrics on the eval split (Evaluate) and logs them.
func (t *run) evaluate(ctx context.Context) error {
	if t.eval == nil {
		return nil
	}
	r := t.recipe
	if t.s.progress == nil && r.Eval.Samples > 0 {
		rr := *r
		rr.Eval.Samples = 0 // samples are only printed
		r = &rr
	}
	if t.adapter != nil {
		t.adapter.SetTraining(false)
	}
	e, err := Evaluate(ctx, r, t.model, t.tok, t.eval, t.s.gen)
	if err != nil && ctx.Err() != nil {
		return t.interrupted(ctx) // Ctrl-C during an evaluation saves and stops as during training
	}
	if err != nil {
		return err
	}
	e.Step, e.ElapsedS = t.step, time.Since(t.start).Seconds()
	if math.IsNaN(e.EvalLoss) || math.IsInf(e.EvalLoss, 0) {
		return t.nonFinite(t.step, "evaluation loss", e.EvalLoss)
	}
	t.res.Evals = append(t.res.Evals, e)
	if err := t.metrics.write(e); err != nil {
		return err
	}
	if t.s.onEval != nil {
		t.s.onEval(e)
	}
	t.progress.eval(e)
	if t.step > 0 {
		return t.plot()
	}
	return nil
}
