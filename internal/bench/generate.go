package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/llmtune/llmtune/transformer"
	"github.com/llmtune/llmtune/transformer/generate"
)

// Generator is a Generate workload's model and prompt, ready to decode.
type Generator struct {
	W      Workload
	Model  *transformer.Model
	Prompt []int // (SeqLen) ids drawn uniformly from a fixed seed
}

// NewGenerator builds a Generate workload's model (its family's initialisation from the same
// fixed seed as NewTrainer, no LoRA) and its prompt.
func NewGenerator(w Workload) (*Generator, error) {
	if !w.Generate || w.SeqLen < 1 || w.NewTokens < 1 {
		return nil, fmt.Errorf("workload %s is not a generation workload with a prompt and new tokens", w.Name)
	}
	cfg := w.Model
	m, err := transformer.NewAs(cfg, rand.New(rand.NewPCG(0, 0)), w.BaseDType)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(1, 1))
	prompt := make([]int, w.SeqLen)
	for i := range prompt {
		prompt[i] = rng.IntN(cfg.VocabSize)
	}
	return &Generator{W: w, Model: m, Prompt: prompt}, nil
}

// Run decodes W.NewTokens tokens greedily after the prompt, as the anchor's timed unit:
// one generate.Generate call, which allocates its KV cache, prefills the prompt in one pass
// and then feeds one token per step. It returns the ids, the time to the first new token
// (the prefill, with its LM head and argmax) and the time of the whole call.
func (g *Generator) Run() (ids []int, prefill, total time.Duration, err error) {
	var first time.Duration
	start := time.Now()
	opt := generate.DefaultOptions()
	opt.MaxNewTokens = g.W.NewTokens
	ids, err = generate.Generate(context.Background(), g.Model, generate.Request{
		Prompt: g.Prompt,
		OnToken: func(int) bool {
			if first == 0 {
				first = time.Since(start)
			}
			return true
		},
	}, opt)
	total = time.Since(start)
	if err == nil && len(ids) != g.W.NewTokens {
		err = fmt.Errorf("generated %d tokens, want %d", len(ids), g.W.NewTokens)
	}
	return ids, first, total, err
}

// RunGenerate measures a Generate workload in this process: Warmup runs, then w.Steps
// timed ones; every run must give the same ids. TokensPerSecond is NewTokens over the
// median run time (prefill included), PrefillTokensPerSecond the prompt length over the
// median prefill time. PeakRSSMB is this process's peak so far.
func RunGenerate(w Workload) (Result, error) {
	g, err := NewGenerator(w)
	if err != nil {
		return Result{}, err
	}
	res := Result{Impl: "llmtune", Workload: w.Name, Params: g.Model.NumParams()}
	var firstIDs []int
	var prefills []float64
	for run := range Warmup + w.Steps {
		ids, prefill, total, err := g.Run()
		if err != nil {
			return Result{}, fmt.Errorf("workload %s: %w", w.Name, err)
		}
		if firstIDs == nil {
			firstIDs = ids
		} else if !slices.Equal(ids, firstIDs) {
			return Result{}, fmt.Errorf("workload %s: greedy decoding is not deterministic across runs", w.Name)
		}
		if run >= Warmup {
			res.StepsMs = append(res.StepsMs, float64(total.Microseconds())/1e3)
			prefills = append(prefills, prefill.Seconds())
		}
	}
	res.StepMsMedian = median(res.StepsMs)
	res.TokensPerSecond = float64(w.NewTokens) / (res.StepMsMedian / 1e3)
	res.PrefillTokensPerSecond = float64(w.SeqLen) / median(prefills)
	res.PeakRSSMB = peakRSSMB()
	return res, nil
}
