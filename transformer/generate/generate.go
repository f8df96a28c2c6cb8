package generate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/llmtune/llmtune/transformer"
)

// Request is one generation's input besides the Options: the prompt and what ends or
// watches the generation.
type Request struct {
	// Prompt is the token ids to continue, at least one.
	Prompt []int
	// StopIDs end generation when one of them is produced (EOS, say). As in Hugging
	// Face, the stop id is included: it is the last id of the result and OnToken sees it.
	StopIDs []int
	// Rand draws the samples; required when Options.Temperature > 0. A seeded generator
	// (NewRand) makes generation reproducible.
	Rand *rand.Rand
	// OnToken, if not nil, is called with each new id as soon as it is chosen (for
	// streaming); the id is part of the result. Returning false stops generation after
	// it: callers implement stop strings and interruption with it.
	OnToken func(id int) bool
}

// Generate continues req.Prompt with m and returns the new ids only, at most
// o.MaxNewTokens of them; o.Stop (text) is not looked at here (see Complete). It feeds the
// prompt once through m.NextLogits (one pass over all of it), then one token per step,
// with a KV cache of exactly the room needed, so an applied LoRA adapter is used (in
// evaluation mode; see transformer.Model.NextLogits).
//
// Generation ends when MaxNewTokens ids are out, when a stop id is produced (it is
// included), or when OnToken returns false (the id it saw is included). Between tokens
// it checks ctx: when ctx is done it returns the ids generated so far with ctx.Err().
// Invalid options or prompt ids, and a prompt plus MaxNewTokens longer than n_positions
// (transformer.ErrContextLength, wrapped: the rule is Hugging Face's error, not a silent
// cut), are errors before any work.
func Generate(ctx context.Context, m *transformer.Model, req Request, o Options) ([]int, error) {
	cfg := m.Config
	if err := validate(o, req, cfg.VocabSize); err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	prompt := req.Prompt
	if len(prompt)+o.MaxNewTokens > cfg.MaxPositions {
		return nil, fmt.Errorf("generate: prompt of %d tokens + max_new_tokens %d exceeds n_positions %d: %w",
			len(prompt), o.MaxNewTokens, cfg.MaxPositions, transformer.ErrContextLength)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cache, err := transformer.NewKVCache(cfg, len(prompt)+o.MaxNewTokens)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	out := make([]int, 0, o.MaxNewTokens)
	smp := newSampler(o, req.Rand, cfg.VocabSize, prompt)
	logits, err := m.NextLogits(cache, prompt)
	for {
		if err != nil {
			return out, fmt.Errorf("generate: %w", err)
		}
		id := smp.next(logits)
		out = append(out, id)
		if req.OnToken != nil && !req.OnToken(id) || slices.Contains(req.StopIDs, id) || len(out) == o.MaxNewTokens {
			return out, nil
		}
		if err := ctx.Err(); err != nil {
			return out, err
		}
		logits, err = m.NextLogits(cache, []int{id})
	}
}

// validate reports every problem of the options and the request at once, for a
// vocabulary of V ids.
func validate(o Options, req Request, V int) error {
	errs := []error{o.Validate()}
	if len(req.Prompt) == 0 {
		errs = append(errs, errors.New("empty prompt"))
	}
	for i, id := range req.Prompt {
		if id < 0 || id >= V {
			errs = append(errs, fmt.Errorf("prompt[%d] = %d is outside [0, %d)", i, id, V))
		}
	}
	for _, id := range req.StopIDs {
		if id < 0 || id >= V {
			errs = append(errs, fmt.Errorf("stop id %d is outside the vocabulary [0, %d)", id, V))
		}
	}
	if o.Temperature > 0 && req.Rand == nil {
		errs = append(errs, errNoRand)
	}
	return errors.Join(errs...)
}
