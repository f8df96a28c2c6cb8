package optim

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Config holds the optimisation settings of a run, with the key names of Hugging Face
// TrainingArguments. A recipe inlines it in its train section. Defaults (DefaultConfig)
// are HF's except the learning rate, which is the usual LoRA rate.
type Config struct {
	// LearningRate is the peak learning rate, reached after warmup. Default 2e-4, the
	// usual LoRA rate; full fine-tuning usually wants about 5e-5.
	LearningRate float64 `yaml:"learning_rate"`
	// LRScheduler is the decay after warmup: constant, linear or cosine. Default linear (HF).
	LRScheduler Scheduler `yaml:"lr_scheduler"`
	// WarmupSteps is the number of steps of linear warmup from 0. Default 0.
	WarmupSteps int `yaml:"warmup_steps"`
	// WarmupRatio, used when WarmupSteps is 0, sets the warmup to ceil(ratio · total
	// steps), in [0, 1). Default 0.
	WarmupRatio float64 `yaml:"warmup_ratio"`
	// WeightDecay is AdamW's decoupled weight decay. Default 0.
	WeightDecay float64 `yaml:"weight_decay"`
	// AdamBeta1 and AdamBeta2 are AdamW's moment decay rates (PyTorch's betas), in
	// [0, 1). Defaults 0.9 and 0.999.
	AdamBeta1 float64 `yaml:"adam_beta1"`
	AdamBeta2 float64 `yaml:"adam_beta2"`
	// AdamEpsilon is added to AdamW's denominator, > 0. Default 1e-8.
	AdamEpsilon float64 `yaml:"adam_epsilon"`
	// MaxGradNorm clips the global gradient norm; 0 disables clipping. Default 1.0 (HF).
	MaxGradNorm float64 `yaml:"max_grad_norm"`
}

// DefaultConfig returns the defaults documented on Config's fields.
func DefaultConfig() Config {
	return Config{
		LearningRate: 2e-4,
		LRScheduler:  SchedulerLinear,
		AdamBeta1:    0.9,
		AdamBeta2:    0.999,
		AdamEpsilon:  1e-8,
		MaxGradNorm:  1.0,
	}
}

// Validate returns every problem of c joined (nil when there is none); each message
// starts with the key it is about, e.g. "learning_rate: must be > 0, got 0".
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	if !(c.LearningRate > 0) || !finite(c.LearningRate) {
		bad("learning_rate", "must be > 0, got %g", c.LearningRate)
	}
	if !slices.Contains(schedulers, c.LRScheduler) {
		bad("lr_scheduler", "%v", choiceError(c.LRScheduler, schedulers))
	}
	if c.WarmupSteps < 0 {
		bad("warmup_steps", "must be ≥ 0, got %d", c.WarmupSteps)
	}
	if !(c.WarmupRatio >= 0 && c.WarmupRatio < 1) {
		bad("warmup_ratio", "must be in [0, 1), got %g", c.WarmupRatio)
	}
	if c.WarmupSteps > 0 && c.WarmupRatio > 0 {
		bad("warmup_ratio", "set either warmup_steps or warmup_ratio, not both")
	}
	if !(c.WeightDecay >= 0) || !finite(c.WeightDecay) {
		bad("weight_decay", "must be ≥ 0, got %g", c.WeightDecay)
	}
	if !(c.AdamBeta1 >= 0 && c.AdamBeta1 < 1) {
		bad("adam_beta1", "must be in [0, 1), got %g", c.AdamBeta1)
	}
	if !(c.AdamBeta2 >= 0 && c.AdamBeta2 < 1) {
		bad("adam_beta2", "must be in [0, 1), got %g", c.AdamBeta2)
	}
	if !(c.AdamEpsilon > 0) || !finite(c.AdamEpsilon) {
		bad("adam_epsilon", "must be > 0, got %g", c.AdamEpsilon)
	}
	if !(c.MaxGradNorm >= 0) || !finite(c.MaxGradNorm) {
		bad("max_grad_norm", "must be ≥ 0 (0 = no clipping), got %g", c.MaxGradNorm)
	}
	return errors.Join(errs...)
}

// Scheduler names a learning-rate schedule; see Schedule.
type Scheduler string

// The learning-rate schedules, each after a linear warmup from 0.
const (
	SchedulerConstant Scheduler = "constant"
	SchedulerLinear   Scheduler = "linear"
	SchedulerCosine   Scheduler = "cosine"
)

var schedulers = []Scheduler{SchedulerConstant, SchedulerLinear, SchedulerCosine}

// UnmarshalText sets s from text, rejecting an unknown schedule with the allowed list.
func (s *Scheduler) UnmarshalText(text []byte) error {
	v := Scheduler(text)
	if !slices.Contains(schedulers, v) {
		return choiceError(v, schedulers)
	}
	*s = v
	return nil
}

// choiceError says that v is not one of allowed, listing them.
func choiceError[T ~string](v T, allowed []T) error {
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	return fmt.Errorf("unknown value %q (allowed: %s)", v, strings.Join(names, ", "))
}
