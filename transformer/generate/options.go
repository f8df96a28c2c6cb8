package generate

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Options are the sampling settings of a generation, with Hugging Face GenerationConfig
// names. A recipe embeds them as its generation section; `llmtune generate` sets them
// from flags and /set. The zero value is not valid (it would generate nothing): start from
// DefaultOptions.
//
// The logits of each step go through the repetition penalty, then (when sampling)
// temperature, top-k and top-p, then a draw from the softmax, all in float64.
type Options struct {
	// MaxNewTokens is the most tokens generated per prompt, ≥ 1. The prompt plus
	// MaxNewTokens must fit in the model's n_positions (Complete shortens it to fit;
	// Generate refuses). Default 64.
	MaxNewTokens int `yaml:"max_new_tokens"`
	// Temperature divides the logits before sampling; 0 means greedy decoding (argmax,
	// the lowest id on ties), which ignores TopK and TopP. Default 0.
	Temperature float64 `yaml:"temperature"`
	// TopK, when > 0, keeps only the TopK highest logits (and any tied with the last).
	// Default 0 (off).
	TopK int `yaml:"top_k"`
	// TopP keeps the smallest set of most likely tokens whose probability reaches TopP
	// (nucleus sampling; the most likely token always stays), in (0, 1]. Default 1 (off).
	TopP float64 `yaml:"top_p"`
	// RepetitionPenalty penalises every id already in the prompt or generated (CTRL, as
	// Hugging Face): a logit l becomes l/p if l > 0, else l·p; > 0. Default 1 (off).
	RepetitionPenalty float64 `yaml:"repetition_penalty"`
	// Stop lists strings that end a generation in Complete (EOS always does); the stop
	// string is not part of the result. Default none.
	Stop []string `yaml:"stop"`
}

// DefaultOptions returns the defaults documented on Options' fields: greedy, at most 64
// new tokens.
func DefaultOptions() Options {
	return Options{MaxNewTokens: 64, TopP: 1, RepetitionPenalty: 1}
}

// Validate returns every problem of o joined (nil when there is none); each message
// starts with the key it is about, e.g. "top_p: must be in (0, 1], got 0".
func (o Options) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if o.MaxNewTokens < 1 {
		bad("max_new_tokens", "must be ≥ 1, got %d", o.MaxNewTokens)
	}
	if !(o.Temperature >= 0) || math.IsInf(o.Temperature, 0) {
		bad("temperature", "must be ≥ 0 (0 = greedy), got %g", o.Temperature)
	}
	if o.TopK < 0 {
		bad("top_k", "must be ≥ 0 (0 = off), got %d", o.TopK)
	}
	if !(o.TopP > 0 && o.TopP <= 1) {
		bad("top_p", "must be in (0, 1], got %g", o.TopP)
	}
	if !(o.RepetitionPenalty > 0) || math.IsInf(o.RepetitionPenalty, 0) {
		bad("repetition_penalty", "must be > 0 (1 = off), got %g", o.RepetitionPenalty)
	}
	for _, s := range o.Stop {
		if s == "" {
			bad("stop", "an empty stop string would stop at once")
		}
	}
	return errors.Join(errs...)
}

// NewRand returns the sampling generator for seed. Every caller that samples with a seed
// (a recipe's evaluation, `llmtune generate --seed`, `llmtune eval`) takes it from here,
// so the same seed gives the same text in all of them.
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, streamGenerate))
}

// streamGenerate is the PCG stream of NewRand, apart from the streams that initialise
// adapters and shuffle data with the same seed.
const streamGenerate = 0x6e6

// errNoRand is the problem of sampling options given no generator.
var errNoRand = errors.New("temperature > 0 samples and needs a *rand.Rand")
